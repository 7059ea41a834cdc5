"""End to end: wall time of a complete within-subject 5-fold cross-validation on real EEGMMIDB.

The main job's setting (STFF-DA, imagined left vs right fist, 64 channels x 640 samples at 160 Hz,
within-subject stratified 5-fold with 20 % validation, 30 epochs with early stopping) run twice on
the same subjects in one process:

* *member-parallel*: ``max_members=0``, every fold of every subject in one compiled program
  (split only if device memory demands);
* *sequential*: ``max_members=1``, one fold after another (the PyTorch-style loop).

Each is a complete ``jeeg.cv.CVRun`` (data loading from the epochs cache, training, scoring,
reports) with no baselines and no checkpoints, timed from start to finish (compilation included:
it is part of what a user waits for; the compile of each program is also reported from the
trainer). The data are read once beforehand so that both runs start from a warm epochs cache.
Both must score the same trials; their accuracies are reported side by side.

Usage::

    python benchmarks/end_to_end.py [--quick] [--subjects 1-17] [--out benchmarks/results]

Default subjects: 1-17 on an accelerator, 1-5 on a CPU (the 17-subject member-parallel and
sequential runs take hours on 2 cores); ``--quick``: subject 1, 2 epochs. Real recordings come from ``MNE_DATA`` (``../shared/data``'s
``prepare.sh``); writes ``<out>/<device>/end_to_end.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/: run as a script or from run_all.py
from harness import log, write_result  # noqa: E402


def config(subjects: str, max_epochs: int) -> dict:
    return dict(dataset="eegmmidb", task=["left_right_imagined"], subjects=subjects, l_freq=4.0, h_freq=40.0,
                scheme="within_subject_stratified", n_folds=5, val_fraction=0.2, model="stff_da", batch_size=16,
                max_epochs=max_epochs, patience=10, baselines=[], checkpoint_every=0, seed=0)


def run(quick: bool = False, out=None, subjects: str | None = None) -> dict:
    import jax
    import numpy as np

    from jeeg.config import make_config
    from jeeg.cv import CVRun, load_for_config
    from jeeg.rundir import prepare_out_dir

    # A CPU does 1-5 (17 subjects, sequential and member-parallel, take hours on 2 cores).
    subjects = subjects or ("1" if quick else "1-5" if jax.devices()[0].platform == "cpu" else "1-17")
    max_epochs = 2 if quick else 30
    base = make_config(config(subjects, max_epochs), "end_to_end")
    t0 = time.perf_counter()
    ds = load_for_config(base)  # warm the epochs cache for both runs
    load_s = time.perf_counter() - t0
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, max_members in (("member_parallel", 0), ("sequential", 1)):
            cfg = base.replace(max_members=max_members)
            t0 = time.perf_counter()
            prepare_out_dir(Path(tmp) / name, overwrite=False)
            metrics = CVRun(cfg, Path(tmp) / name).run()
            wall = time.perf_counter() - t0
            accs = [r["accuracy"] for r in metrics["folds"]]
            rows[name] = {"wall_s": wall, "members_per_program": metrics["engine"]["members_per_program"],
                          "n_programs": metrics["engine"]["n_programs"], "n_members": metrics["engine"]["n_members"],
                          "mean_accuracy": float(np.mean(accs)), "fold_accuracies": accs}
            log(f"{name:16s} {wall:8.1f} s  ({rows[name]['n_programs']} program(s) of "
                f"{rows[name]['members_per_program']} members), mean accuracy {100 * np.mean(accs):.1f} %")
    speedup = rows["sequential"]["wall_s"] / rows["member_parallel"]["wall_s"]
    log(f"member-parallel is {speedup:.2f}x the speed of sequential")
    result = {"quick": quick, "subjects": subjects, "n_trials": len(ds), "max_epochs": max_epochs,
              "data_load_s": load_s, "config": base.to_dict(), **rows, "speedup_parallel_vs_sequential": speedup}
    write_result("end_to_end", result, out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="subject 1, 2 epochs")
    ap.add_argument("--subjects", default=None, help="e.g. 1-17 (default on an accelerator; CPU: 1-5; --quick: 1)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    run(args.quick, args.out, args.subjects)


if __name__ == "__main__":
    main()
