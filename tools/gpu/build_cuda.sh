#!/bin/bash
# On the device machine: build the llama.cpp of the llama-cpp-python sdist with CUDA (sm_90), shared libraries
# and RPC, and pack its bin/ (llama-bench, llama-fit-params, ggml-rpc-server and the libraries llama-cpp-python
# loads through LLAMA_CPP_LIB_PATH) into $OUT/cuda-bin.tar.xz.part_* (15 MiB pieces: the device tool returns
# files of at most 16 MiB). Later calls carry the pieces and unpack them with tools/gpu/unpack_cuda.sh.
#   SRC: the trimmed source tarball (tools/gpu/prepare.sh makes it); BUILD: where to build.
#   CCCL_WHEEL: an nvidia-cuda-cccl wheel (13.2 or later: CCCL 3.2) whose headers replace the CUDA toolkit's.
#     With CCCL 3.2, ggml's top-k (the first step of the default sampler chain in the graph) is CUB's DeviceTopK;
#     with the CCCL 3.0 of CUDA 13.0 it falls back to sorting the whole vocabulary for every token.
set -euo pipefail
SRC=${SRC:-.device/speed/llama-src.tar.xz}
BUILD=${BUILD:-/tmp/llama}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nvcc --version | tail -1; nproc
mkdir -p $BUILD && tar xJf $SRC -C $BUILD
cd $BUILD/llama.cpp
start=$(date +%s)
CUDA_FLAGS=""
if [ -n "${CCCL_WHEEL:-}" ]; then
  mkdir -p $BUILD/cccl && python3 -m zipfile -e $CCCL_WHEEL $BUILD/cccl
  CUDA_FLAGS="-I$BUILD/cccl/nvidia/cu13/include/cccl"
  grep "define CCCL_VERSION" $BUILD/cccl/nvidia/cu13/include/cccl/cuda/std/__cccl/version.h
fi
# Portable x86 kernels (AVX2/FMA/F16C, no -march=native): the packed build must run on the next machine too.
cmake -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DGGML_RPC=ON -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_OPENSSL=OFF ${CUDA_FLAGS:+-DCMAKE_CUDA_FLAGS="$CUDA_FLAGS"} > cmake.log 2>&1 || { tail -30 cmake.log; exit 1; }
cmake --build build -j16 --target llama llama-bench llama-fit-params ggml-rpc-server > build.log 2>&1 \
  || { tail -40 build.log; exit 1; }
echo "build seconds: $(( $(date +%s) - start ))"
echo "CUB DeviceTopK symbols: $(strings build/bin/libggml-cuda.so | grep -c DeviceTopK || true)"
ls -la build/bin
cp cmake.log build/bin/cmake.log
tar cf - -C build bin | xz -T16 -6 | split -b 15M - $OUT/cuda-bin.tar.xz.part_
ls -la $OUT
