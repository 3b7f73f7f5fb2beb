#!/bin/bash
# On the device machine: unpack the CUDA build that build_cuda.sh packed (carried as .device/cuda-build/) into
# $1 (default /tmp/cuda), so that $1/bin holds llama-bench, llama-fit-params and the libraries.
set -euo pipefail
DEST=${1:-/tmp/cuda}
PARTS=${PARTS:-.device/cuda-build}
mkdir -p $DEST && cat $PARTS/cuda-bin.tar.xz.part_* | xz -d | tar xf - -C $DEST
ls $DEST/bin | tr '\n' ' '; echo
