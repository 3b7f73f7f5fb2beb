# On the device machine, sourced from the main checkout's root: Python packages, the CUDA build and the
# environment QuantDesk's code and benchmarks run with there. SPEED: the folder prepare.sh filled.
SPEED=${SPEED:-$PWD/.device/speed}
CUDA_DIR=${CUDA_DIR:-/tmp/cuda}
if [ ! -d /tmp/site/gguf ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $SPEED/whl/*.whl
fi
rm -rf /tmp/site/llama_cpp && cp -r $SPEED/llama_cpp /tmp/site/llama_cpp
if [ ! -f $CUDA_DIR/bin/libllama.so ]; then
  if [ -f /tmp/llama/llama.cpp/build/bin/libllama.so ]; then  # built by an earlier call on this machine
    mkdir -p $CUDA_DIR && cp -r /tmp/llama/llama.cpp/build/bin $CUDA_DIR/
  else
    bash $SPEED/repo/tools/gpu/unpack_cuda.sh $CUDA_DIR
  fi
fi
export PYTHONPATH=/tmp/site:$SPEED/repo
export LLAMA_CPP_LIB_PATH=$CUDA_DIR/bin QUANTDESK_LLAMA_TOOLS=$CUDA_DIR/bin
export LD_LIBRARY_PATH=$CUDA_DIR/bin:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export QUANTDESK_DATA_DIR=/tmp/qd-data QUANTDESK_CONFIG_DIR=/tmp/qd-config PYTHONUNBUFFERED=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
mkdir -p /tmp/qd-data /tmp/qd-config
