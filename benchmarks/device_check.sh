#!/usr/bin/env bash
# The device check (issue 17, point 5): what this project measures on a GPU, in one call of at most
# 8 minutes. Whoever holds a GPU machine runs it first and commits what it writes:
#
#   bash benchmarks/device_check.sh [OUT]          # default OUT: benchmarks/results
#
# Writes OUT/<device>/{members_fit,members_temporal_conv,engine_loop,end_to_end,train_steps,attention}.json, the device's
# README.md table and device_check.log; then renders the benchmark block of docs/benchmarks.md.
#
# A GPU machine may have jax, flax, optax, orbax and chex but not mne: the missing wheels come from
# $JEEG_WHEELS (default benchmarks/wheels, git-ignored), filled beforehand on a machine with a
# package index by
#   pip download -d benchmarks/wheels mne wfdb edfio scikit-learn rich matplotlib filelock
# and carried along. Real recordings: $MNE_DATA, else prepare.sh of shared/data beside or inside
# the checkout (end_to_end is skipped without them). Each step has its own time limit; a step
# that runs out still leaves the others' results.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/results}"
T0=$(date +%s)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-/tmp/jeeg-jax-cache}"
mkdir -p /tmp/jeeg-device-check
LOG=/tmp/jeeg-device-check/device_check.log
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }
step() {  # step NAME LIMIT_S CMD...
  local name=$1 limit=$2; shift 2
  say "== $name $(date +%T) t=$(( $(date +%s) - T0 ))"
  timeout "$limit" "$@" 2>&1 | grep -v "^W[0-9]" | tee -a "$LOG"
  say "== $name rc=${PIPESTATUS[0]} t=$(( $(date +%s) - T0 ))"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$LOG"
if ! python -c "import mne, wfdb, sklearn, rich, matplotlib" 2>/dev/null; then
  say "installing missing wheels from ${JEEG_WHEELS:-benchmarks/wheels}"
  pip install -q --no-index --find-links "${JEEG_WHEELS:-benchmarks/wheels}" mne wfdb scikit-learn rich matplotlib \
    filelock 2>&1 | tail -3 | tee -a "$LOG"
fi
python -c "import jax, flax, optax, jeeg; print('jax', jax.__version__, 'flax', flax.__version__, jax.devices())" \
  2>&1 | tee -a "$LOG"
if [ -z "${MNE_DATA:-}" ]; then
  for p in ../shared/data/prepare.sh shared/data/prepare.sh; do
    if [ -f "$p" ]; then MNE_DATA="$(sh "$p" /tmp/jeeg-data S001 S002 S003 S004 S005 2>>"$LOG" | tail -n 1)"; break; fi
  done
fi
export MNE_DATA="${MNE_DATA:-}"

# 1. Members scaling of the compiled run, every model, K = 1, 8, 16, 32 (the GPU targets).
step members_fit 180 python benchmarks/members_fit.py --out "$OUT" --ks 1,8,16,32 --axes vmap \
  --models eegnet,stff_da,msc_t3am,utime,sst_emotionnet
# 1b. EEGNet / STFF-DA rows 1-2: the default spatial-filters-first form ("factored", the CPU's
#     4-5x) against the shifted sums that were the GPU default, K = 1, 8, 32 vmapped members.
step members_temporal_conv 45 python benchmarks/members_scaling.py --out "$OUT" --temporal-conv factored,shifted \
  --models eegnet,stff_da --ks 1,8,32 --repeats 5
# 2. The compiled run against the host loop it replaced, one member.
step engine_loop 45 python benchmarks/engine_loop.py --out "$OUT"
# 3. End to end: the within-subject main job on S001-S005, member-parallel against sequential.
if [ -n "$MNE_DATA" ]; then
  step end_to_end 100 python benchmarks/end_to_end.py --out "$OUT" --subjects 1-5
else
  say "== end_to_end skipped: no real recordings (set MNE_DATA)"
fi
# 4. Train steps against the PyTorch peers (if torch is here) and the attention cores.
step train_steps 60 python benchmarks/train_steps.py --out "$OUT"
step attention 40 python benchmarks/attention.py --out "$OUT"
step report 20 python benchmarks/report.py --results "$OUT" --readme docs/benchmarks.md
DEV="$(python -c 'import sys; sys.path.insert(0, "benchmarks"); import harness; print(harness.device_tag())')"
mkdir -p "$OUT/$DEV" && cp "$LOG" "$OUT/$DEV/device_check.log"
say "total t=$(( $(date +%s) - T0 )) s; results in $OUT/$DEV"
