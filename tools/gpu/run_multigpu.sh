#!/bin/bash
# On a device machine with two GPUs (kind nvidia-h200-x2), from the main checkout's root: issue 15's benchmarks.
#   bash .device/multigpu/repo/tools/gpu/run_multigpu.sh STEP...
# Steps: check, model (an 8B-shaped Q4_K_M), bench (tests/bench/bench_multi_gpu.py: layer split with a VRAM cap,
# and two RPC servers, against llama-bench), app (`main.py rpc-server` ×2 and `chat --rpc`, `recommend` with a cap).
# Carry .device/multigpu (tools/gpu/prepare.sh with DEST=...) and .device/cuda-build. Results go to $OUT.
set -u
export SPEED=$PWD/.device/multigpu
source $SPEED/repo/tools/gpu/env.sh
M=${M:-/tmp/m}; mkdir -p $M
cd $SPEED/repo
T=$SPEED/tokenizer.gguf
MODEL=$M/llama-3-8b-Q4_K_M.gguf
for step in "$@"; do
  start=$(date +%s)
  echo "=== $step"
  case $step in
    check)
      nvidia-smi --query-gpu=index,name,memory.used,memory.total,driver_version --format=csv,noheader; nvidia-smi topo -m | head -4
      python3 -c "import llama_cpp as L; print('offload', L.llama_supports_gpu_offload(), 'rpc', L.llama_supports_rpc())"
      python3 -c "import huggingface_hub, httpx2, psutil, pynvml; print('hub, psutil, NVML: present')" 
      python3 main.py hardware ;;
    model)
      [ -f $MODEL ] || python3 tests/bench/random_model.py --shape llama-3-8b --type Q4_K_M --tokenizer-from $T --out $MODEL ;;
    bench)
      python3 tests/bench/bench_multi_gpu.py $MODEL --mode ${MODE:-both} --cap-gb ${CAP:-5} --rounds ${ROUNDS:-3} \
        --json $OUT/multi-gpu.json 2>&1 | tee $OUT/multi-gpu.md ;;
    app)
      python3 main.py hardware; python3 main.py recommend $MODEL --ctx 4096 2>&1 | tail -5
      CUDA_VISIBLE_DEVICES=0 python3 main.py rpc-server --port 50252 > $OUT/rpc-a.log 2>&1 &
      A=$!
      CUDA_VISIBLE_DEVICES=1 python3 main.py rpc-server --port 50253 > $OUT/rpc-b.log 2>&1 &
      B=$!
      sleep 8; cat $OUT/rpc-a.log
      if python3 -c "import app.core.hub.network_log" 2>/dev/null; then
        CUDA_VISIBLE_DEVICES= python3 main.py chat $MODEL --rpc 127.0.0.1:50252,127.0.0.1:50253 --prompt "Hello" \
          --max-tokens 32 --temperature 0 --ctx 4096 --json 2>&1 | tail -c 2500
      else echo "huggingface_hub is not on this machine: chat --rpc (its connection list) skipped"; fi
      # SIGTERM: a background job of a non-interactive shell ignores SIGINT, so Ctrl+C's signal would not arrive
      kill -TERM $A $B; wait $A $B; tail -3 $OUT/rpc-a.log ;;
  esac
  echo "=== $step: $(( $(date +%s) - start )) s"
done
