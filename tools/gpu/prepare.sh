#!/bin/bash
# Here (not on the device): gather in $DEST (default /work/main/.device/speed, ignored by git) what a device run
# needs, since the device tool sends the main checkout plus the folders named in `carry`:
#   repo/          this worktree's app/, tests/bench/, tools/, main.py (the code under test)
#   llama_cpp/     the bindings' Python files (no libraries: the CUDA build's bin/ provides them)
#   whl/           pure-Python wheels the device image lacks (gguf, platformdirs, diskcache)
#   tokenizer.gguf the starter's tokenizer, for tests/bench/random_model.py --tokenizer-from
#   llama-src.tar.xz  llama.cpp from the llama-cpp-python 0.3.36 sdist, without docs, models and tests (4 MB)
set -euo pipefail
WT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=${DEST:-/work/main/.device/speed}
PY=${PY:-/work/main/.venv/bin/python}
SDIST=${SDIST:-/work/ref/llama_cpp_python-0.3.36/vendor}
mkdir -p $DEST/whl
rm -rf $DEST/repo && mkdir -p $DEST/repo
(cd $WT && git ls-files -co --exclude-standard app tests/__init__.py tests/bench tools main.py pyproject.toml \
  | tar cf - -T -) | tar xf - -C $DEST/repo
SITE=$($PY -c "import llama_cpp, os; print(os.path.dirname(llama_cpp.__file__))")
rm -rf $DEST/llama_cpp && mkdir -p $DEST/llama_cpp && (cd $SITE && find . -name '*.py' -not -path './server/*' \
  | tar cf - -T -) | tar xf - -C $DEST/llama_cpp
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 -d $DEST/whl gguf==0.19.0 platformdirs==4.14.9 diskcache==5.6.3
[ -f $DEST/tokenizer.gguf ] || (cd $WT && $PY tests/bench/random_model.py --tokenizer-only --out $DEST/tokenizer.gguf)
[ -f $DEST/llama-src.tar.xz ] || (cd $SDIST && tar cJf $DEST/llama-src.tar.xz \
  --exclude=llama.cpp/{models,docs,.github,media,tests,examples,benches,gguf-py,conversion,pocs,tools/ui} \
  --exclude=llama.cpp/ggml/src/ggml-{sycl,opencl,hexagon,vulkan,webgpu,openvino,et,metal} llama.cpp)
du -sh $DEST $DEST/*
