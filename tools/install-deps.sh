#!/usr/bin/env bash
# Installs the Debian 12 packages Souk Live needs to build, run and test.
# Idempotent: only packages that are missing are installed; uses sudo when not root.
# Usage: install-deps.sh [fuzz|bench]
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ccache pkg-config
  # libraries
  libboost1.74-dev nlohmann-json3-dev libsqlite3-dev libspdlog-dev libsodium-dev
  libcli11-dev libtomlplusplus-dev doctest-dev libcpp-httplib-dev librtmp-dev
  libavformat-dev libavcodec-dev libavutil-dev
  # real peers and tools used by tests (prometheus: its promtool checks GET /metrics;
  # the daemon it also installs is not used)
  ffmpeg sqlite3 curl prometheus
  # jq: the README walk-through reads JSON answers with it
  jq
  # the edge test: nginx-example.conf in front (TLS, HLS cache, RTMPS through the
  # stream module), with a certificate made by openssl
  nginx libnginx-mod-stream openssl
  # the browser test: hls.js in headless Chromium (driven from Node by playwright-core)
  chromium
)
# `install-deps.sh fuzz` adds clang and its libFuzzer runtime (for `make fuzz`).
if [ "${1:-}" = "fuzz" ]; then
  packages+=(clang libclang-rt-14-dev)
fi
# `install-deps.sh tidy` adds clang-tidy (for `make tidy`).
if [ "${1:-}" = "tidy" ]; then
  packages+=(clang-tidy)
fi
# `install-deps.sh bench` adds the benchmark's peers (for `make bench`): nginx's
# RTMP module (nginx itself is above; the reference ingest and file server), wrk
# (HTTP load), strace (the load generator's writes against real clients').
if [ "${1:-}" = "bench" ]; then
  packages+=(libnginx-mod-rtmp wrk strace)
fi
# Node.js and npm from Debian only when there is no node at all (a newer one,
# e.g. NodeSource's with its own npm, is kept).
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
