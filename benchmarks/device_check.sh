#!/usr/bin/env bash
# The device check: what this project measures on a lent GPU, in one call of at most 6 minutes.
#
#   bash benchmarks/device_check.sh [--commit COMMIT]   # on the GPU machine, through the device tool
#   bash benchmarks/device_check.sh --rehearse [--out DIR]   # here, on the CPU: every step at tiny sizes
#
# Before a device call, once here: `bash benchmarks/device/prepare_carry.sh` (the wheels the GPU
# image lacks into .whl/, the EEGMMIDB subset into .devdata/, the tree's commit into
# .devdata/COMMIT, the size of what travels checked). The device tool's run: this command as it
# is, carry [".whl", ".devdata"], timeout_s 420 (docs/benchmarks.md#the-device-check).
#
# Output, all under $OUT (the folder the device tool returns; --out DIR or benchmarks/results off
# the device), at most 8 files, none deeper than one folder:
#   $OUT/device_check.log          everything printed, from the first line
#   $OUT/<device>/<benchmark>.json members_fit, end_to_end, train_steps, attention: each rewritten
#                                  after every row, so a step stopped by its limit keeps its rows
#   $OUT/<device>/README.md        the rendered tables, the GPU targets first
# Nothing else in the tree is written (docs/benchmarks.md is rendered here, after the results
# are fetched and committed under benchmarks/results/<device>/).
#
# The steps, most important first, each with its own time limit inside one overall budget
# (--budget S, default 360 s on the device): a. members scaling K = 1 and 32 of EEGNet, STFF-DA,
# MSC-T3AM (vmap and map); b. the cross-subject main job, member-parallel against sequential;
# c. EEGNet's and the MSC-T3AM/EEG-Conformer train steps against their torch peers on the same GPU;
# d. the attention cores; e. the SST-EmotionNet and U-Time train steps against their peers.
#
# Device mode uses python3 (the image's) with JAX_PLATFORMS=cuda (a CUDA plugin that fails to
# load stops the check instead of falling back to the CPU), the carried wheels on PYTHONPATH and
# the peers on the image's own CUDA torch. --rehearse runs the same steps on this CPU at tiny
# sizes in a venv built like the GPU image (benchmarks/device/rehearse_env.sh: Python 3.12, the
# image's jax, no mne until the carried wheels add it), with deprecations in jeeg's and the
# benchmarks' own code as errors (JEEG_STRICT_WARNINGS=1), then checks what it wrote; CI runs it.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE=device COMMIT="" DEST="" BUDGET=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rehearse) MODE=rehearse ;;
    --commit) COMMIT="${2:-}"; shift ;;
    --out) DEST="${2:-}"; shift ;;
    --budget) BUDGET="${2:-}"; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "device_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$MODE" = rehearse ] && [ -z "$DEST" ]; then   # a fresh folder of its own, never benchmarks/results
  DEST="${TMPDIR:-/tmp}/jeeg-device-rehearsal"
  rm -rf "$DEST"
fi
DEST="${DEST:-${OUT:-benchmarks/results}}"
mkdir -p "$DEST" && DEST=$(cd "$DEST" && pwd) || { echo "device_check.sh: cannot write to '$DEST'" >&2; exit 2; }
if [ "$MODE" = rehearse ] && [ -n "$(ls -A "$DEST")" ]; then
  echo "device_check.sh: --out $DEST is not empty; the rehearsal checks every file it finds there" >&2; exit 2
fi
LOG="$DEST/device_check.log"
exec > >(tee -a "$LOG") 2>&1   # the log exists from here on, and comes back even if the call is cut short
T0=$(date +%s)
say() { echo "[device_check t=$(( $(date +%s) - T0 ))s] $*"; }
die() { say "STOP: $*"; exit "${2:-3}"; }
say "start $(date -u +%FT%TZ), mode $MODE, out $DEST"

if [ "$MODE" = device ]; then
  # The commit is the caller's: --commit, else the one prepare_carry.sh wrote beside the carried data.
  [ -z "$COMMIT" ] && [ -s .devdata/COMMIT ] && COMMIT="$(cat .devdata/COMMIT)"
  [ -n "$COMMIT" ] || die "no --commit and no .devdata/COMMIT: run bash benchmarks/device/prepare_carry.sh here first" 2
  BUDGET="${BUDGET:-360}"
  PY=python3
  export JAX_PLATFORMS=cuda
  export JEEG_PEERS_PYTHON="$(command -v python3)"   # the image's torch, on the same GPU
  SCALE=full
else
  BUDGET="${BUDGET:-1500}"
  PY="$(bash benchmarks/device/rehearse_env.sh | tail -n 1)" || die "could not build the rehearsal venv"
  [ -x "$PY" ] || die "rehearsal venv python '$PY' not found"
  [ -z "$COMMIT" ] && [ -s .devdata/COMMIT ] && COMMIT="$(cat .devdata/COMMIT)"
  COMMIT="${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}"
  export JAX_PLATFORMS=cpu
  export JEEG_STRICT_WARNINGS=1
  export JEEG_PEERS_PYTHONPATH=""   # the peers venv keeps its own packages, not the GPU image's carried wheels
  if [ -z "${JEEG_PEERS_PYTHON:-}" ] && [ -x "${XDG_CACHE_HOME:-$HOME/.cache}/jeeg/peers-venv/bin/python" ]; then
    export JEEG_PEERS_PYTHON="${XDG_CACHE_HOME:-$HOME/.cache}/jeeg/peers-venv/bin/python"
  fi
  SCALE=tiny
  # The GPU image has no mne: neither may the rehearsal venv before the carried wheels are installed.
  if PYTHONPATH= "$PY" -c "import mne" 2>/dev/null; then die "the rehearsal venv has mne; the GPU image does not"; fi
