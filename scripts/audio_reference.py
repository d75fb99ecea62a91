#!/usr/bin/python3
"""Independent numpy references for modelkit's audio feature extractors, written from what
transformers' feature extractors compute (audio_utils.py's spectrogram/mel_filter_bank, the
Whisper, Wav2Vec2 and AST feature extractors, and torchaudio's Kaldi fbank that AST calls).

usage: audio_reference.py KIND IN.f32 OUT.f32 [key=value ...]
  IN.f32   mono float32 samples (little-endian raw)
  OUT.f32  features, float32 raw, in the layout transformers returns for one utterance
  KIND     whisper   [n_mels=80 chunk_length=30 sampling_rate=16000 n_fft=400 hop=160 do_normalize=0]
           ast       [num_mel_bins=128 max_length=1024 sampling_rate=16000 mean=-4.2677393 std=4.5689974 do_normalize=1]
           wav2vec2  [target=0 do_normalize=1 mask=0 padding_value=0]
Prints the output shape on stdout, e.g. "1 80 3000".
"""
import sys

import numpy as np


def args_dict(items):
    out = {}
    for item in items:
        k, v = item.split("=", 1)
        out[k] = v
    return out


# ---------------------------------------------------------------- Whisper

def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    mels = 3.0 * f / 200.0
    logstep = 27.0 / np.log(6.4)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) * logstep, mels)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), 200.0 * m / 3.0)


def slaney_filters(n_fft, n_mels, sr, fmin, fmax):
    n_freq = 1 + n_fft // 2
    mel_pts = np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2)
    filt_hz = mel_to_hz_slaney(mel_pts)
    fft_hz = np.linspace(0, sr // 2, n_freq)
    diff = np.diff(filt_hz)
    slopes = filt_hz[None, :] - fft_hz[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    enorm = 2.0 / (filt_hz[2:n_mels + 2] - filt_hz[:n_mels])
    return fb * enorm[None, :]  # [n_freq, n_mels]


def whisper(x, a):
    n_mels = int(a.get("n_mels", 80))
    sr = int(a.get("sampling_rate", 16000))
    n_fft = int(a.get("n_fft", 400))
    hop = int(a.get("hop", 160))
    n_samples = int(a.get("chunk_length", 30)) * sr
    real = min(len(x), n_samples)
    w = np.zeros(n_samples, dtype=np.float32)
    w[:real] = x[:real]
    if int(a.get("do_normalize", 0)):
        seg = w[:real].astype(np.float64)
        w[:real] = ((seg - seg.mean()) / np.sqrt(seg.var() + 1e-7)).astype(np.float32)
    # spectrogram(center=True, pad_mode="reflect"), periodic Hann, power 2
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    padded = np.pad(w.astype(np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(padded) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = padded[idx] * window[None, :]
    spec = np.fft.rfft(frames, axis=1).astype(np.complex64)  # transformers stores complex64
    power = np.abs(spec.astype(np.complex128)) ** 2
    mel = np.maximum(1e-10, power @ slaney_filters(n_fft, n_mels, sr, 0.0, 8000.0))  # [frames, n_mels]
    log_spec = np.log10(mel).T[:, :-1]
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)[None]


# ---------------------------------------------------------------- AST (Kaldi fbank)

def kaldi_mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def kaldi_banks(num_bins, padded, sr, low=20.0, high=0.0):
    nyquist = 0.5 * sr
    if high <= 0:
        high += nyquist
    width = sr / padded
    lo, hi = kaldi_mel(low), kaldi_mel(high)
    delta = (hi - lo) / (num_bins + 1)
    b = np.arange(num_bins)[:, None]
    left, center, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
    mel = kaldi_mel(width * np.arange(padded // 2))[None, :]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1)))  # [num_bins, padded/2 + 1], Nyquist column zero


def ast(x, a):
    bins = int(a.get("num_mel_bins", 128))
    max_len = int(a.get("max_length", 1024))
    sr = int(a.get("sampling_rate", 16000))
    mean = float(a.get("mean", -4.2677393))
    std = float(a.get("std", 4.5689974))
    size = int(sr * 25.0 * 0.001)
    shift = int(sr * 10.0 * 0.001)
    padded = 1
    while padded < size:
        padded *= 2
    x = x.astype(np.float64)
    n = 0 if len(x) < size else 1 + (len(x) - size) // shift
    out = np.zeros((max_len, bins), dtype=np.float64)
    if n > 0:
        idx = np.arange(size)[None, :] + shift * np.arange(n)[:, None]
        fr = x[idx]
        fr = fr - fr.mean(axis=1, keepdims=True)                          # remove_dc_offset
        prev = np.concatenate([fr[:, :1], fr[:, :-1]], axis=1)
        fr = fr - 0.97 * prev                                             # preemphasis
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / (size - 1))  # hanning, symmetric
        fr = fr * window[None, :]
        fr = np.pad(fr, ((0, 0), (0, padded - size)))
        power = np.abs(np.fft.rfft(fr, axis=1)) ** 2
        fb = power @ kaldi_banks(bins, padded, sr).T
        fb = np.log(np.maximum(fb, np.finfo(np.float32).eps))
        k = min(n, max_len)
        out[:k] = fb[:k]
    if int(a.get("do_normalize", 1)):
        out = (out - mean) / (std * 2)
    return out.astype(np.float32)[None]


# ---------------------------------------------------------------- Wav2Vec2

def wav2vec2(x, a):
    target = int(a.get("target", 0)) or len(x)
    pad = float(a.get("padding_value", 0.0))
    real = min(len(x), target)
    v = np.full(target, pad, dtype=np.float64)
    v[:real] = x[:real]
    if int(a.get("do_normalize", 1)):
        length = real if int(a.get("mask", 0)) else target
        seg = v[:length]
        v[:length] = (seg - seg.mean()) / np.sqrt(seg.var() + 1e-7)
        v[length:] = pad
    return v.astype(np.float32)[None]


def main():
    kind, src, dst = sys.argv[1:4]
    a = args_dict(sys.argv[4:])
    x = np.fromfile(src, dtype="<f4")
    out = {"whisper": whisper, "ast": ast, "wav2vec2": wav2vec2}[kind](x, a)
    out.astype("<f4").tofile(dst)
    print(" ".join(str(d) for d in out.shape))


if __name__ == "__main__":
    main()
