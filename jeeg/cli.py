"""The ``jeeg`` command line.

``jeeg cv [EXPERIMENT.py] [--set key=value ...] [flags] --out DIR`` runs a subject-wise
cross-validation of a neural model beside classical baselines, with progress bars, and prints the
result table. Errors jeeg raises on purpose are printed as one clear message (exit status 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from jeeg.errors import JeegError

# flag → config key; each flag is shorthand for --set KEY=VALUE.
FLAG_KEYS = {
    "task": "task",
    "subjects": "subjects",
    "scheme": "scheme",
    "n_folds": "n_folds",
    "model": "model",
    "max_epochs": "max_epochs",
    "seed": "seed",
    "data_dir": "data_dir",
    "cache_dir": "cache_dir",
}


class RichReporter:
    """Progress bars over folds and over the epochs of the current fold (rich)."""

    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.folds = None
        self.epochs = None
        self.stage = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def status(self, msg: str) -> None:
        """One updating status line (data loading, current stage)."""
        if self.stage is None:
            self.stage = self.progress.add_task("status", total=None, info=msg)
        self.progress.update(self.stage, info=msg)

    def start_folds(self, n: int) -> None:
        self.folds = self.progress.add_task("folds ", total=n, info="")

    def fold_done(self) -> None:
        self.progress.advance(self.folds)

    def start_epochs(self, name: str, n: int) -> None:
        if self.epochs is None:
            self.epochs = self.progress.add_task("epochs", total=n, info=name)
        else:
            self.progress.reset(self.epochs, total=n, info=name)

    def epoch(self, i: int, logs: dict) -> None:
        info = f"train {logs['train_loss'][0]:.3f} val {logs['val_loss'][0]:.3f} acc {logs['val_accuracy'][0]:.2f}"
        self.progress.update(self.epochs, completed=i + 1, info=info)


def _cv(args: argparse.Namespace) -> int:
    from rich.console import Console

    from jeeg import report
    from jeeg.config import parse_overrides, resolve
    from jeeg.cv import CVRun, prepare_out_dir

    overrides = parse_overrides(args.set or [])
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    if args.download:
        overrides["download"] = True
    cfg = resolve(args.config, overrides)
    out = Path(args.out) if args.out else Path("runs") / time.strftime("cv-%Y%m%d-%H%M%S")
    prepare_out_dir(out, args.overwrite)
    console = Console(quiet=args.quiet, width=max(130, shutil.get_terminal_size().columns))
    t0 = time.time()
    if args.quiet:
        metrics = CVRun(cfg, out).run()
    else:
        with RichReporter(console) as rep:
            metrics = CVRun(cfg, out, rep).run()
    console.print(report.results_table(metrics, "over_subjects"))
    console.print(f"wall time {time.time() - t0:.0f} s; results in {out}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jeeg", description="JAX/Flax EEG decoding research.")
    sub = p.add_subparsers(dest="command", required=True)
    cv = sub.add_parser(
        "cv",
        help="subject-wise cross-validation of a model beside CSP+LDA and log-variance LR",
        description="Run a cross-validation from an experiment file and/or flags. "
        "Example: jeeg cv experiments/stff_da_eegmmidb.py --set subjects=1,2 --set max_epochs=2 --out runs/quick",
    )
    cv.add_argument("config", nargs="?", help="experiment file (experiments/*.py) defining config()")
    cv.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    cv.add_argument("--out", help="run directory (default runs/cv-DATE-TIME)")
    cv.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    cv.add_argument("--download", action="store_true", help="let MNE download missing recordings")
    cv.add_argument("--task", help="task name(s), comma-separated (e.g. left_right_imagined)")
    cv.add_argument("--subjects", help="subjects, e.g. 1-17 or 1,2,5")
    cv.add_argument("--scheme", help="within_subject_stratified | within_subject_contiguous | loso | subject_group_kfold")
    cv.add_argument("--n-folds", dest="n_folds")
    cv.add_argument("--model", help="registered model name (e.g. stff_da)")
    cv.add_argument("--max-epochs", dest="max_epochs")
    cv.add_argument("--seed")
    cv.add_argument("--data-dir", dest="data_dir", help="folder holding MNE-eegbci-data (default: MNE_DATA)")
    cv.add_argument("--cache-dir", dest="cache_dir", help="epochs cache folder (default ~/.cache/jeeg/epochs)")
    cv.add_argument("--quiet", action="store_true", help="no progress bars or table")
    cv.set_defaults(func=_cv)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path.home() / ".cache" / "jeeg" / "jax-cache"))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except JeegError as e:
        print(f"jeeg: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
