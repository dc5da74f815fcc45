#!/usr/bin/env bash
# GPU checks for a lent GPU machine (or any CUDA box): the training benchmark and a short end-to-end run of the
# engine on the GPU path (bf16 autocast, fused AdamW). Results go to ${OUT:-bench/results}.
#   bash bench/gpu_check.sh            # from the repo root
# On a machine without our venv, carry wheels for timm/smp (and numba + llvmlite: without them the CPU workers'
# grey pipelines fall back to Pillow, slower) in .whl/ — they are installed into /tmp/site first when present.
set -uo pipefail
OUT=${OUT:-bench/results}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)" | tee -a "$OUT/gpu.txt"
timeout 270 python3 bench/train.py --gpu --budget-s 220 --out "$OUT/bench_train.json" 2>&1 | tee "$OUT/bench_train.log"
# the engine on the GPU: tiny MAE pre-training, then fine-tuning from it, on synthetic data
export CXRVIT_CACHE=/tmp/cxrvit_cache
timeout 60 python3 -m cxrvit.cli pretrain --recipe PRETRAIN_VIT_S_TINY --device cuda --run-dir /tmp/gpu_pre \
  --set epochs=2 2>&1 | tail -25 | tee "$OUT/engine_gpu.log"
timeout 75 python3 -m cxrvit.cli finetune --recipe FINETUNE_VIT_S_NIH_TINY --device cuda --run-dir /tmp/gpu_ft \
  --init /tmp/gpu_pre/checkpoint-last.pth --set epochs=2 2>&1 | tail -40 | tee -a "$OUT/engine_gpu.log"
grep -h '"kind": "epoch"' /tmp/gpu_pre/log.jsonl /tmp/gpu_ft/log.jsonl | tail -6 | tee -a "$OUT/engine_gpu.log"
echo "done"
