#!/usr/bin/env bash
# Builds vde_blast (vde_blast.c): the frame generator and counter of bench/api_load.ts, attached
# to a VDE switch directory with libvdeplug.
# Usage: build_vde_blast.sh OUT_PATH      (installs gcc, libc6-dev, libvdeplug-dev when missing)
set -euo pipefail
out=${1:?usage: build_vde_blast.sh OUT_PATH}
here=$(cd "$(dirname "$0")" && pwd)
missing=()
command -v cc >/dev/null || missing+=(gcc libc6-dev)
[ -f /usr/include/libvdeplug.h ] || missing+=(libvdeplug-dev)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cc -O2 -Wall -Wextra -o "$out" "$here/vde_blast.c" -lvdeplug -lpthread
echo "built $out"
