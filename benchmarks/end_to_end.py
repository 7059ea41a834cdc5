"""End to end: wall time of the cross-subject main job on real EEGMMIDB, member-parallel against sequential.

One run of jeeg's main job (``experiments/cross_subject_eegmmidb.py``, :func:`run_config`: EEGNet,
imagined left vs right fist, 21 sensorimotor channels at 80 Hz, each subject Euclidean-aligned by
its own unlabelled trials, leave-one-subject-out with 20 % of the training subjects held out for
validation, early stopping on the validation loss) with several seeds as members, on the same
subjects, twice in one process:

* *member-parallel*: ``max_members=0``, every (seed, fold) in one compiled program (split only if
  device memory demands);
* *sequential*: ``max_members=1``, one member after another (``jeeg cv --sequential``, the
  PyTorch-style loop).

Each is a complete ``jeeg.cv.CVRun`` (data from the epochs cache, alignment, training, scoring,
reports) with no baselines and no checkpoints, timed from start to finish, compilation included:
it is part of what a user waits for. The data are read once beforehand so that both runs start
from a warm epochs cache (``data_load_s``). Both train the same members on the same trials with
the same keys, so their accuracies are reported side by side.

Sizes: ``--subjects 1-5`` (the subjects the device check carries: S001-S005, runs 4, 8 and 12),
``--seeds 0,1,2,3,4`` (25 members for 5 subjects), the main job's 40 epochs and patience 10.
``--quick``: subjects 1-3, one seed, 2 epochs. The GPU target (``report.TARGETS``) is the main job
member-parallel ≥ 10x faster than sequential; with S members per program the speed-up cannot
exceed about S (here 25).

Usage::

    python benchmarks/end_to_end.py [--quick] [--subjects 1-5] [--seeds 0,1,2,3,4] [--max-epochs 40]
        [--out benchmarks/results]

Real recordings come from ``MNE_DATA``; writes ``<out>/<device>/end_to_end.json``, rewritten after
each of the two runs (``complete`` false until both are done).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/: run as a script or from run_all.py
from harness import log, write_result  # noqa: E402

from jeeg.config import make_config  # noqa: E402
from jeeg.cv import CVRun, load_for_config  # noqa: E402
from jeeg.rundir import prepare_out_dir  # noqa: E402

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "cross_subject_eegmmidb.py"


def _main_job():
    """The main job's experiment module (its ``run_config`` is the one recipe both use)."""
    spec = importlib.util.spec_from_file_location("cross_subject_eegmmidb", EXPERIMENT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def config(subjects: str, seeds: list[int], max_epochs: int) -> dict:
    """The main job's EEGNet LOSO run on ``subjects``, imagined task only, ``seeds`` as members,
    without baselines or checkpoints."""
    return _main_job().run_config("eegnet", "loso", seeds, subjects=subjects, task=["left_right_imagined"],
                                  max_epochs=max_epochs, baselines=[], checkpoint_every=0)


def run(quick: bool = False, out=None, subjects: str | None = None, seeds: list[int] | None = None,
        max_epochs: int | None = None) -> dict:
    subjects = subjects or ("1-3" if quick else "1-5")
    seeds = seeds or ([0] if quick else [0, 1, 2, 3, 4])
    max_epochs = max_epochs or (2 if quick else 40)
    base = make_config(config(subjects, seeds, max_epochs), "end_to_end")
    t0 = time.perf_counter()
    ds = load_for_config(base)  # warm the epochs cache for both runs
    load_s = time.perf_counter() - t0
    result = {"quick": quick, "job": "cross-subject main job (experiments/cross_subject_eegmmidb.py), EEGNet, LOSO",
              "subjects": subjects, "seeds": seeds, "n_trials": len(ds), "max_epochs": max_epochs,
              "data_load_s": load_s, "config": base.to_dict()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, max_members in (("member_parallel", 0), ("sequential", 1)):
            cfg = base.replace(max_members=max_members)
            t0 = time.perf_counter()
            prepare_out_dir(Path(tmp) / name, overwrite=False)
            metrics = CVRun(cfg, Path(tmp) / name).run()
            wall = time.perf_counter() - t0
            accs = [r["accuracy"] for r in metrics["folds"]]
            result[name] = {"wall_s": wall, "members_per_program": metrics["engine"]["members_per_program"],
                            "n_programs": metrics["engine"]["n_programs"], "n_members": metrics["engine"]["n_members"],
                            "mean_accuracy": float(np.mean(accs)), "fold_accuracies": accs}
            log(f"{name:16s} {wall:8.1f} s  ({result[name]['n_programs']} program(s) of "
                f"{result[name]['members_per_program']} members), mean accuracy {100 * np.mean(accs):.1f} %")
            write_result("end_to_end", result, out, complete=False)
    result["speedup_parallel_vs_sequential"] = result["sequential"]["wall_s"] / result["member_parallel"]["wall_s"]
    log(f"member-parallel is {result['speedup_parallel_vs_sequential']:.2f}x the speed of sequential")
    write_result("end_to_end", result, out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="subjects 1-3, one seed, 2 epochs")
    ap.add_argument("--subjects", default=None, help="EEGMMIDB subjects, e.g. 1-5 (the default; --quick: 1-3)")
    ap.add_argument("--seeds", default=None, help="seeds as members, e.g. 0,1,2,3,4 (the default; --quick: 0)")
    ap.add_argument("--max-epochs", type=int, default=None, help="the main job's 40 by default (--quick: 2)")
    ap.add_argument("--out", default=None, help="results folder (one sub-folder per device)")
    args = ap.parse_args()
    run(args.quick, args.out, args.subjects, [int(s) for s in args.seeds.split(",")] if args.seeds else None,
        args.max_epochs)


if __name__ == "__main__":
    main()
