#!/bin/bash
# Here (not on the device): fill /work/main/.device/multigpu (ignored by git) for tools/gpu/run_multigpu.sh, reusing
# what tools/gpu/prepare.sh gathered in .device/speed (the bindings' Python files, pure-Python wheels, tokenizer):
# the device tool sends the main checkout plus the folders named in `carry`, so this worktree's code goes in repo/.
set -euo pipefail
WT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${SRC:-/work/main/.device/speed}
DEST=${DEST:-/work/main/.device/multigpu}
mkdir -p $DEST
cp -r $SRC/whl $SRC/llama_cpp $SRC/tokenizer.gguf $DEST/
rm -rf $DEST/repo && mkdir -p $DEST/repo
(cd $WT && git ls-files -co --exclude-standard app tests/__init__.py tests/bench tools main.py pyproject.toml \
  | tar cf - -T -) | tar xf - -C $DEST/repo
du -sh $DEST
