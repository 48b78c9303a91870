#!/usr/bin/env bash
# Generates the benchmark's publisher fixture once: 20 s of FLV with 1280x720p30
# H.264 (libx264, about 2.5 Mbit/s, a keyframe every 2 s exactly) and AAC 48 kHz
# stereo 128 kbit/s, what rtmp-load replays on every connection.
# Usage: make-fixture.sh [OUT.flv]   (default: build/bench/fixture-720p.flv in the repository)
# An existing file is kept; delete it to make a new one.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$repo/build/bench/fixture-720p.flv}"
if [ -s "$out" ]; then
  echo "make-fixture: $out exists"
  exit 0
fi
command -v ffmpeg >/dev/null 2>&1 || { echo "make-fixture: ffmpeg not found" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# -g/-keyint_min 60 with -sc_threshold 0: a keyframe every 60 frames and only
# there, so every 2 s segment starts on one and the loop point (20 s) is one too.
# Light noise over testsrc2 keeps the encoder near its target bitrate (a bare test
# pattern compresses to a fraction of it). -threads 2: a shared 2-core machine.
ffmpeg -hide_banner -loglevel error -nostdin \
  -f lavfi -i "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 20 \
  -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
  -b:v 2500k -maxrate 2500k -bufsize 5000k \
  -g 60 -keyint_min 60 -sc_threshold 0 -threads 2 \
  -c:a aac -b:a 128k -ar 48000 -ac 2 \
  -f flv "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "make-fixture: wrote $out"
