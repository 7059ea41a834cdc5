"""Check what the device check wrote under its ``$OUT``, as the device tool will return it.

``python benchmarks/device/check_out.py OUT --mode device|rehearse`` prints one line per file
and exits non-zero if the folder breaks what comes back from a device call (at most
:data:`MAX_FILES` files of at most 16 MiB, none deeper than one folder below ``OUT``, names of
letters, digits, ``.``, ``_`` and ``-``), or if a benchmark JSON lacks the versions and the
commit. ``--mode rehearse`` (the CPU rehearsal that CI runs) also requires every benchmark of
:data:`BENCHMARKS` to be complete and the rendered report to hold the GPU targets table; on the
device a step cut short by its limit is reported, not failed, since its rows still came back.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

#: What one device call can bring back (the device tool's limits).
MAX_FILES, MAX_BYTES, MAX_DEPTH = 8, 16 * 2**20, 1
NAME = re.compile(r"^[A-Za-z0-9._-]+$")
#: The JSON files every device check writes, in its order of steps.
BENCHMARKS = ("members_fit", "end_to_end", "train_steps", "attention")


def problems(out: Path, mode: str) -> tuple[list[str], list[str]]:
    """(lines describing every file, problems found) of the folder ``out``."""
    files = sorted(p for p in out.rglob("*") if p.is_file())
    lines, bad = [], []
    if len(files) > MAX_FILES:
        bad.append(f"{len(files)} files; at most {MAX_FILES} come back from a device call")
    for f in files:
        rel = f.relative_to(out)
        lines.append(f"{rel} ({f.stat().st_size / 1024:.1f} KiB)")
        if len(rel.parts) - 1 > MAX_DEPTH:
            bad.append(f"{rel}: deeper than {MAX_DEPTH} folder below OUT")
        if not all(NAME.match(part) for part in rel.parts):
            bad.append(f"{rel}: a name outside letters, digits, '.', '_' and '-'")
        if f.stat().st_size > MAX_BYTES:
            bad.append(f"{rel}: over 16 MiB")
    if not (out / "device_check.log").is_file():
        bad.append("device_check.log is missing")
    folders = [p for p in out.iterdir() if p.is_dir()]
    if len(folders) != 1:
        bad.append(f"expected one device folder under OUT, found {[p.name for p in folders]}")
        return lines, bad
    dev = folders[0]
    for name in BENCHMARKS:
        path = dev / f"{name}.json"
        if not path.is_file():
            (bad if mode == "rehearse" else lines).append(f"{name}.json: not written")
            continue
        res = json.loads(path.read_text())
        env = res.get("environment", {})
        if not env.get("versions", {}).get("jax"):
            bad.append(f"{name}.json: no versions in its environment")
        if env.get("commit") in (None, "", "?"):
            bad.append(f"{name}.json: no commit (pass --commit)")
        if res.get("complete") is not True:
            (bad if mode == "rehearse" else lines).append(f"{name}.json: incomplete (stopped before its last row)")
        errors = [r.get("error") for r in res.get("results", []) if isinstance(r, dict) and r.get("error")]
        if errors and mode == "rehearse" and name != "attention":  # attention records cuDNN refusals as rows
            bad.append(f"{name}.json: {len(errors)} failed row(s), e.g. {errors[0][:200]}")
    report = dev / "README.md"
    if not report.is_file() or "### GPU targets" not in report.read_text():
        bad.append("README.md with the GPU targets table is missing")
    return lines, bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--mode", choices=("device", "rehearse"), default="device")
    args = ap.parse_args(argv)
    lines, bad = problems(args.out, args.mode)
    for line in lines:
        print(f"  {line}")
    for b in bad:
        print(f"  PROBLEM: {b}")
    print(f"check of {args.out}: {len(lines)} line(s), {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
