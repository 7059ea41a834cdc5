#!/usr/bin/env bash
# One-time preparation, here (where pip reaches PyPI), of what a GPU call carries:
#
#   bash benchmarks/device/prepare_carry.sh [MNE_DATA]
#
# Runs fetch_wheels.sh (.whl/) and prepare_data.sh (.devdata/; the optional argument is passed on),
# then adds up what would travel to the device machine: the working tree that goes anyway
# (git ls-files -co --exclude-standard: tracked files plus untracked files git does not ignore)
# and the two carried, ignored folders .whl and .devdata. Prints each part in MiB and the total,
# writes them to .devdata/carry.json (and the commit, +changes if jeeg/ or benchmarks/ differ, to .devdata/COMMIT), and fails if the total is over 60 MiB: the device tool's
# limit is 64 MiB a call, and 4 MiB are kept as a margin for results, logs and edits made
# before the call.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIMIT_MIB=64
MARGIN_MIB=4
cd "$ROOT"

bash "$HERE/fetch_wheels.sh"
bash "$HERE/prepare_data.sh" "$@"

# The commit the carried tree was prepared at (what the device's results are stamped with).
# (jeeg.host.git_commit's form: short hash, +changes where jeeg/ or benchmarks/ differ from it)
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- jeeg benchmarks ':!benchmarks/results' || commit="$commit+changes"
echo "$commit" >.devdata/COMMIT
echo "commit $commit -> .devdata/COMMIT" >&2

sum_files() { { xargs -0 -r stat -c %s -- 2>/dev/null || true; } | awk '{ t += $1 } END { print t + 0 }'; }
# Tracked files deleted in the working tree are listed by ls-files but travel as nothing.
tree=$(git ls-files -z -co --exclude-standard | sum_files)
tree_n=$(git ls-files -z -co --exclude-standard | tr -cd '\0' | wc -c)
whl=$(find .whl -type f -print0 | sum_files)
dev=$(find .devdata -type f ! -name carry.json -print0 | sum_files)  # carry.json: a few hundred bytes more
total=$((tree + whl + dev))

python3 - "$tree" "$tree_n" "$whl" "$dev" "$total" "$LIMIT_MIB" "$MARGIN_MIB" <<'EOF'
import json, sys
tree, tree_n, whl, dev, total, limit, margin = map(int, sys.argv[1:])
mib = lambda b: b / 2**20
rows = [(f"working tree ({tree_n} files: git ls-files -co --exclude-standard)", tree),
        (".whl (carry)", whl), (".devdata (carry)", dev)]
for name, b in rows:
    print(f"{mib(b):8.2f} MiB  {name}")
print(f"{mib(total):8.2f} MiB  total; allowed {limit - margin} MiB ({limit} MiB limit less a {margin} MiB margin)")
json.dump({"working_tree_bytes": tree, "working_tree_files": tree_n, "whl_bytes": whl, "devdata_bytes": dev,
           "total_bytes": total, "total_mib": round(mib(total), 2), "limit_mib": limit, "margin_mib": margin,
           "carry": [".whl", ".devdata"]}, open(".devdata/carry.json", "w"), indent=1)
EOF
if ((total > (LIMIT_MIB - MARGIN_MIB) * 1048576)); then
  echo "prepare_carry.sh: what would travel is over $((LIMIT_MIB - MARGIN_MIB)) MiB (the device tool's $LIMIT_MIB MiB less a $MARGIN_MIB MiB margin): shrink the working tree or the carried set" >&2
  exit 1
fi
echo "ok: carry .whl and .devdata (written to .devdata/carry.json)"
