#!/usr/bin/env bash
# Every GPU check and GPU figure of the trainer in one command, for a session lent a CUDA machine:
#
#     bash benchmarks/gpu_checks.sh [OUTDIR]      (default: $OUT, else ./gpu-out)
#
# Each step has its own time limit (a hang costs that step, not the rest) and its output is kept in
# OUTDIR/<step>.txt. Needs torch with CUDA, numpy, click, tqdm, scipy, pydantic (all default dependencies of nalm).
set -u
out=${1:-${OUT:-gpu-out}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"

step() {
    local name=$1 limit=$2
    shift 2
    echo "== $name ($*)"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt"
    echo "== $name: exit ${PIPESTATUS[0]}, $((SECONDS - t0)) s"
}

# Seconds each took on one H100 (2026-11-26): 52, 60, 40, 75, 5, 23, ~90 — about 6 minutes in all;
# check_cuda_graph and the --cuda-graph rows of the grouping steps added ~90 s on an H200.
step check_trainer 100 python3 benchmarks/check_cuda_trainer.py
step check_cuda_graph 120 python3 benchmarks/check_cuda_graph.py --sizes 100,1000 --iterations 1000
step grouping 170 python3 benchmarks/bench_grouping.py madsen2020 --profile full \
    --only 'block=main,model=NMU|NAU' --iterations 600 --group-runs 1000 --device cuda --cuda-graph
step grouping_primer 90 python3 benchmarks/bench_grouping.py primer2022 --profile full \
    --only 'block=addsub,model=NAU|NAC+' --iterations 300 --group-runs 1000 --device cuda --cuda-graph
# Eager only: with --compile (three sizes, two modes) this needs more than 3 minutes.
step bench_trainer 150 python3 benchmarks/bench_trainer.py --device cuda --sizes 1000,10000 \
    --iterations 1000
step check_train_batches 30 python3 benchmarks/check_cuda_train_batches.py
step pytest_cuda 50 python3 -m pytest -q -p no:cacheprovider tests/units/test_compile_device.py \
    tests/tasks/test_counter_rng.py
step check_compile 120 python3 benchmarks/check_cuda_compile.py
