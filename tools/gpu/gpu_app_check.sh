#!/bin/bash
# On the device machine: the app's own GPU paths — automatic placement (chat --gpu-layers auto) and the
# engine's VRAM readout through NVML. Needs .gpu/ as gpu_run.sh does.
set -u
PY=${PY:-python3}; SITE=${SITE:-/tmp/site}; export PYTHONUNBUFFERED=1
if [ ! -d "$SITE/llama_cpp" ]; then
  mkdir -p $SITE && tar xJf .gpu/llama_cuda_site.tar.xz -C $SITE
  $PY -m pip install -q --no-index --no-deps --no-compile --target $SITE .gpu/*.whl
fi
export PYTHONPATH=$SITE:.
M=/tmp/m; mkdir -p $M
$PY tests/bench/random_model.py --shape llama-3.2-1b --tokenizer-from .gpu/tokenizer.gguf --out $M/1b-F16.gguf
echo "== chat --gpu-layers auto (F16 1B)"
$PY main.py chat $M/1b-F16.gguf --prompt "Hello there" --max-tokens 64 --temperature 0 --json 2>/dev/null | grep -E "n_gpu_layers|tokens_per_second|generated|error|message|detail" | cut -c1-3000
echo "== engine VRAM readout while loaded"
$PY tools/gpu/engine_vram_check.py $M/1b-F16.gguf 2>&1 | grep -E "^plan|^loaded with|FAILED"
