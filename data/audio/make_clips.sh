#!/bin/sh
# Regenerates the default calibration clips in this folder (see README.md): speech synthesized
# with Debian's espeak-ng in several languages and voices, and environment-like sounds and
# noise synthesized with sox. Every clip: 16 kHz, mono, 16-bit PCM WAV. Deterministic for
# given espeak-ng and sox versions (sox noise is seeded with -R).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Every clip gets a pink-noise floor at about -56 dBFS, as a real recording has: exact digital
# silence (synthesized pauses, fades to zero) would teach a model's log-spectrum a range that
# recordings never reach.
floor() {
  seconds="$(soxi -D "$1")"
  sox -R -n -r 16000 -c 1 -b 16 "$tmp/floor.wav" synth "$seconds" pinknoise vol 0.0015
  sox -m -v 1 "$1" -v 1 "$tmp/floor.wav" -b 16 "$tmp/mixed.wav"
  mv "$tmp/mixed.wav" "$1"
}

# speech NAME VOICE SPEED PITCH TEXT
speech() {
  espeak-ng -v "$2" -s "$3" -p "$4" -w "$tmp/$1.raw.wav" "$5"
  # espeak-ng writes 22050 Hz; resample, trim the leading/trailing silence to 0.1 s, normalize.
  sox -R "$tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "$here/speech_$1.wav" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.1 0.1 norm -3
  floor "$here/speech_$1.wav"
}

speech en_us_male        en-us          175 50 "The quick brown fox jumps over the lazy dog."
speech en_gb_female      en-gb+f3       165 60 "Please turn off your phone before the meeting."
speech en_us_whisper     en-us+whisper  165 50 "Can you hear me? The battery is low."
speech en_scotland_slow  en-gb-scotland 130 40 "Seven hundred and twenty three people."
speech de_male           de             175 45 "Der Zug nach Berlin hat Verspätung."
speech fr_female         fr-fr+f2       170 65 "Il fait beau, allons nous promener."
speech es_male_fast      es             210 50 "El equipo ganó en el último minuto."
speech it_female         it+f4          165 70 "Vorrei un caffè e un cornetto, per favore."
speech pt_br_male        pt-br          170 40 "O novo hospital abre amanhã."
speech ru_female         ru+f1          165 60 "Сегодня вечером будет сильный дождь."
speech hi_male           hi             165 50 "आज मौसम बहुत सुहावना है।"
speech cmn_female        cmn+f3         165 60 "我们明天上午九点集合。"

# sound NAME SECONDS SOX-EFFECTS... (from a silent input)
sound() {
  name="$1"; seconds="$2"; shift 2
  sox -R -n -r 16000 -c 1 -b 16 "$here/sound_$name.wav" synth "$seconds" "$@"
  floor "$here/sound_$name.wav"
}

sound rain        1.5 pinknoise vol 0.35 lowpass 3000 tremolo 13 20
sound wind        1.5 brownnoise vol 0.5 lowpass 600 tremolo 0.7 70
sound white_noise 0.8 whitenoise vol 0.2
sound hum         1.2 brownnoise sine mix 50 sine mix 100 vol 0.3 lowpass 400
sound bell        1.2 pluck 880 pluck mix 1320 vol 0.6 fade q 0 1.2 1.1
sound chirps      1.2 sine 2500-4500 vol 0.3 tremolo 8 90
sound siren       1.5 sine 600:900 vol 0.3
sound knocks      1.2 square 90 vol 0.4 tremolo 3 100 lowpass 800
sound chord       1.2 pluck A3 pluck mix C4 pluck mix E4 vol 0.6 fade q 0 1.2 1.0
sound dial_tone   0.8 sine 350 sine mix 440 vol 0.4

ls -l "$here"/*.wav | awk '{s += $5} END {print "make_clips: " NR " clips, " s " bytes"}'
