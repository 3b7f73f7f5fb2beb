#!/bin/bash
# On the device machine, from the main checkout's root: QuantDesk's benchmarks against llama.cpp's own tools.
#   bash .device/speed/repo/tools/gpu/run_benchmarks.sh STEP...
# Steps: models (write the random-weight models), speed-gpu, speed-cpu (the GPU hidden), memory, caps, app.
# Results (JSON and logs) go to $OUT; models to $M (/tmp/m).
set -u
source .device/speed/repo/tools/gpu/env.sh
M=${M:-/tmp/m}; mkdir -p $M
cd $SPEED/repo
T=$SPEED/tokenizer.gguf
model() {  # shape type
  [ -f $M/$1-$2.gguf ] || python3 tests/bench/random_model.py --shape $1 --type $2 --tokenizer-from $T --out $M/$1-$2.gguf
}
for step in "$@"; do
  start=$(date +%s)
  echo "=== $step"
  case $step in
    check)
      python3 -c "import llama_cpp as L; print('offload', L.llama_supports_gpu_offload()); print(L.llama_print_system_info().decode())"
      nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm,clocks.mem --format=csv,noheader
      df -h /tmp $M | tail -2; free -g | head -2; nproc; ldd $LLAMA_CPP_LIB_PATH/libggml-cuda.so | grep -E "cuda|cublas" ;;
    models)
      for s in llama-3.2-1b llama-3-8b; do for t in Q4_K_M Q8_0 F16; do model $s $t; done; done ;;
    models-final)
      for t in Q4_K_M Q8_0 F16; do model llama-3.2-1b $t; done
      for m in llama-3-8b:Q4_K_M llama-3-8b:F16 qwen2.5-7b:Q4_K_M gemma-2-9b:Q4_K_M; do model ${m%:*} ${m#*:}; done ;;
    speed-gpu-final)
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf $M/llama-3-8b-F16.gguf \
        --gpu-layers -1 --rounds 3 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu.json 2>&1 | tee $OUT/speed-gpu.md
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-Q4_K_M.gguf --threads 1 \
        --gpu-layers -1 --rounds 3 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu-t1.json 2>&1 | tail -4 ;;
    models-all)
      for t in Q4_K_M Q8_0 F16; do model llama-3.2-1b $t; done
      for s in qwen2.5-7b gemma-2-9b mistral-7b; do model $s Q4_K_M; done
      for t in Q4_K_M Q8_0 F16; do model llama-3-8b $t; done
      df -h $M | tail -1 ;;
    pp-diag)  # which setting separates the engine's pp512 from llama-bench's (tests/bench/pp_variants.py)
      for t in F16 Q4_K_M; do echo "llama-3.2-1b $t"; python3 tests/bench/pp_variants.py $M/llama-3.2-1b-$t.gguf \
        2>/dev/null | tee -a $OUT/pp-diag.md; done ;;
    speed-all)
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf $M/llama-3-8b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 3 --pp-rounds 10 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu.json \
        2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu.md ;;
    chain-diag)  # what each sampler costs in the graph (tests/bench/chain_variants.py)
      python3 tests/bench/chain_variants.py $M/llama-3.2-1b-Q4_K_M.gguf 2>/dev/null | tee -a $OUT/chain-diag.md ;;
    speed-held)  # shapes no speed constant was fitted on
      python3 tests/bench/bench_engine_speed.py $M/{qwen2.5-7b,gemma-2-9b,mistral-7b}-Q4_K_M.gguf \
        --gpu-layers -1 --rounds 3 --pp-rounds 5 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu-held.json \
        2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu-held.md ;;
    speed-cpu16)  # the device's processor, the GPU hidden
      CUDA_VISIBLE_DEVICES= python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0}.gguf \
        --gpu-layers 0 --rounds 2 --pp-rounds 3 --no-interleave --json $OUT/speed-cpu16.json 2>&1 | tee $OUT/speed-cpu16.md ;;
    models-held)
      for s in qwen2.5-7b gemma-2-9b mistral-7b; do model $s Q4_K_M; done ;;
    speed-gpu)
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf $M/llama-3-8b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 3 --no-interleave --diagnose --bandwidth 4800 --json $OUT/speed-gpu.json 2>&1 | tee $OUT/speed-gpu.md ;;
    speed-cpu)
      CUDA_VISIBLE_DEVICES= python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,F16}.gguf \
        --gpu-layers 0 --rounds 2 --no-interleave --json $OUT/speed-cpu.json 2>&1 | tee $OUT/speed-cpu.md
      CUDA_VISIBLE_DEVICES= QUANTDESK_BACKEND_SAMPLING=on python3 tests/bench/bench_engine_speed.py \
        $M/llama-3.2-1b-Q4_K_M.gguf --gpu-layers 0 --rounds 2 --no-interleave --json $OUT/speed-cpu-backend.json \
        2>&1 | tee $OUT/speed-cpu-backend.md ;;
    memory)
      python3 tests/bench/bench_estimate_accuracy.py --device gpu --models $M --tokenizer $T \
        --json $OUT/memory-gpu.json 2>&1 | tee $OUT/memory-gpu.md ;;
    caps)
      python3 tests/bench/bench_vram_cap.py --models $M --tokenizer $T --json $OUT/caps.json 2>&1 | tee $OUT/caps.md ;;
    models-1b)
      for t in Q4_K_M Q8_0 F16; do model llama-3.2-1b $t; done ;;
    speed-gpu-1b8b)  # llama-bench's tg at the reply's depth; each side's runs back to back (a GPU idle between
      # two processes clocks down: round by round, whoever comes second after the gap loses up to 40 % of pp512)
      for t in Q4_K_M Q8_0 F16; do model llama-3-8b $t; done
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf $M/llama-3-8b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 5 --pp-rounds 10 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu.json \
        2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu.md ;;
    speed-gpu-1b)  # speed-gpu-1b8b's 1B half
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 5 --pp-rounds 10 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu-1b.json \
        2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu-1b.md ;;
    speed-gpu-8b)  # speed-gpu-1b8b's 8B half
      for t in Q4_K_M Q8_0 F16; do model llama-3-8b $t; done
      python3 tests/bench/bench_engine_speed.py $M/llama-3-8b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 5 --pp-rounds 10 --no-interleave --bandwidth 4800 --json $OUT/speed-gpu-8b.json \
        2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu-8b.md ;;
    speed-gpu-processes)  # 1B and 8B, each side in 4 processes in turn (a process's pp keeps to one of two levels)
      for t in Q4_K_M Q8_0 F16; do model llama-3-8b $t; done
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf $M/llama-3-8b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 3 --pp-rounds 5 --processes 4 --no-interleave --bandwidth 4800 \
        --json $OUT/speed-gpu.json 2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu.md ;;
    speed-gpu-1b-processes)  # the 1B files alone, each side in 8 processes in turn
      python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-{Q4_K_M,Q8_0,F16}.gguf \
        --gpu-layers -1 --rounds 3 --pp-rounds 5 --processes 8 --no-interleave --bandwidth 4800 \
        --json $OUT/speed-gpu-1b-8p.json 2>&1 | grep -v "^ggml_cuda_init\|^  Device" | tee $OUT/speed-gpu-1b-8p.md ;;
    speed-cpu16-processes)  # the device's processor, the GPU hidden; round by round, 3 engine processes
      model llama-3.2-1b Q4_K_M
      CUDA_VISIBLE_DEVICES= python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-Q4_K_M.gguf --gpu-layers 0 \
        --rounds 2 --processes 3 --json $OUT/speed-cpu16-processes.json 2>&1 | tee $OUT/speed-cpu16-processes.md ;;
    models-profile)
      for t in Q4_K_M F16; do model llama-3.2-1b $t; done; model mistral-7b F16 ;;
    profile)  # where a token's time goes in the reply loop (tests/bench/reply_loop_profile.py)
      for t in Q4_K_M F16; do python3 tests/bench/reply_loop_profile.py $M/llama-3.2-1b-$t.gguf --rounds 5 \
        2>/dev/null | tee -a $OUT/profile.md; done ;;
    profile-decode)  # the profile with llama-bench's own loop on the engine's context (decode only), 7 rounds
      for t in Q4_K_M Q8_0; do python3 tests/bench/reply_loop_profile.py $M/llama-3.2-1b-$t.gguf --rounds 7 \
        2>/dev/null | tee -a $OUT/profile-decode.md; done ;;
    profile-ctx)  # the decode-only loop at several context sizes (llama-bench's context is its prompt + depth + tg)
      for t in Q4_K_M Q8_0; do python3 tests/bench/reply_loop_profile.py $M/llama-3.2-1b-$t.gguf --rounds 5 \
        --contexts 256,512,1024,2048,8192,32768 2>/dev/null | tee -a $OUT/profile-ctx.md; done ;;
    chain-split)  # where the sampler chain is best split between the graph and the processor (chain_variants.py)
      for t in Q4_K_M Q8_0 F16; do python3 tests/bench/chain_variants.py $M/llama-3.2-1b-$t.gguf --rounds 7 \
        2>/dev/null | tee -a $OUT/chain-split.md; done ;;
    memory-f16)  # float matrices on the GPU: shapes the RAM constant was not fitted on
      for m in llama-3.2-1b mistral-7b; do python3 tests/bench/bench_estimate_accuracy.py --device gpu --models $M \
        --tokenizer $T --only $m --types F16 --json $OUT/memory-f16-$m.json 2>&1 | tee -a $OUT/memory-f16.md; done ;;
    speed-cpu16-interleaved)  # the device's processor, the GPU hidden; llama-bench and the engine round by round
      CUDA_VISIBLE_DEVICES= python3 tests/bench/bench_engine_speed.py $M/llama-3.2-1b-Q4_K_M.gguf \
        --gpu-layers 0 --rounds 5 --json $OUT/speed-cpu16-interleaved.json 2>&1 | tee $OUT/speed-cpu16-interleaved.md ;;
    app)
      python3 main.py hardware --json > $OUT/hardware.json; head -c 1500 $OUT/hardware.json; echo
      python3 -c "from app.core.engine.build_info import describe_build; print(describe_build())"
      python3 main.py chat $M/llama-3.2-1b-F16.gguf --prompt "Hello there" --max-tokens 48 --temperature 0 --json \
        2>&1 | tail -c 1500 ;;
  esac
  echo "=== $step: $(( $(date +%s) - start )) s"
done
