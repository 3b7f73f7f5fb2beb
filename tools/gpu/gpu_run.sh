#!/bin/bash
# QuantDesk GPU checks on the device machine. SHAPES and GPU_LAYERS can be overridden for a local dry run.
set -u
SHAPES=${SHAPES:-"llama-3.2-1b llama-3-8b"}
GPU_LAYERS=${GPU_LAYERS:--1}
PY=${PY:-python3}
SITE=${SITE:-/tmp/site}
export PYTHONUNBUFFERED=1
if [ ! -d "$SITE/llama_cpp" ]; then
  mkdir -p $SITE && tar xJf .gpu/llama_cuda_site.tar.xz -C $SITE
  $PY -m pip install -q --no-index --no-deps --no-compile --target $SITE .gpu/*.whl
fi
export PYTHONPATH=$SITE:.
M=${M:-/tmp/m}; mkdir -p $M
echo "== doctor"; $PY main.py doctor --no-model
for shape in $SHAPES; do
  echo "== $shape: write F16, quantize Q4_K_M"
  t0=$(date +%s)
  $PY tests/bench/random_model.py --shape $shape --tokenizer-from .gpu/tokenizer.gguf --out $M/$shape-F16.gguf
  $PY - "$M/$shape-F16.gguf" "$M/$shape-Q4_K_M.gguf" <<'PYEOF'
import sys, time, llama_cpp as L
p = L.llama_model_quantize_default_params(); p.ftype = L.LLAMA_FTYPE_MOSTLY_Q4_K_M; p.nthread = 0
t = time.time(); rc = L.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p)
print(f"quantize rc={rc} in {time.time() - t:.1f} s")
PYEOF
  echo "prep seconds: $(( $(date +%s) - t0 ))"
  for q in Q4_K_M F16; do
    echo "== engine speed $shape $q gpu_layers=$GPU_LAYERS"
    $PY tests/bench/bench_engine_speed.py $M/$shape-$q.gguf --gpu-layers $GPU_LAYERS --tokens 300 --rounds 3 2>&1 | tail -6
  done
  if [ -f tests/bench/gpu_check.py ]; then
    echo "== gpu_check $shape Q4_K_M"; $PY tests/bench/gpu_check.py $M/$shape-Q4_K_M.gguf 2>&1 | tail -60
  fi
  rm -f $M/$shape-F16.gguf
done