fi
export JEEG_COMMIT="$COMMIT" PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-/tmp/jeeg-jax-cache}"
say "python $PY, commit $COMMIT, budget ${BUDGET} s, sizes $SCALE"

# The carried wheels (PYTHONPATH) and the EEGMMIDB subset (MNE_DATA), checksums verified.
export PATH="$(dirname "$(command -v "$PY")"):$PATH"   # python3, here and inside the steps, is $PY
# shellcheck source=device/install_carried.sh
. benchmarks/device/install_carried.sh || die "the carried wheels or data are missing or damaged"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv

# Preflight: the platform JAX really runs on, every import the steps need, and the versions.
"$PY" - <<'EOF' || die "preflight failed (see above): nothing was measured"
import os, sys
sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/peers")
import jax
want = os.environ["JAX_PLATFORMS"].replace("cuda", "gpu")
devs = jax.devices()
if devs[0].platform != want:
    sys.exit(f"JAX runs on {devs[0].platform}, not {want}: refusing to measure")
import jeeg, jeeg.cv, jeeg.engine, mne, pyriemann  # noqa: F401,E401
import harness
from jeeg import host
print("devices", devs, "\nversions", host.versions(), "\npython", sys.version.split()[0], "commit", host.git_commit())
peer = os.environ.get("JEEG_PEERS_PYTHON")
print("peers python", peer or "none: the torch peers will be recorded as not run")
EOF

REMAIN() { echo $(( T0 + BUDGET - $(date +%s) )); }
RESERVE=20   # kept for the report and the check of what was written
step() {  # step NAME LIMIT_S ARGS...: one benchmark under min(LIMIT_S, what the budget leaves)
  local name=$1 limit=$2; shift 2
  local left=$(( $(REMAIN) - RESERVE ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then say "== $name SKIPPED: the budget is spent"; return; fi
  say "== $name (limit ${limit} s): $*"
  timeout --kill-after=5 "$limit" "$PY" "$@"
  local rc=$?
  [ $rc -eq 124 ] && say "== $name TIMED OUT at ${limit} s: its JSON keeps the rows it finished" \
                  || say "== $name rc=$rc"
}

OUTARG=(--out "$DEST")
# Sizes and limits, from the H200 log of 2026-11-27 (benchmarks/results/NVIDIA_H200/session-2026-11-27.log):
# setup took 17 s; EEGNet's step compiled in 5.3 s and SST-EmotionNet's in 46.6 s; MSC-T3AM's had not
# compiled after a minute (since then its program shrank from 61.9k to 46.5k HLO instructions); the
# attention rows took ~120 s at every size (here: three sizes); the 25-member end-to-end pair took
# 35 + 28 s. Each step runs its most important rows first (members: EEGNet, then STFF-DA, then
# MSC-T3AM; train steps: EEGNet before the MSC-T3AM pair, U-Time before SST-EmotionNet), so a limit
# cuts the least important rows.
if [ "$SCALE" = full ]; then
  step members_fit 100 benchmarks/members_fit.py "${OUTARG[@]}" --models eegnet,stff_da,msc_t3am --ks 1,32 --axes vmap,map
  step end_to_end 75 benchmarks/end_to_end.py "${OUTARG[@]}" --subjects 1-5 --seeds 0,1,2,3,4
  step train_steps 40 benchmarks/train_steps.py "${OUTARG[@]}" --pairs eegnet,msc_transformer_vs_eegconformer
  step attention 45 benchmarks/attention.py "${OUTARG[@]}" --scales model,x10,x40-wide --repeats 3
  step train_steps_sst_utime 75 benchmarks/train_steps.py "${OUTARG[@]}" --merge --no-matmul --pairs utime,sst_emotionnet
else
  # MSC-T3AM's 4 compiles would add ~95 s to CI; its vmapped and mapped fits are tested in
  # tests/test_accelerator_paths.py.
  step members_fit 300 benchmarks/members_fit.py "${OUTARG[@]}" --quick --models eegnet,stff_da --ks 1,2 \
    --axes vmap,map --epochs 1 --n-train 32
  step end_to_end 200 benchmarks/end_to_end.py "${OUTARG[@]}" --quick
  step train_steps 200 benchmarks/train_steps.py "${OUTARG[@]}" --quick --pairs eegnet,msc_transformer_vs_eegconformer
  step attention 150 benchmarks/attention.py "${OUTARG[@]}" --quick --scales model,x10-wide
  step train_steps_sst_utime 300 benchmarks/train_steps.py "${OUTARG[@]}" --quick --merge --no-matmul \
    --pairs utime,sst_emotionnet
fi

say "== report"
timeout 60 "$PY" benchmarks/report.py --results "$DEST" --no-plots --targets >/dev/null || say "the report failed"
"$PY" benchmarks/device/check_out.py "$DEST" --mode "$MODE"
rc=$?
say "total $(( $(date +%s) - T0 )) s (budget $BUDGET s); rc=$rc; results in $DEST"
exit $rc
