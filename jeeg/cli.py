"""The ``jeeg`` command line.

``jeeg cv [EXPERIMENT.py] [--set key=value ...] [flags] --out DIR`` runs a subject-wise
cross-validation of a neural model beside classical baselines, with progress bars, and prints the
result table; all folds train together as members (``--sequential``: one after another).
``jeeg sweep ... --grid lr=1e-3,3e-3 --grid seed=0,1`` trains grid points x folds as members and
reports the grid point chosen on validation. ``--set distill=online`` (or ``distill=offline
--set teacher_run=DIR``) trains the model as the student of a teacher (:mod:`jeeg.engine.distill`);
``--set protocol=paper`` reports MSC-T3AM's best-test-epoch protocol, labelled. ``--resume DIR`` continues an interrupted run (killed, or stopped by a full disk: finished folds
are kept); one jeeg process at a time runs in a run directory (:func:`jeeg.rundir.hold_run_dir`);
``--check-reproducible`` runs twice and names the first array that differs. ``jeeg cv --final`` also trains
one model per task on every subject (:mod:`jeeg.final`); ``jeeg evaluate RUN --subjects 18-20`` applies a
finished run's models to subjects it never saw (:mod:`jeeg.evaluate`). Errors jeeg raises on purpose are printed as one clear message (exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from jeeg.errors import ConfigError, JeegError

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
        act = logs["active"]
        if len(act) == 1:
            info = f"train {logs['train_loss'][0]:.3f} val {logs['val_loss'][0]:.3f} acc {logs['val_accuracy'][0]:.2f}"
        else:
            import numpy as np

            sel = act if act.any() else np.ones_like(act)
            info = (f"{int(act.sum())}/{len(act)} members training; mean train {logs['train_loss'][sel].mean():.3f} "
                    f"val {logs['val_loss'][sel].mean():.3f} acc {logs['val_accuracy'][sel].mean():.2f}")
        self.progress.update(self.epochs, completed=i + 1, info=info)


def _init_distributed(args: argparse.Namespace) -> None:
    """``jax.distributed.initialize`` from --coordinator/--num-processes/--process-id (CPU: gloo)."""
    if not args.coordinator:
        return
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU hosts; GPUs use NCCL
    jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)


def _config_from_args(args: argparse.Namespace):
    from jeeg.config import make_config, parse_overrides, resolve

    if getattr(args, "resume", None):
        path = Path(args.resume) / "config.json"
        if not path.is_file():
            raise JeegError(f"--resume {args.resume}: no config.json there; is it a jeeg run directory?")
        if args.config or args.set:
            raise JeegError("--resume continues a run with its own config.json; do not pass an experiment or --set")
        return make_config(json.loads(path.read_text())["config"], str(path))
    overrides = parse_overrides(args.set or [])
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    if args.download:
        overrides["download"] = True
    if getattr(args, "sequential", False):
        overrides["max_members"] = 1
    if getattr(args, "final", False):
        overrides["final"] = True
    if getattr(args, "grid", None):
        grid = {}
        for item in args.grid:
            key, _, values = item.partition("=")
            if not values:
                raise JeegError(f"--grid expects key=v1,v2,...; got {item!r}")
            try:
                grid[key.strip()] = [json.loads(v) for v in values.split(",") if v.strip()]
            except json.JSONDecodeError:
                raise ConfigError(f"--grid {item}: values must be numbers, e.g. --grid lr=1e-3,3e-3 or "
                                  "--grid seed=0,1") from None
        overrides["grid"] = grid
    cfg = resolve(args.config, overrides)
    from jeeg.validate import validate

    validate(cfg, sweep=args.command == "sweep")  # the whole config, before the run directory is made or data read
    return cfg


def _prepare_everywhere(out: Path, overwrite: bool) -> None:
    """Process 0 prepares the run directory; the others check it, then all meet at a barrier."""
    import jax

    from jeeg.rundir import prepare_out_dir

    prepare_out_dir(out, overwrite, clear=jax.process_index() == 0)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("jeeg: run directory ready")


@contextlib.contextmanager
def _warning_lines():
    """Show jeeg's run-directory warnings (:class:`jeeg.rundir.RunDirWarning`) as one
    ``jeeg: warning: ...`` line on stderr, every time; other warnings as Python shows them."""
    import warnings

    from jeeg.rundir import RunDirWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", RunDirWarning)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, RunDirWarning):
                print(f"jeeg: warning: {message}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _cv(args: argparse.Namespace) -> int:
    """``jeeg cv|sweep``: the run directory is locked (:func:`jeeg.rundir.hold_run_dir`, process 0)
    before it is prepared and held until the end; a full or read-only disk becomes one clear error
    (:func:`jeeg.rundir.disk_errors`)."""
    import jax

    from jeeg.rundir import disk_errors, hold_run_dir

    _init_distributed(args)
    cfg = _config_from_args(args)
    resume = bool(getattr(args, "resume", None))
    if resume:
        out = Path(args.resume)
    else:
        out = Path(args.out) if args.out else Path("runs") / time.strftime(f"{args.command}-%Y%m%d-%H%M%S")
    holding = hold_run_dir(out) if jax.process_index() == 0 else contextlib.nullcontext()
    with holding, disk_errors(out), _warning_lines():
        if not resume:
            _prepare_everywhere(out, args.overwrite)
        return _cv_in(args, cfg, out, resume)


def _cv_in(args: argparse.Namespace, cfg, out: Path, resume: bool) -> int:
    """The run of :func:`_cv` in its prepared, locked directory ``out``."""
    from rich.console import Console

    from jeeg import report
    from jeeg.compare import compare_runs
    from jeeg.cv import CVRun

    console = Console(quiet=args.quiet, width=max(130, shutil.get_terminal_size().columns))
    t0 = time.time()

    def run(directory: Path, resume: bool):
        if args.quiet:
            return CVRun(cfg, directory, resume=resume).run()
        with RichReporter(console) as rep:
            return CVRun(cfg, directory, rep, resume=resume).run()

    metrics = run(out, resume)
    if "sweep" in metrics:
        console.print(report.sweep_table(metrics))
    console.print(report.results_table(metrics, "over_subjects"))
    for line in report.statistics_lines(metrics):
        console.print(line, highlight=False)
    console.print(f"wall time {time.time() - t0:.0f} s; results in {out}/")
    if getattr(args, "check_reproducible", False):
        import jax

        if jax.process_count() > 1:
            raise JeegError("--check-reproducible runs in one process; compare two multi-process runs with jeeg.compare.compare_runs")
        again = out / "reproducibility-check"
        _prepare_everywhere(again, overwrite=True)
        run(again, False)
        diff = compare_runs(out, again)
        (out / "reproducibility.json").write_text(json.dumps({"identical": diff is None, "first_difference": diff}))
        if diff is not None:
            console.print(f"[red]not reproducible[/red]: first difference: {diff}")
            return 1
        console.print("reproducible: metrics.json, predictions.csv and every checkpoint array are bitwise identical")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jeeg", description="JAX/Flax EEG decoding research.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("cv", "sweep"):
        if name == "cv":
            cmd = sub.add_parser(
                "cv",
                help="subject-wise cross-validation of a model beside CSP+LDA and log-variance LR",
                description="Run a cross-validation from an experiment file and/or flags; all folds train "
                "together as members of one program (--sequential: one after another). Example: jeeg cv "
                "experiments/stff_da_eegmmidb.py --set subjects=1,2 --set max_epochs=2 --out runs/quick",
            )
        else:
            cmd = sub.add_parser(
                "sweep",
                help="train a grid (lr x weight_decay x seed) times the folds as members; choose on validation",
                description="Every grid point times every fold is a member; the grid point with the best mean "
                "validation score is chosen and its test scores reported. Example: jeeg sweep "
                "experiments/stff_da_eegmmidb.py --grid lr=1e-3,3e-3 --grid weight_decay=0,1e-4 --grid seed=0,1",
            )
            cmd.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                             help="values of lr, weight_decay or seed to cross (repeatable)")
        cmd.add_argument("config", nargs="?", help="experiment file (experiments/*.py) defining config()")
        cmd.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
        cmd.add_argument("--out", help="run directory (default runs/<command>-DATE-TIME)")
        cmd.add_argument("--overwrite", action="store_true", help="replace results already in --out")
        cmd.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR (reuses its config)")
        cmd.add_argument("--sequential", action="store_true",
                         help="train members one after another (max_members=1) instead of together")
        cmd.add_argument("--final", action="store_true",
                         help="after the cross-validation, train one model per task on every subject (final=true) "
                         "for the folds' median selected epoch, for jeeg evaluate")
        cmd.add_argument("--check-reproducible", dest="check_reproducible", action="store_true",
                         help="run twice and name the first array that differs, if any (exit 1)")
        cmd.add_argument("--download", action="store_true", help="let MNE download missing recordings")
        cmd.add_argument("--task", help="task name(s), comma-separated (e.g. left_right_imagined)")
        cmd.add_argument("--subjects", help="subjects, e.g. 1-17 or 1,2,5")
        cmd.add_argument("--scheme", help="within_subject_stratified | within_subject_contiguous | within_subject_run_blocks | loso | subject_group_kfold "
                         "| seed_protocol (dataset=seed|seed_iv)")
        cmd.add_argument("--n-folds", dest="n_folds")
        cmd.add_argument("--model", help="registered model name (e.g. stff_da)")
        cmd.add_argument("--max-epochs", dest="max_epochs")
        cmd.add_argument("--seed")
        cmd.add_argument("--data-dir", dest="data_dir", help="folder holding MNE-eegbci-data (default: MNE_DATA); for seed|seed_iv your copy of the dataset")
        cmd.add_argument("--cache-dir", dest="cache_dir", help="epochs cache folder (default ~/.cache/jeeg/epochs)")
        cmd.add_argument("--quiet", action="store_true", help="no progress bars or table")
        dist = cmd.add_argument_group("several processes/hosts (jax.distributed)")
        dist.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
        dist.add_argument("--num-processes", dest="num_processes", type=int)
        dist.add_argument("--process-id", dest="process_id", type=int)
        cmd.set_defaults(func=_cv)
    ev = sub.add_parser(
        "evaluate",
        help="apply a finished run's models (its final model, or the mean of its fold models) to unseen subjects",
        description="Score a finished run's network (the final model of `jeeg cv --final`, else the ensemble of "
        "its fold models) and its baselines (refitted on the run's subjects) on subjects the run never saw, "
        "with the run's preprocessing. Example: jeeg evaluate runs/cross_subject/loso/eegnet --subjects 18-20",
    )
    ev.add_argument("run", help="directory of a finished jeeg cv / jeeg sweep run")
    ev.add_argument("--subjects", required=True, help="new subjects, e.g. 18-20 or 4,7 (none of the run's)")
    ev.add_argument("--data-dir", dest="data_dir", help="folder holding the new subjects' recordings (default: the run's)")
    ev.add_argument("--cache-dir", dest="cache_dir", help="epochs cache folder")
    ev.add_argument("--download", action="store_true", help="let MNE download missing recordings")
    ev.add_argument("--out", help="output directory (default RUN/evaluate-S<subjects>)")
    ev.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    ev.add_argument("--ensemble", action="store_true",
                    help="use the mean of the fold models' class probabilities even if the run has a final model")
    ev.add_argument("--no-baselines", dest="baselines", action="store_false",
                    help="score the network only (the baselines are refitted on the run's subjects, which reads their data)")
    ev.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="only data_dir, cache_dir, download, skip_missing_runs or eval_batch_size; the run's "
                    "preprocessing is applied unchanged")
    ev.add_argument("--quiet", action="store_true", help="no progress or table")
    ev.set_defaults(func=_evaluate)
    bench = sub.add_parser(
        "bench", add_help=False,
        help="run the benchmark suite (benchmarks/run_all.py): attention cores, train steps vs PyTorch, members, end to end",
        description="Arguments go to benchmarks/run_all.py: [--quick] [--only ...] [--out DIR] [--no-peers] [--readme [FILE]]",
    )
    bench.add_argument("args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_bench)
    return p


def _evaluate(args: argparse.Namespace) -> int:
    """``jeeg evaluate RUN --subjects ...`` (:func:`jeeg.evaluate.evaluate_run`)."""
    from rich.console import Console

    from jeeg import report
    from jeeg.config import parse_overrides
    from jeeg.evaluate import evaluate_run

    overrides = parse_overrides(args.set or [])
    for key in ("data_dir", "cache_dir"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.download:
        overrides["download"] = True
    console = Console(quiet=args.quiet, width=max(130, shutil.get_terminal_size().columns))
    t0 = time.time()
    with console.status("jeeg evaluate") as status:
        metrics, out = evaluate_run(Path(args.run), args.subjects, out=Path(args.out) if args.out else None,
                                    overrides=overrides, ensemble=args.ensemble, baselines=args.baselines,
                                    overwrite=args.overwrite, progress=lambda msg: status.update(msg))
    ev = metrics["evaluate"]
    trained = ev["training_subjects"]
    console.print(f"{args.run}: {ev['source']} model(s) trained on {len(trained)} subjects "
                  f"(S{trained[0]:03d}…S{trained[-1]:03d}), applied to {len(ev['subjects'])} unseen subject(s)",
                  highlight=False)
    console.print(report.results_table(metrics, "over_subjects"))
    for line in report.statistics_lines(metrics):
        console.print(line, highlight=False)
    console.print(f"wall time {time.time() - t0:.0f} s; results in {out}/")
    return 0


def _bench(args: argparse.Namespace) -> int:
    """``jeeg bench ...``: the suite lives in the repository's ``benchmarks/`` folder (beside ``jeeg/``)."""
    import runpy

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"
    if not script.is_file():
        raise JeegError(f"the benchmark suite is not at {script}: jeeg bench runs from a checkout of the repository "
                        "(pip install -e .)")
    ns = runpy.run_path(str(script), run_name="jeeg_bench")
    return int(ns["main"](list(args.args)))


def compilation_cache() -> str:
    """Turn on JAX's persistent compilation cache, so that a second run of the same shapes compiles
    nothing: ``$JAX_COMPILATION_CACHE_DIR`` if set (set it empty to turn the cache off), else
    ``${XDG_CACHE_HOME:-~/.cache}/jeeg/jax-cache``. Returns the folder ('' when off)."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jeeg" / "jax-cache"
    folder = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(default))
    if "jax" in sys.modules:  # already imported (in-process use): the variable is read at import only
        import jax

        jax.config.update("jax_compilation_cache_dir", folder or None)
    return folder


def main(argv: list[str] | None = None) -> int:
    compilation_cache()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # every later argument (--help included) belongs to benchmarks/run_all.py
        try:
            return _bench(argparse.Namespace(args=argv[1:]))
        except JeegError as e:
            print(f"jeeg: error: {e}", file=sys.stderr)
            return 2
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except JeegError as e:
        print(f"jeeg: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
