#!/usr/bin/env bash
# Build (or reuse) the venv in which `benchmarks/device_check.sh --rehearse` runs: the GPU image's
# Python packages as benchmarks/device/image.txt lists them (its jax and friends; no torch: the
# rehearsal's peers run in the peers venv), on Python 3.12 as there when this machine has it,
# and nothing that the image lacks (no mne: the carried wheels bring it in, as on the device).
#
#   PY=$(bash benchmarks/device/rehearse_env.sh | tail -n 1)
#
# DEST: ${JEEG_REHEARSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/jeeg/rehearse-venv}. Idempotent: a
# stamp of image.txt and the interpreter's version skips the install when nothing changed;
# otherwise the venv is rebuilt. Progress goes to stderr, the venv's python is the last stdout line.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="$HERE/image.txt"
DEST="${JEEG_REHEARSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/jeeg/rehearse-venv}"
log() { echo "[rehearse-env] $*" >&2; }

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for cand in python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys, venv' 2>/dev/null; then PYTHON=$cand; break; fi
  done
fi
[ -n "$PYTHON" ] || { log "error: no python3 found"; exit 1; }
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
case "$PYVER" in 3.12.*) ;; *) log "warning: Python $PYVER, not the image's 3.12: jax may be older than the image's" ;; esac
# The image's packages, less torch (the rehearsal's peers use the peers venv).
REQS="$(grep -v '^\s*#' "$IMAGE" | sed 's/#.*//; s/[[:space:]]//g' | grep -v '^$' | grep -viE '^torch([=<>]|$)' || true)"
STAMP="$( (echo "$PYVER"; echo "$REQS") | sha256sum | cut -c1-16)"
if [ -f "$DEST/.jeeg-rehearse-stamp" ] && [ "$(cat "$DEST/.jeeg-rehearse-stamp")" = "$STAMP" ] && [ -x "$DEST/bin/python" ]; then
  log "reusing $DEST (Python $PYVER)"
else
  log "building $DEST with Python $PYVER from $IMAGE"
  rm -rf "$DEST"
  "$PYTHON" -m venv "$DEST"
  "$DEST/bin/python" -m pip install -q --upgrade pip >&2
  # shellcheck disable=SC2086
  "$DEST/bin/python" -m pip install -q $REQS >"$DEST/.pip-install.log" 2>&1 \
    || { tail -20 "$DEST/.pip-install.log" >&2; log "error: pip install failed (log: $DEST/.pip-install.log)"; exit 1; }
  echo "$STAMP" > "$DEST/.jeeg-rehearse-stamp"
fi
echo "$DEST/bin/python"
