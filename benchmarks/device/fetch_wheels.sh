#!/usr/bin/env bash
# Download exactly the wheels of benchmarks/device/wheels.txt into .whl/ at the repo root, for the
# GPU machine's CPython 3.12 on manylinux x86_64 (the device tool's README: pip download
# --no-deps --only-binary=:all: ...). Run here, where pip reaches PyPI:
#
#   bash benchmarks/device/fetch_wheels.sh
#
# Idempotent: a wheel already in .whl/ is kept; a file in .whl/ that is not in the list (another
# version, a package no longer listed) is removed. A package that PyPI has only as an sdist
# (torcheeg 1.1.3) is built here with `pip wheel --no-deps`, and refused unless the wheel is pure
# Python (py3-none-any). Prints each wheel's size and the total.
#
# Environment: PYTHON  interpreter whose pip downloads (default: a python3.12 that runs, else python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIST="$HERE/wheels.txt"
DEST="$ROOT/.whl"

die() { echo "fetch_wheels.sh: $*" >&2; exit 1; }

if [[ -z "${PYTHON:-}" ]]; then  # a python3.12 that runs (a pyenv shim may not), else python3
  PYTHON=python3
  for c in python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if "$c" -c '' >/dev/null 2>&1; then PYTHON="$c"; break; fi
  done
fi
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "'$PYTHON -m pip' does not run (set PYTHON=...)"

# name==version per line, comments and blank lines dropped.
mapfile -t REQS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$')
((${#REQS[@]})) || die "no requirements in $LIST"

PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
PIPQ=(--quiet --disable-pip-version-check --no-input --progress-bar off)

# A wheel file name's distribution and version, normalised (PEP 503 / 427): "name==version".
norm() { echo "$1" | tr 'A-Z' 'a-z' | sed -E 's/[-_.]+/_/g'; }
wheel_key() {  # wheel_key FILE.whl -> normalised name==version
  local base="${1##*/}"; base="${base%.whl}"
  local name="${base%%-*}" rest="${base#*-}"
  echo "$(norm "$name")==${rest%%-*}"
}

mkdir -p "$DEST"
declare -A WANT=()
for req in "${REQS[@]}"; do
  [[ "$req" == *==* ]] || die "'$req' in $LIST: pin it as name==version"
  WANT["$(norm "${req%%==*}")==${req#*==}"]="$req"
done

# Remove stale files: anything in .whl/ that is not a wanted wheel.
shopt -s nullglob
for f in "$DEST"/*; do
  if [[ "$f" != *.whl || -z "${WANT[$(wheel_key "$f")]+x}" ]]; then
    echo "removing stale ${f##*/}" >&2
    rm -rf -- "$f"
  fi
done

have() {  # have KEY: a wheel for KEY is already in .whl/
  local f
  for f in "$DEST"/*.whl; do [[ "$(wheel_key "$f")" == "$1" ]] && return 0; done
  return 1
}

TMP="$(mktemp -d)"
trap 'rm -rf -- "$TMP"' EXIT
for key in "${!WANT[@]}"; do
  req="${WANT[$key]}"
  have "$key" && continue
  echo "downloading $req" >&2
  rm -rf -- "$TMP/dl" "$TMP/build"; mkdir -p "$TMP/dl"
  if ! "$PYTHON" -m pip download "${PIPQ[@]}" --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp "${PLATFORMS[@]}" -d "$TMP/dl" "$req" 2>"$TMP/err"; then
    if ! grep -q "No matching distribution" "$TMP/err"; then
      cat "$TMP/err" >&2; die "pip download $req failed"
    fi
    # No wheel on the index: build one from the sdist (pure-python packages only).
    echo "  no wheel on the index; building one from the sdist with pip wheel --no-deps" >&2
    "$PYTHON" -m pip wheel "${PIPQ[@]}" --no-deps --no-binary=:all: -w "$TMP/build" "$req" >"$TMP/err" 2>&1 \
      || { cat "$TMP/err" >&2; die "pip wheel $req failed"; }
    built=("$TMP"/build/*.whl)
    ((${#built[@]} == 1)) || die "pip wheel $req made ${#built[@]} wheels"
    [[ "${built[0]}" == *-py3-none-any.whl || "${built[0]}" == *-py2.py3-none-any.whl ]] \
      || die "$req built as ${built[0]##*/}, not pure Python: it would not run on the GPU machine"
    mv -- "${built[0]}" "$TMP/dl/"
  fi
  for f in "$TMP"/dl/*.whl; do
    [[ "$(wheel_key "$f")" == "$key" ]] || die "pip fetched ${f##*/} for $req"
    mv -- "$f" "$DEST/"
  done
done

# Exactly one wheel per listed requirement, nothing else.
for key in "${!WANT[@]}"; do have "$key" || die "no wheel for ${WANT[$key]} in $DEST"; done
n=0 total=0
for f in "$DEST"/*.whl; do
  size=$(stat -c %s "$f"); total=$((total + size)); n=$((n + 1))
  printf '%10d  %s\n' "$size" "${f##*/}"
done
((n == ${#WANT[@]})) || die "$n wheels in $DEST for ${#WANT[@]} requirements"
awk -v t="$total" -v n="$n" 'BEGIN { printf "%d wheels, %d bytes (%.2f MiB) in .whl/\n", n, t, t / 1048576 }'
