#!/usr/bin/env bash
# One lease, ≤ 7 minutes on one H200: the real pre-training path with the GPU-resident input and with CPU
# workers, the fine-tune path with RandAugment, the compiled step alone, MFU and projections of the paper's runs.
#   bash bench/gpu_e2e.sh                # from the repo root; writes $OUT/gpu_e2e.json (OUT defaults to bench/results)
# As bench/gpu_check.sh: wheels for timm/smp, numba + llvmlite (the CPU workers' exact Pillow kernels) in .whl/
# are installed into /tmp/site first when present.
set -uo pipefail
OUT=${OUT:-bench/results}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 CXRVIT_CACHE=/tmp/cxrvit_cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
timeout 410 python3 bench/gpu_e2e.py --out "$OUT" --budget-s 390 2>&1 | tee "$OUT/gpu_e2e.log"
ls -la "$OUT"
