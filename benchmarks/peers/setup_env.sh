#!/usr/bin/env bash
# Create (or reuse) the PyTorch peer-model venv described by requirements.txt.
#
#   benchmarks/peers/setup_env.sh [DEST]
#
# DEST defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/jeeg/peers-venv.  Idempotent: if
# DEST/.jeeg-peers-stamp matches the hash of the requirement files (+ interpreter
# version), nothing is installed.  Otherwise an existing venv at DEST is deleted and
# rebuilt (a non-venv, non-empty DEST is refused).  pip's output goes to
# DEST/.pip-install.log and is shown only on failure.  Progress goes to stderr; the
# last line on stdout is the venv's python path:
#
#   PY=$(benchmarks/peers/setup_env.sh | tail -n 1)
#
# Environment: PYTHON       interpreter to build the venv from (default: python3.11 if on
#                           PATH, else python3); it must be CPython 3.11.
#              TORCH_INDEX  PyTorch CPU wheel index (default https://download.pytorch.org/whl/cpu;
#                           empty = don't use it).  It is probed first and, if reachable, used
#                           for the torch wheel only (step 1, --no-deps); otherwise the +cpu
#                           wheel must come from pip's own configuration (e.g. find-links).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQ="$HERE/requirements.txt"
REQ_TORCH="$HERE/requirements-torch.txt"
TORCH_INDEX="${TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
DEST="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/jeeg/peers-venv}"
STAMP_NAME=".jeeg-peers-stamp"

log() { echo "[peers-env] $*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found (set PYTHON=...)"
[[ -f "$REQ" && -f "$REQ_TORCH" ]] || die "missing $REQ or $REQ_TORCH"

PYVER="$("$PYTHON" -c 'import platform, sys; print(platform.python_implementation(), "%d.%d" % sys.version_info[:2])')" \
  || die "cannot run $PYTHON"
[[ "$PYVER" == "CPython 3.11" ]] \
  || die "$PYTHON is $PYVER; the pins in requirements.txt need CPython 3.11 (scipy 1.10.1 has no newer wheels)"

# Hash of interpreter + requirement files, computed with Python (sha256sum is not everywhere).
WANT="$("$PYTHON" -c '
import hashlib, sys
h = hashlib.sha256(sys.argv[1].encode())
for path in sys.argv[2:]:
    h.update(open(path, "rb").read())
print(h.hexdigest())
' "$PYVER" "$REQ" "$REQ_TORCH")"

mkdir -p "$(dirname "$DEST")"
DEST="$(cd "$(dirname "$DEST")" && pwd)/$(basename "$DEST")"
VPY="$DEST/bin/python"

# Serialise concurrent callers (e.g. a test and a benchmark starting together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DEST.lock"
  flock 9
fi

if [[ -f "$DEST/$STAMP_NAME" && "$(cat "$DEST/$STAMP_NAME")" == "$WANT" ]] && "$VPY" -c '' 2>/dev/null; then
  log "up to date: $DEST"
  echo "$VPY"
  exit 0
fi

if [[ -e "$DEST" ]]; then
  if [[ -f "$DEST/pyvenv.cfg" ]]; then
    log "requirements changed or install incomplete; rebuilding $DEST"
    rm -rf -- "$DEST"
  elif [[ -d "$DEST" && -z "$(ls -A "$DEST")" ]]; then
    :
  else
    die "$DEST exists and is not a venv; refusing to overwrite it"
  fi
fi

log "creating venv at $DEST with $PYTHON ($PYVER)"
"$PYTHON" -m venv "$DEST" \
  || die "'$PYTHON -m venv' failed (on Debian/Ubuntu: apt-get install python3.11-venv)"

PIPLOG="$DEST/.pip-install.log"
: >"$PIPLOG"
PIP=("$VPY" -m pip install --quiet --disable-pip-version-check --no-input --progress-bar off)
run_pip() {
  if ! "${PIP[@]}" "$@" >>"$PIPLOG" 2>&1; then
    tail -n 40 "$PIPLOG" >&2
    die "pip install failed (full log: $PIPLOG)"
  fi
}
START=$SECONDS

# Step 1: torch alone.  An unreachable extra index costs pip ~8 s of retries for *every*
# package it looks up, so the index is probed first and is only ever used for torch.
TORCH_ARGS=()
if [[ -n "$TORCH_INDEX" ]]; then
  if "$PYTHON" -c '
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=10).close()
' "$TORCH_INDEX" 2>/dev/null; then
    TORCH_ARGS=(--extra-index-url "$TORCH_INDEX")
  else
    log "torch index $TORCH_INDEX unreachable; relying on pip's configured sources for torch"
  fi
fi
log "installing torch (requirements-torch.txt)"
run_pip --no-deps ${TORCH_ARGS[@]+"${TORCH_ARGS[@]}"} -r "$REQ_TORCH"

# Step 2: everything else; torch is already satisfied, so no extra index is needed.
log "installing requirements.txt (a few minutes on a cold cache; log: $PIPLOG)"
run_pip -r "$REQ"

# Smoke test before stamping: the libraries import.
if ! "$VPY" -c '
import torch, torcheeg, braindecode.models, scipy, numpy
print("torch", torch.__version__, "torcheeg", torcheeg.__version__, "braindecode",
      braindecode.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__)
' >>"$PIPLOG" 2>&1; then
  tail -n 40 "$PIPLOG" >&2
  die "installed venv failed its import check (log: $PIPLOG)"
fi

echo "$WANT" >"$DEST/$STAMP_NAME"
log "done in $((SECONDS - START))s: $(tail -n 1 "$PIPLOG")"
echo "$VPY"
