#!/usr/bin/env bash
# Pack the real recordings the GPU machine's runs read into .devdata/ at the repo root:
#
#   bash benchmarks/device/prepare_data.sh [MNE_DATA]
#
# What: EEGMMIDB subjects S001-S005, runs R04, R08, R12 (imagined left / right fist), 15 EDF files
# (36.8 MiB), as ONE tarball in MNE's layout
#   .devdata/eegmmidb-S001-S005-R04R08R12.tar.xz  ->  MNE-eegbci-data/files/eegmmidb/1.0.0/SNNN/SNNNRrr.edf
# plus .devdata/SHA256SUMS of those 15 files (paths relative to the folder the tarball unpacks
# into; install_carried.sh checks them there with sha256sum -c).
#
# From: an unpacked MNE_DATA folder (first argument, else $MNE_DATA) that holds
# MNE-eegbci-data/files/eegmmidb/1.0.0/. Without one, the project's own data store is unpacked
# into /tmp/jeeg-data when this checkout has one beside it.
#
# Each file is checked against the official checksums: the data store's list when there is one,
# else the list MNE ships (mne/data/eegbci_checksums.txt, read from the mne wheel in .whl/ or from
# an installed mne). Idempotent: nothing is rewritten when the tarball already holds these files.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DEST="$ROOT/.devdata"
SUBJECTS=(S001 S002 S003 S004 S005)
RUNS=(R04 R08 R12)
NAME="eegmmidb-S001-S005-R04R08R12.tar.xz"
SUB="MNE-eegbci-data/files/eegmmidb/1.0.0"
STORE="$ROOT/../shared/data"   # the data store beside a developer's checkout (never named in messages)

die() { echo "prepare_data.sh: $*" >&2; exit 1; }
for tool in sha256sum tar xz; do command -v "$tool" >/dev/null 2>&1 || die "needs $tool"; done

SRC="${1:-${MNE_DATA:-}}"
if [[ -z "$SRC" && -f "$STORE/prepare.sh" ]]; then
  SRC="$(sh "$STORE/prepare.sh" /tmp/jeeg-data "${SUBJECTS[@]}" | tail -n 1)" \
    || die "could not unpack the recordings; set MNE_DATA to a folder with EEGMMIDB in MNE's layout"
fi
[[ -n "$SRC" ]] || die "no recordings: set MNE_DATA to a folder with EEGMMIDB in MNE's layout ($SUB/SNNN/SNNNRrr.edf), or pass it as the argument"
[[ -d "$SRC/$SUB" ]] || die "$SRC has no $SUB: set MNE_DATA to a folder with EEGMMIDB in MNE's layout"
SRC="$(cd "$SRC" && pwd)"

FILES=()
for s in "${SUBJECTS[@]}"; do
  for r in "${RUNS[@]}"; do
    f="$SUB/$s/$s$r.edf"
    [[ -f "$SRC/$f" ]] || die "$SRC lacks $f: set MNE_DATA to a folder with EEGMMIDB in MNE's layout (subjects ${SUBJECTS[*]}, runs ${RUNS[*]})"
    FILES+=("$f")
  done
done

TMP="$(mktemp -d)"
trap 'rm -rf -- "$TMP"' EXIT

# Checksums of the 15 files, as sha256sum writes them (relative to the unpacking folder).
(cd "$SRC" && sha256sum -- "${FILES[@]}") >"$TMP/SHA256SUMS"

# The official list, as "HASH  SNNN/SNNNRrr.edf" lines.
if [[ -f "$STORE/eegmmidb/SHA256SUMS" ]]; then
  OFFICIAL="the recordings' official checksums"
  cp "$STORE/eegmmidb/SHA256SUMS" "$TMP/official"
else
  OFFICIAL="MNE's eegbci_checksums.txt"
  shopt -s nullglob
  whl=("$ROOT"/.whl/mne-*.whl)
  python3 - "${whl[@]}" >"$TMP/official" <<'EOF' || true
import sys, zipfile
text = None
if len(sys.argv) > 1:
    with zipfile.ZipFile(sys.argv[1]) as z:
        text = z.read("mne/data/eegbci_checksums.txt").decode()
else:
    try:
        import importlib.resources as r
        text = (r.files("mne") / "data" / "eegbci_checksums.txt").read_text()
    except Exception:
        pass
for line in (text or "").splitlines():
    parts = line.split()
    if len(parts) == 2 and parts[0].endswith(".edf"):
        print(f"{parts[1]}  {parts[0]}")
EOF
fi
if [[ -s "$TMP/official" ]]; then
  while read -r hash path; do
    rel="${path#"$SUB/"}"
    want="$(awk -v p="$rel" '$2 == p { print $1; exit }' "$TMP/official")"
    [[ -n "$want" ]] || die "$rel is not in $OFFICIAL"
    [[ "$want" == "$hash" ]] || die "$SRC/$path does not match $OFFICIAL (corrupt or not the PhysioNet release)"
  done <"$TMP/SHA256SUMS"
  echo "15 files match $OFFICIAL" >&2
else
  echo "prepare_data.sh: warning: no official checksum list found (fetch the wheels first, or install mne); not verified" >&2
fi

mkdir -p "$DEST"
# Stale tarballs (another subset) go; carry.json (prepare_carry.sh) stays.
for f in "$DEST"/*.tar.xz; do
  if [[ -e "$f" && "${f##*/}" != "$NAME" ]]; then echo "removing stale ${f##*/}" >&2; rm -f -- "$f"; fi
done

if [[ -f "$DEST/$NAME" && -f "$DEST/SHA256SUMS" ]] && cmp -s "$TMP/SHA256SUMS" "$DEST/SHA256SUMS" \
    && [[ "$(xz -dc "$DEST/$NAME" | tar -tf - | grep '\.edf$' | sort)" == "$(printf '%s\n' "${FILES[@]}" | sort)" ]]; then
  echo "up to date: .devdata/$NAME" >&2
else
  echo "packing ${#FILES[@]} EDF files into .devdata/$NAME (xz -9, ~30 s)" >&2
  # Reproducible: sorted names, fixed owner and mtime.
  (cd "$SRC" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2009-09-09 00:00:00Z' \
      --mode='a=r,u+w' -cf - -- "${FILES[@]}") | xz -9 -T1 >"$TMP/$NAME"
  mv -- "$TMP/$NAME" "$DEST/$NAME"
  cp -- "$TMP/SHA256SUMS" "$DEST/SHA256SUMS"
fi
raw=$(cd "$SRC" && stat -c %s -- "${FILES[@]}" | awk '{ t += $1 } END { print t }')
packed=$(stat -c %s "$DEST/$NAME")
awk -v r="$raw" -v p="$packed" -v n="$NAME" \
  'BEGIN { printf ".devdata/%s: %.2f MiB (%.2f MiB of EDF unpacked)\n", n, p / 1048576, r / 1048576 }'
