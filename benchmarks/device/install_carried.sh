#!/usr/bin/env bash
# Install what travelled with the working tree (.whl/ and .devdata/, made here by
# prepare_carry.sh) on the GPU machine, or in a CPU rehearsal of it. Meant to be sourced:
#
#   source benchmarks/device/install_carried.sh && bash benchmarks/device_check.sh
#
# (run as a program instead, it does the same and prints the two export lines for eval:
#   eval "$(bash benchmarks/device/install_carried.sh)")
#
# (a) .whl/*.whl -> ${JEEG_SITE:-/tmp/jeeg-site}, with the device tool's command
#       python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target SITE .whl/*.whl
#     (skipped when SITE already holds exactly these wheels). torcheeg 1.1.3's wheel also installs
#     its unit tests as a top-level package `test`, which would shadow the standard library's
#     `test` package on PYTHONPATH: that folder alone is removed again.
# (b) .devdata/*.tar.xz -> ${JEEG_DATA:-/tmp/jeeg-data}, checked with sha256sum -c .devdata/SHA256SUMS
#     (skipped when the files there already pass).
# Then exports
#   PYTHONPATH=<repo root>:SITE[:the PYTHONPATH before]   (jeeg from the checkout, not installed)
#   MNE_DATA=DATA                                          (only when .devdata/ travelled)
# and checks that python3 imports jeeg, mne and pyriemann. A failing step stops with one line
# saying what to run here (on the machine with a package index). Uses python3 only; safe to
# source from a shell with set -u (its own set -euo pipefail holds only in the child bash that
# does the work).

# The work runs as its own bash process (so that set -e holds in it, which it would not in a
# function called from a tested context); the sourced part only exports.
if [[ "${_JEEG_CARRIED_WORK:-}" == 1 && "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  root=$1 site=$2 data=$3
  fix="run here: bash benchmarks/device/prepare_carry.sh, and carry .whl and .devdata"
  fail() { echo "install_carried.sh: $*; $fix" >&2; exit 1; }
  cd "$root"
  shopt -s nullglob

  # (a) wheels
  wheels=(.whl/*.whl)
  if ((${#wheels[@]})); then
    stamp="$(for w in "${wheels[@]}"; do echo "${w##*/} $(stat -c %s "$w")"; done)"
    if [[ -f "$site/.jeeg-wheels" && "$(cat "$site/.jeeg-wheels")" == "$stamp" ]]; then
      echo "install_carried.sh: ${#wheels[@]} wheels already in $site" >&2
    else
      echo "install_carried.sh: installing ${#wheels[@]} wheels into $site" >&2
      rm -f -- "$site/.jeeg-wheels"
      python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        "${wheels[@]}" >&2 || fail "pip could not install .whl/*.whl into $site"
      for rec in "$site"/torcheeg-*.dist-info/RECORD; do
        if [[ -d "$site/test" ]] && grep -q '^test/' "$rec"; then rm -rf -- "$site/test"; fi
      done
      echo "$stamp" >"$site/.jeeg-wheels"
    fi
  elif [[ -d .whl ]]; then
    fail ".whl/ holds no wheels"
  fi

  # (b) recordings
  tarballs=(.devdata/*.tar.xz)
  if ((${#tarballs[@]})); then
    [[ -f .devdata/SHA256SUMS ]] || fail ".devdata/SHA256SUMS is missing"
    mkdir -p "$data"
    if ! (cd "$data" && sha256sum -c --quiet --status "$root/.devdata/SHA256SUMS") 2>/dev/null; then
      echo "install_carried.sh: unpacking ${tarballs[*]} into $data" >&2
      for t in "${tarballs[@]}"; do
        xz -dc "$t" | tar -xf - -C "$data" || fail "could not unpack $t"
      done
      if ! (cd "$data" && sha256sum -c --quiet --status "$root/.devdata/SHA256SUMS") 2>/dev/null; then
        bad="$(cd "$data" && sha256sum -c "$root/.devdata/SHA256SUMS" 2>/dev/null | grep -cv ': OK$' || true)"
        fail "$bad of $(grep -c . .devdata/SHA256SUMS) recordings unpacked into $data do not match .devdata/SHA256SUMS"
      fi
    fi
    echo "install_carried.sh: $(grep -c . .devdata/SHA256SUMS) EDF files verified in $data" >&2
    echo "data=$data"
  elif [[ -d .devdata ]]; then
    fail ".devdata/ holds no recordings (*.tar.xz)"
  else
    echo "install_carried.sh: no .devdata/ travelled; MNE_DATA left as it was" >&2
  fi
  exit 0
fi

_jeeg_carried_main() {
  local root site data out pp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)" || return 1
  site="${JEEG_SITE:-/tmp/jeeg-site}"
  data="${JEEG_DATA:-/tmp/jeeg-data}"
  out="$(_JEEG_CARRIED_WORK=1 bash "$root/benchmarks/device/install_carried.sh" "$root" "$site" "$data")" || return 1
  pp="$root"
  [[ -d "$root/.whl" ]] && pp="$pp:$site"
  local IFS=: p
  for p in ${PYTHONPATH:-}; do  # the PYTHONPATH before, less these two (sourcing twice adds nothing)
    [[ -n "$p" && "$p" != "$root" && "$p" != "$site" ]] && pp="$pp:$p"
  done
  unset IFS
  if ! PYTHONPATH="$pp" python3 -c "import jeeg, mne, pyriemann" 2>/dev/null; then
    echo "install_carried.sh: python3 ($(command -v python3)) cannot import jeeg, mne and pyriemann with" \
      "PYTHONPATH=$pp; run here: bash benchmarks/device/prepare_carry.sh, and carry .whl and .devdata" >&2
    return 1
  fi
  export PYTHONPATH="$pp"
  echo "export PYTHONPATH=$pp"
  if [[ "$out" == *data=* ]]; then
    export MNE_DATA="${out##*data=}"
    echo "export MNE_DATA=$MNE_DATA"
  fi
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then  # sourced: export into the caller's shell
  if _jeeg_carried_main >&2; then _jeeg_carried_rc=0; else _jeeg_carried_rc=1; fi
  unset -f _jeeg_carried_main
  if ((_jeeg_carried_rc)); then unset _jeeg_carried_rc; return 1; fi
  unset _jeeg_carried_rc
else  # run: print the export lines for eval
  set -euo pipefail
  _jeeg_carried_main
fi
