"""Run every jeeg benchmark and render the tables: ``jeeg bench [--quick]`` (or this file).

Benchmarks (each writes ``<out>/<device>/<name>.json`` with the environment):

* ``attention`` — attention cores, forward and forward+backward, model sizes and scaled up,
  jeeg (XLA; cuDNN on GPU) against PyTorch's ``scaled_dot_product_attention``;
* ``train_steps`` — train-step samples/s of each model against its PyTorch peer, same run;
* ``compile_times`` — XLA compile time of each model's whole run program;
* ``engine_loop`` — one member's whole fit, the compiled run against the host loop it replaced;
* ``members_scaling`` — K members in one program against a loop over K members;
* ``end_to_end`` — a complete within-subject 5-fold cross-validation on real EEGMMIDB,
  member-parallel against sequential.

Then :mod:`report` renders ``<out>/<device>/README.md`` from the JSON files and, with
``--readme``, replaces the benchmark block of ``docs/benchmarks.md`` (``--readme FILE``: of that
page) with the tables of every device under ``<out>``. ``--quick`` (what CI runs) uses small sizes and few repeats; its
numbers are a smoke test, not results.

Usage::

    python benchmarks/run_all.py [--quick] [--only attention,train_steps,...] [--out DIR]
        [--no-peers] [--readme [FILE]]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: The page whose benchmark block ``--readme`` fills by default (``report.DOC``).
DOC = HERE.parent / "docs" / "benchmarks.md"
BENCHMARKS = ("attention", "train_steps", "compile_times", "engine_loop", "members_scaling", "end_to_end")


def run_one(name: str, quick: bool, out: Path, peers: bool) -> None:
    mod = importlib.import_module(name)
    if name == "members_scaling":
        mod.run_and_write(quick, out)
    elif name in ("end_to_end", "engine_loop"):
        mod.run(quick, out)
    else:
        mod.run(quick, out, peers=peers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="jeeg bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (a smoke test; CI runs it)")
    ap.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    ap.add_argument("--out", default=str(HERE / "results"), help="results folder (one sub-folder per device)")
    ap.add_argument("--no-peers", dest="peers", action="store_false", help="skip the PyTorch peers")
    ap.add_argument("--readme", nargs="?", const=str(DOC), default=None, metavar="FILE",
                    help="update this page's benchmark block from the JSON files (alone: docs/benchmarks.md)")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    out = Path(args.out)
    failed = []
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name}{' (quick)' if args.quick else ''}", file=sys.stderr, flush=True)
        try:
            run_one(name, args.quick, out, args.peers)
        except Exception:  # noqa: BLE001 - one benchmark's failure must not lose the others
            traceback.print_exc()
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    import report

    for folder in sorted(p for p in out.iterdir() if p.is_dir()) if out.is_dir() else []:
        (folder / "README.md").write_text(report.render(folder))
        report.plot(folder)
    if args.readme:
        report.update_readme(Path(args.readme), out)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
