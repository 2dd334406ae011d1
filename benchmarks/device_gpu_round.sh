#!/usr/bin/env bash
# The GPU figures of one lent-H200 call (docs/benchmarks.md, issues 18 and 15), in this order:
# single-row PREDICT against the serving path (bench_predict.py), the GPU path (bench_gpu.py
# --profile: warm fp32/bf16/compiled at 1M and 10M rows, cold, the identity function, and warm
# fp32/bf16 again with a turn a model call for the same-run comparison), then the GPU tests under
# the default sandbox (INDB_SANDBOX unset: auto). Run from the repository root with the missing
# wheels in .whl/; figures and logs go to $OUT (or ./device-out).
#
#   bash benchmarks/device_gpu_round.sh [TAG]
source benchmarks/device_setup.sh  # $out, $tag, the wheels installed
unset INDB_SANDBOX
nvidia-smi -L
python3 -c 'import torch, duckdb; print(torch.__version__, duckdb.__version__, torch.cuda.get_device_name())'
# each part stopped by SIGINT at its limit: the benchmarks report what they measured by then
timeout -s INT 45 python3 benchmarks/bench_predict.py --calls 1000 \
    --json "$out/predict_h200_$tag.json" 2>&1 | tee "$out/predict.log"
timeout -s INT 330 python3 benchmarks/bench_gpu.py --profile --runs 3 \
    --json "$out/gpu_h200_$tag.json" 2>&1 | tee "$out/bench_gpu.log"
timeout -s INT 150 python3 -m pytest -q -p no:cacheprovider -m gpu --timeout 100 tests/test_gpu.py \
    2>&1 | tee "$out/pytest_gpu.log"
