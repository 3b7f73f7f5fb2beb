#!/bin/bash
# Build llama-cpp-python with CUDA (sm_90) on the device machine, smoke-test it, return the wheel in chunks.
set -e
REPO=$(pwd)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
nvcc --version | tail -1; python3 --version; nproc
mkdir -p /tmp/b /tmp/wh && cd /tmp/b && tar xzf $REPO/.whl/llama_cpp_python-0.3.36.tar.gz && cd llama_cpp_python-0.3.36
start=$(date +%s)
CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_NATIVE=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=16 python3 -m pip wheel -q --no-deps --no-build-isolation -w /tmp/wh . 2>&1 | tail -5
echo "build seconds: $(( $(date +%s) - start ))"
ls -la /tmp/wh
python3 -m pip install -q --no-index --no-deps --target /tmp/site /tmp/wh/*.whl $REPO/.whl/*.whl
cd $REPO
PYTHONPATH=/tmp/site python3 -c "import llama_cpp; print('gpu offload:', llama_cpp.llama_supports_gpu_offload()); print(llama_cpp.llama_print_system_info().decode())"
PYTHONPATH=/tmp/site:. python3 main.py doctor --no-model --json || true
cd /tmp/wh && split -b 15m *.whl $OUT/llama_cuda_whl.part_ && ls -la $OUT
