"""Cross-validation runner behind ``jeeg cv``: data → folds → neural model + baselines → run dir.

The run directory receives, as work finishes:

* ``config.json`` — the resolved configuration and the environment (versions, device, date);
* ``folds.jsonl`` — one line per finished (model, fold[, grid point]) with its metrics,
  predictions, learning curves and attention, appended as soon as it is scored: a crash never
  loses finished folds, and ``jeeg cv --resume`` never recomputes them;
* ``engine.json`` — how the members were grouped into compiled programs (kept for resuming);
* ``checkpoints/`` — orbax checkpoints of each program of members (every ``checkpoint_every``
  epochs; the parameters of the best epoch on validation are part of each), from which an
  interrupted run resumes bitwise-identically;
* ``metrics.json`` — per fold and aggregated (mean ± std over folds and over subjects) per task
  and model, keys ``accuracy``, ``balanced_accuracy``, ``cohen_kappa``, ``f1_macro``,
  ``f1_weighted``;
* ``predictions.csv`` — every test trial's true and predicted class and class probabilities;
* ``confusion_matrix.png``, ``learning_curves.png``, ``attention.png`` (see :mod:`jeeg.report`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from jeeg.checkpoints import check_init_run, check_teacher_run, checkpoint_arrays, load_init_run, load_teacher_run
from jeeg.config import GRID_KEYS, CVConfig
from jeeg.data import EpochsDataset, load_dataset
from jeeg.errors import ConfigError
from jeeg.metrics import METRIC_KEYS, aggregate, classification_metrics
from jeeg.splits import Fold, make_folds

RESULT_FILES = ("metrics.json", "predictions.csv")
RUN_STATE = ("folds.jsonl", "engine.json", "checkpoints")


@dataclass
class TaskFold:
    """A fold of one task, with indices into the whole (multi-task) dataset.

    ``paper=True`` (``protocol="paper"``): ``train`` is the whole training side and ``val`` IS the
    test part (the epoch is chosen on test accuracy, MSC-T3AM's published protocol).
    """

    task: str
    fold: Fold
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    paper: bool = False

    @property
    def name(self) -> str:
        return f"{self.task}/{self.fold.name}"

    @property
    def fit_side(self) -> np.ndarray:
        """Every trial a model may be fitted on (classical baselines use all of it)."""
        return self.train if self.paper else np.concatenate([self.train, self.val])


def environment() -> dict[str, Any]:
    """Versions, device and host facts recorded with every run."""
    import flax
    import jax
    import mne
    import sklearn

    dev = jax.devices()[0]
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "mne": mne.__version__,
        "scikit-learn": sklearn.__version__,
        "backend": jax.default_backend(),
        "device_kind": dev.device_kind,
        "n_devices": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def cpu_model() -> str:
    """The host CPU's model name (``/proc/cpuinfo``'s "model name" on Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def prepare_out_dir(out: Path, overwrite: bool, clear: bool = True) -> None:
    """Create the run directory; refuse to overwrite finished results unless asked to.

    ``clear=False`` only checks (processes other than 0 of a multi-process run).

    Raises
    ------
    ConfigError
        If ``out`` already holds results (``metrics.json`` or ``folds.jsonl``) and
        ``overwrite`` is False.
    """
    if out.exists() and not overwrite:
        existing = [f for f in (*RESULT_FILES, "folds.jsonl") if (out / f).exists()]
        if existing:
            raise ConfigError(
                f"run directory {out} already holds results ({', '.join(existing)}); "
                "choose another --out or pass --overwrite"
            )
    if not clear:
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_STATE:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def load_for_config(cfg: CVConfig, progress: Callable[[str], None] | None = None) -> EpochsDataset:
    """Load and preprocess the dataset a config asks for (see :func:`jeeg.data.load_dataset`)."""
    return load_dataset(
        cfg.dataset,
        list(cfg.subjects),
        list(cfg.task),
        runs=list(cfg.runs) if cfg.runs is not None else None,
        data_dir=cfg.data_dir,
        download=cfg.download,
        skip_missing_runs=cfg.skip_missing_runs,
        cache_dir=cfg.cache_dir,
        preprocessing=cfg.preprocessing(),
        progress=progress,
    )


def make_task_folds(ds: EpochsDataset, cfg: CVConfig) -> list[TaskFold]:
    """Folds of ``cfg.scheme`` made separately for each task of ``ds``.

    Under ``cfg.protocol == "paper"`` the validation part goes back into training and the test
    part takes its place for epoch selection (see :class:`TaskFold`).

    Raises
    ------
    SplitError, LeakageError
        From :func:`jeeg.splits.make_folds` (e.g. a class absent from a training part).
    """
    out: list[TaskFold] = []
    for task in ds.tasks:
        where = np.flatnonzero(ds.task == task)
        opts = dict(val_fraction=cfg.val_fraction, seed=cfg.seed, class_names=list(ds.class_names))
        if cfg.scheme != "loso":  # leave-one-subject-out has one fold per subject
            opts["n_folds"] = cfg.n_folds
        if cfg.scheme == "within_subject_run_blocks":
            opts["run"] = ds.run[where]
        folds = make_folds(cfg.scheme, ds.y[where], ds.subject[where], **opts)
        for f in folds:
            if cfg.protocol == "paper":
                train = np.sort(np.concatenate([where[f.train], where[f.val]]))
                out.append(TaskFold(task, f, train, where[f.test], where[f.test], paper=True))
            else:
                out.append(TaskFold(task, f, where[f.train], where[f.val], where[f.test]))
    return out


@dataclass
class Member:
    """One neural-model member: a fold of a task under one grid point (lr, weight decay, seed).

    Its PRNG key is ``fold_in(key(seed), position)``, ``position`` being the fold's place in the
    run's fold list, so a fold gets the same key whether trained alone or with others.
    """

    fold: TaskFold
    position: int
    setting: int
    lr: float
    weight_decay: float
    seed: int

    @property
    def hparams(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay, "seed": self.seed}


def grid_settings(cfg: CVConfig) -> list[dict]:
    """The product of ``cfg.grid`` (lr x weight_decay x seed), or the single setting of ``cfg``."""
    import itertools

    axes = [[float(v) if k != "seed" else int(v) for v in cfg.grid.get(k, [getattr(cfg, k)])] for k in GRID_KEYS]
    return [dict(zip(GRID_KEYS, combo)) for combo in itertools.product(*axes)]


def make_members(cfg: CVConfig, folds: list[TaskFold]) -> list[Member]:
    """Grid points x folds, grid-point-major (all folds of setting 0, then setting 1, ...)."""
    return [
        Member(tf, k, s, st["lr"], st["weight_decay"], st["seed"])
        for s, st in enumerate(grid_settings(cfg))
        for k, tf in enumerate(folds)
    ]


def member_data(m: Member):
    """The engine's index arrays of a member (:class:`jeeg.engine.MemberData`)."""
    from jeeg.engine import MemberData

    return MemberData(m.fold.train, m.fold.val, m.fold.test)


def member_keys(members: list[Member]):
    """The members' PRNG keys (K,), :func:`jeeg.engine.member_key` of each member's seed and position."""
    import jax

    from jeeg.engine import member_key

    return jax.vmap(member_key)(np.array([m.seed for m in members]), np.array([m.position for m in members]))


def fold_id(model: str, tf: TaskFold, setting: int = 0) -> str:
    """Key of one (model, task fold, grid point) in ``folds.jsonl`` and in a run's records."""
    return f"{model}|{tf.task}|{tf.fold.name}|{setting}"


def record_id(rec: dict) -> str:
    """:func:`fold_id` of a finished fold's record."""
    return f"{rec['model']}|{rec['task']}|{rec['fold']}|{rec.get('setting', 0)}"


def _record(model: str, tf: TaskFold, ds: EpochsDataset, y_pred: np.ndarray, extra: dict) -> dict:
    m = classification_metrics(ds.y[tf.test], y_pred, list(ds.class_names))
    subject = tf.fold.subject
    return {
        "model": model,
        "task": tf.task,
        "fold": tf.fold.name,
        "fold_index": tf.fold.index,
        "subject": None if subject is None else int(subject),
        "test_subjects": [int(s) for s in tf.fold.test_subjects],
        "n_train": int(len(tf.train)),
        "n_val": int(len(tf.val)),
        "n_test": int(len(tf.test)),
        **extra,
        **m,
    }


def _aggregate_per_class(records: list[dict], class_names) -> dict:
    """Per-class precision/recall/F1: ``{class: {metric: {"over_folds", "over_subjects"}}}``."""
    keys = [(c, m) for c in class_names for m in ("precision", "recall", "f1")]
    flat = [{"subject": r["subject"], **{f"{c}/{m}": r["per_class"][c][m] for c, m in keys}} for r in records]
    a = aggregate(flat, [f"{c}/{m}" for c, m in keys])
    return {
        c: {m: {over: a[over][f"{c}/{m}"] for over in ("over_folds", "over_subjects")} for m in ("precision", "recall", "f1")}
        for c in class_names
    }


def input_maps(cfg: CVConfig, ch_names) -> dict[str, np.ndarray | None]:
    """The model's and the teacher's input maps (``model_channels`` / ``teacher_channels``;
    ``None``: every channel as it is).

    Raises
    ------
    ConfigError
        A channel spec the recording cannot give, or channel specs with a representation other
        than the raw trials.
    """
    from jeeg.representations import derivation_matrix

    out: dict[str, np.ndarray | None] = {"model": None, "teacher": None}
    for who, key in (("model", "model_channels"), ("teacher", "teacher_channels")):
        specs = getattr(cfg, key)
        if specs:
            if cfg.representation != "raw":
                raise ConfigError(f"{key} selects channels of the raw trials; representation={cfg.representation!r} "
                                  "takes every channel")
            out[who] = derivation_matrix(ch_names, specs, key)
    return out


def device_memory_bytes() -> int:
    """Memory of one local device: the accelerator's limit, or this host's RAM / CPU devices."""
    import jax

    dev = jax.local_devices()[0]
    try:
        stats = dev.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = {}
    if stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(ram // max(1, jax.local_device_count()))


class CVRun:
    """One cross-validation (or sweep): dataset, folds, members and the results as they accrue.

    Parameters
    ----------
    cfg : CVConfig
    out : Path
        Run directory (see module docstring).
    reporter : object, optional
        Receives progress callbacks ``status(msg)``, ``start_folds(n)``, ``fold_done()``,
        ``start_epochs(name, n)``, ``epoch(i, logs)`` (the CLI's rich progress bars).
    resume : bool
        Continue the run already in ``out``: folds recorded in ``folds.jsonl`` are reused, not
        recomputed, and unfinished programs of members restart from their latest checkpoint.

    Notes
    -----
    In a multi-process run (``jax.distributed``) every process trains its share of the members;
    only process 0 writes files.
    """

    def __init__(self, cfg: CVConfig, out: Path, reporter=None, resume: bool = False):
        import jax

        self.cfg, self.out, self.rep, self.resume = cfg, Path(out), reporter, resume
        self.primary = jax.process_index() == 0
        self.lines: dict[str, dict] = {}  # record id → folds.jsonl line
        self.engine: dict = {}

    def _status(self, msg: str) -> None:
        if self.rep is not None:
            self.rep.status(msg)

    # ----------------------------------------------------------------------------- run state
    def _load_done(self) -> None:
        """Read finished folds from ``folds.jsonl``; drop a last line cut short by a crash."""
        path = self.out / "folds.jsonl"
        if not path.exists():
            return
        good: list[str] = []
        for line in path.read_text().splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                break  # a write interrupted by a kill: everything after it is recomputed
            good.append(line)
            self.lines[record_id(obj["record"])] = obj
        if self.primary:
            path.write_text("".join(g + "\n" for g in good))

    def _finish(self, record: dict, preds: list[dict], history=None, attention=None) -> None:
        line = {"record": record, "predictions": preds, "history": history, "attention": attention}
        self.lines[record_id(record)] = line
        if self.primary:
            with open(self.out / "folds.jsonl", "a") as fh:
                fh.write(json.dumps(line) + "\n")
        if self.rep is not None:
            self.rep.fold_done()

    def _pred_rows(self, model: str, tf: TaskFold, ds: EpochsDataset, y_pred, proba, setting: int = 0) -> list[dict]:
        rows = []
        for j, i in enumerate(tf.test):
            row = {
                "model": model, "task": tf.task, "fold": tf.fold.name, "setting": setting,
                "subject": int(ds.subject[i]), "run": int(ds.run[i]), "trial": int(ds.trial[i]), "index": int(i),
                "y_true": ds.class_names[ds.y[i]], "y_pred": ds.class_names[int(y_pred[j])],
            }
            row.update({f"p_{c}": float(proba[j, k]) for k, c in enumerate(ds.class_names)})
            rows.append(row)
        return rows

    # ----------------------------------------------------------------------------- pieces
    def run_baselines(self, ds: EpochsDataset, folds: list[TaskFold]) -> None:
        """Classical baselines on µV data, fitted on the whole training side (train + val)."""
        from jeeg.baselines import fit_predict

        for name in self.cfg.baselines:
            for tf in folds:
                if fold_id(name, tf) in self.lines:
                    continue
                fit_idx = tf.fit_side
                y_pred, proba_fit = fit_predict(name, ds.X[fit_idx], ds.y[fit_idx], ds.X[tf.test], sfreq=ds.sfreq)
                proba = np.zeros((len(tf.test), ds.n_classes), np.float32)
                proba[:, np.unique(ds.y[fit_idx])] = proba_fit
                rec = _record(name, tf, ds, y_pred, {"setting": 0})
                self._finish(rec, self._pred_rows(name, tf, ds, y_pred, proba))

    def members_per_program(self, trainer, members: list[Member], X, Y) -> int:
        """``max_members`` if set; else every member in one program when the members run one after
        another inside it (``member_axis="map"``, the CPU default: memory grows only by each
        member's state); else as many as fit half of each device's memory, from XLA's memory
        analysis of the compiled run of all members (the compile that :meth:`Trainer.fit` then
        reuses when they fit).

        The number is kept in ``engine.json`` so that a resumed run groups members identically
        (a requirement for a bitwise-identical resume).
        """
        saved = self.out / "engine.json"
        if self.resume and saved.exists():
            return int(json.loads(saved.read_text())["members_per_program"])
        n = len(members)
        if self.cfg.max_members:
            return min(self.cfg.max_members, n)
        if trainer.member_axis == "map":
            return n
        need = max(1, trainer.memory_need(X, Y, [member_data(m) for m in members], member_keys(members)))
        self.engine["memory_need_bytes"] = need
        budget = 0.5 * device_memory_bytes() * trainer.n_devices
        if need <= budget:
            return n
        per = max(1, int(n * budget // need))
        return max(trainer.n_devices, per // trainer.n_devices * trainer.n_devices)

    def run_model(self, ds: EpochsDataset, members: list[Member]) -> None:
        """Train the neural model's members in programs of ``members_per_program`` and score them.

        Members are grouped in a fixed order (grid point, then fold); a program whose members
        are all recorded is skipped; one that was interrupted resumes from its checkpoint.
        """
        import jax

        from jeeg.engine import Checkpointing, Trainer, program_dir

        cfg = self.cfg
        tcfg = cfg.train_config()
        folds = [m.fold for m in members]
        n_train = [len(tf.train) for tf in folds]
        shapes = dict(batch_size=min(cfg.batch_size, min(n_train)), n_train_pad=max(n_train),
                      n_eval_pad=max(max(len(tf.val), len(tf.test)) for tf in folds))
        data = (ds.n_chans, ds.n_classes, ds.n_times, ds.sfreq, tcfg)
        maps = input_maps(cfg, ds.ch_names)
        if cfg.distill == "none":
            trainer = Trainer(cfg.model, dict(cfg.model_kwargs), *data, input_map=maps["model"], **shapes)
        else:
            from jeeg.engine import DistillTrainer

            trainer = DistillTrainer(
                cfg.model, dict(cfg.model_kwargs), cfg.teacher, dict(cfg.teacher_kwargs), *data, mode=cfg.distill,
                temperature=cfg.kd_temperature, kd_weight=cfg.kd_weight, reduction=cfg.kd_reduction,
                t_squared=cfg.kd_t_squared, ce_weight=cfg.kd_ce_weight, loss=cfg.kd_loss, at_normalise=cfg.at_normalise,
                input_map=maps["model"], teacher_input_map=maps["teacher"], **shapes,
            )
        saved = self.out / "engine.json"
        if all(fold_id(cfg.model, m.fold, m.setting) in self.lines for m in members) and saved.exists():
            self.engine.update(json.loads(saved.read_text()))  # every member is recorded: nothing to train
            return
        from jeeg.representations import model_inputs

        self._status(f"{cfg.model}: computing {cfg.representation} inputs")
        inputs = model_inputs(cfg.representation, ds.X, ds.sfreq, ds.ch_names, standardize=cfg.standardize,
                              **cfg.representation_kwargs)
        if inputs.shape[1:] != trainer.input_shape:
            raise ConfigError(
                f"{cfg.model} takes trials of shape {trainer.input_shape} but representation "
                f"{cfg.representation!r} gives {inputs.shape[1:]}; make model_kwargs match "
                "representation_kwargs (e.g. grid_shape, n_frames)")
        X, Y = trainer.put_data(inputs, ds.y)
        per = self.members_per_program(trainer, members, X, Y)
        self.engine.update(trainer.describe(), members_per_program=per, n_members=len(members),
                           n_programs=-(-len(members) // per), n_devices=trainer.n_devices,
                           n_processes=jax.process_count())
        if self.primary:
            (self.out / "engine.json").write_text(json.dumps(self.engine, indent=2))
        for c0 in range(0, len(members), per):
            chunk = members[c0 : c0 + per]
            ids = [fold_id(cfg.model, m.fold, m.setting) for m in chunk]
            if all(i in self.lines for i in ids):
                continue
            if self.rep is not None:
                name = chunk[0].fold.name if len(chunk) == 1 else f"members {c0 + 1}-{c0 + len(chunk)} of {len(members)}"
                self.rep.start_epochs(name, tcfg.max_epochs)
            keys = member_keys(chunk)
            ckpt = None
            if cfg.checkpoint_every:
                ckpt = Checkpointing(program_dir(self.out, cfg.model, c0 // per), cfg.checkpoint_every)
            extra_fit = {}
            if cfg.distill == "offline":
                extra_fit["teacher"] = trainer.teacher_state(load_teacher_run(cfg, [m.position for m in chunk]),
                                                             cfg.teacher_run)
            if cfg.init_run:
                extra_fit["init"] = trainer.model_state(load_init_run(cfg, [m.position for m in chunk]), cfg.init_run)
            res = trainer.fit(
                X, Y, [member_data(m) for m in chunk], keys,
                on_epoch=(lambda e, logs: self.rep.epoch(e, logs)) if self.rep is not None else None,
                checkpointing=ckpt,
                hparams={"lr": [m.lr for m in chunk], "weight_decay": [m.weight_decay for m in chunk]},
                **extra_fit,
            )
            for j, (m, rid) in enumerate(zip(chunk, ids)):
                if rid in self.lines:
                    continue
                tf, logits = m.fold, res.test_logits[j]
                proba = np.asarray(jax.nn.softmax(logits, -1))
                y_pred = logits.argmax(-1)
                best = int(res.best_epoch[j])
                extra = {
                    "setting": m.setting, **m.hparams, "protocol": cfg.protocol, "distill": cfg.distill,
                    "best_epoch": best, "stopped_epoch": int(res.stopped_epoch[j]),
                    "val_loss": float(res.history["val_loss"][j, best]),
                    "val_accuracy": float(res.history["val_accuracy"][j, best]),
                    "failed": bool(res.failed[j]), "failed_step": int(res.failed_step[j]),
                }
                rec = _record(cfg.model, tf, ds, y_pred, extra)
                hist = {"task": tf.task, "fold": tf.fold.name, "setting": m.setting,
                        **{k: [None if np.isnan(x) else float(x) for x in v[j]] for k, v in res.history.items()}}
                att = None
                if "attention" in res.test_aux[j]:
                    att = {"task": tf.task, "setting": m.setting, "y": ds.y[tf.test].tolist(),
                           "alpha": np.asarray(res.test_aux[j]["attention"]).tolist()}
                self._finish(rec, self._pred_rows(cfg.model, tf, ds, y_pred, proba, m.setting), hist, att)

    # ----------------------------------------------------------------------------- whole run
    def run(self) -> dict:
        """Load, split, train and score; write every artefact. Returns the metrics dict."""
        from jeeg import report

        cfg = self.cfg
        if self.resume:
            self._load_done()
        elif self.primary:
            (self.out / "config.json").write_text(
                json.dumps({"config": cfg.to_dict(), "environment": environment()}, indent=2)
            )
        if cfg.distill == "offline":  # a wrong teacher / init run fails now, not after the data are read
            check_teacher_run(cfg)
        if cfg.init_run:
            check_init_run(cfg)
        self._status("loading data")
        ds = load_for_config(cfg, progress=self._status)
        folds = make_task_folds(ds, cfg)
        members = make_members(cfg, folds)
        if self.rep is not None:
            self.rep.start_folds(len(cfg.baselines) * len(folds) + len(members))
            for _ in self.lines:
                self.rep.fold_done()
        self._status(f"{len(ds)} trials, {len(folds)} folds: baselines")
        self.run_baselines(ds, folds)
        self._status(f"{len(ds)} trials, {len(folds)} folds, {len(members)} members: {cfg.model}")
        self.run_model(ds, members)
        metrics = self.summarise(ds, folds)
        if self.primary:
            self._write_predictions(ds, folds)
            (self.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
            chosen = metrics.get("sweep", {}).get("chosen_setting", 0)
            lines = [self.lines[i] for i in self._ordered_ids(folds)]
            histories = [
                {k: [np.nan if x is None else x for x in v] if isinstance(v, list) else v for k, v in ln["history"].items()}
                for ln in lines if ln["history"] and ln["history"]["setting"] == chosen
            ]
            attention = [
                {**a, "y": np.asarray(a["y"]), "alpha": np.asarray(a["alpha"], np.float32)}
                for a in (ln["attention"] for ln in lines) if a and a["setting"] == chosen
            ]
            report.plot_confusion_matrices(metrics, self.out / "confusion_matrix.png")
            report.plot_learning_curves(histories, self.out / "learning_curves.png")
            if attention:
                report.plot_attention(attention, ds, self.out / "attention.png")
            if str(ds.task[0]).startswith("sleep_"):
                self._plot_hypnogram(ds, lines, chosen)
        return metrics

    def _plot_hypnogram(self, ds: EpochsDataset, lines: list[dict], setting: int) -> None:
        """``hypnogram.png``: scored against predicted stages of the first test night of the model."""
        from jeeg import report

        preds = next((ln["predictions"] for ln in lines
                      if ln["record"]["model"] == self.cfg.model and ln["record"].get("setting", 0) == setting), None)
        if not preds:
            return
        night = (preds[0]["subject"], preds[0]["run"])
        rows = [r for r in preds if (r["subject"], r["run"]) == night]
        idx = np.array([r["index"] for r in rows])
        code = {c: i for i, c in enumerate(ds.class_names)}
        report.plot_hypnogram(ds.onset[idx], ds.y[idx], np.array([code[r["y_pred"]] for r in rows]), ds.class_names,
                              self.out / "hypnogram.png", f"{self.cfg.model}, subject {night[0]} night {night[1]}")

    def _ordered_ids(self, folds: list[TaskFold]) -> list[str]:
        """Record ids in a fixed order (baselines, then the model by grid point and fold)."""
        ids = [fold_id(b, tf) for b in self.cfg.baselines for tf in folds]
        ids += [fold_id(self.cfg.model, tf, s) for s in range(len(grid_settings(self.cfg))) for tf in folds]
        return ids

    def summarise(self, ds: EpochsDataset, folds: list[TaskFold]) -> dict:
        """metrics.json: per-fold records and mean ± std per task and model.

        In a sweep (``grid``), the grid point with the best mean validation score (``monitor``,
        over all folds and tasks) is chosen on validation only; the table reports its test scores,
        and ``sweep`` lists every grid point's validation and test means.
        """
        cfg = self.cfg
        records = [self.lines[i]["record"] for i in self._ordered_ids(folds)]
        models = [cfg.model, *cfg.baselines]
        settings = grid_settings(cfg)
        out: dict[str, Any] = {}
        chosen = 0
        if cfg.grid:
            rows = []
            for s, st in enumerate(settings):
                recs = [r for r in records if r["model"] == cfg.model and r["setting"] == s]
                val = float(np.mean([r[cfg.monitor] for r in recs]))
                rows.append({"setting": s, **st, f"mean_{cfg.monitor}": val,
                             "mean_val_loss": float(np.mean([r["val_loss"] for r in recs])),
                             **{f"mean_test_{k}": float(np.mean([r[k] for r in recs])) for k in METRIC_KEYS}})
            # Selection on validation only; group by (lr, weight decay) over seeds.
            by_point: dict[tuple, list[float]] = {}
            for row in rows:
                by_point.setdefault((row["lr"], row["weight_decay"]), []).append(row[f"mean_{cfg.monitor}"])
            sign = 1.0 if cfg.monitor == "val_loss" else -1.0
            best_point = min(by_point, key=lambda p: (sign * float(np.mean(by_point[p])), p))
            chosen_settings = [s for s, st in enumerate(settings) if (st["lr"], st["weight_decay"]) == best_point]
            chosen = chosen_settings[0]
            out["sweep"] = {"monitor": cfg.monitor, "grid": {k: list(v) for k, v in cfg.grid.items()},
                            "settings": rows, "chosen": {"lr": best_point[0], "weight_decay": best_point[1]},
                            "chosen_setting": chosen, "chosen_settings": chosen_settings}
            records_table = [r for r in records if r["model"] != cfg.model or r["setting"] in chosen_settings]
        else:
            records_table = records
        agg: dict[str, dict] = {}
        for task in ds.tasks:
            agg[task] = {}
            for model in models:
                recs = [r for r in records_table if r["task"] == task and r["model"] == model]
                a = aggregate(recs, METRIC_KEYS)
                cm = np.sum([r["confusion_matrix"] for r in recs], axis=0).tolist()
                agg[task][model] = {**a, "per_class": _aggregate_per_class(recs, ds.class_names), "confusion_matrix": cm}
        failed = [record_id(r) for r in records if r.get("failed")]
        from jeeg.report import display_name

        label = None
        if cfg.distill != "none":
            kind = "feature (attention-transfer)" if cfg.kd_loss == "features" else cfg.distill
            label = f"{display_name(cfg.model)} + {kind} KD ({display_name(cfg.teacher)})"
        if cfg.init_run:
            label = f"{label or display_name(cfg.model)}, started from {Path(cfg.init_run).name}"
        return {
            "dataset": cfg.dataset,
            "protocol": cfg.protocol,
            "distill": cfg.distill,
            "kd_loss": cfg.kd_loss if cfg.distill != "none" else None,
            "init_run": cfg.init_run,
            "model_channels": list(cfg.model_channels),
            "teacher_channels": list(cfg.teacher_channels),
            "labels": {cfg.model: label} if label else {},
            "class_names": list(ds.class_names),
            "tasks": ds.tasks,
            "models": models,
            "n_trials": len(ds),
            "skipped_runs": (ds.info or {}).get("skipped_runs", {}),
            "unscored_dropped": (ds.info or {}).get("unscored", {}),
            "n_folds": len(folds),
            "engine": self.engine,
            "failed_members": failed,
            **out,
            "aggregate": agg,
            "folds": records,
        }

    def _write_predictions(self, ds: EpochsDataset, folds: list[TaskFold]) -> None:
        rows = [row for i in self._ordered_ids(folds) for row in self.lines[i]["predictions"]]
        if not rows:
            return
        with open(self.out / "predictions.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


# ------------------------------------------------------------------------------ reproducibility
def compare_runs(a: Path, b: Path) -> str | None:
    """The first difference between two run directories, or None if bitwise identical.

    Compares ``metrics.json`` (minus the engine's memory estimate), ``predictions.csv`` and every
    array of every checkpoint, and names the first item that differs.
    """
    a, b = Path(a), Path(b)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for m in (ma, mb):  # facts of the machine, not of the results
        for k in ("memory_need_bytes", "bytes_per_member", "n_processes"):
            m.get("engine", {}).pop(k, None)
    if ma != mb:
        for k in sorted(ma, key=lambda k: k != "folds"):  # per-fold records first: the most specific
            if ma.get(k) != mb.get(k):
                if k == "folds":
                    for ra, rb in zip(ma[k], mb[k]):
                        if ra != rb:
                            diff = next(f for f in ra if ra.get(f) != rb.get(f))
                            return f"metrics.json folds[{record_id(ra)}].{diff}: {ra.get(diff)} vs {rb.get(diff)}"
                return f"metrics.json key {k!r} differs"
        return "metrics.json differs"
    pa, pb = ((d / "predictions.csv").read_text().splitlines() for d in (a, b))
    for i, (la, lb) in enumerate(zip(pa, pb)):
        if la != lb:
            return f"predictions.csv line {i + 1}: {la!r} vs {lb!r}"
    if len(pa) != len(pb):
        return f"predictions.csv has {len(pa)} vs {len(pb)} lines"
    ca, cb = checkpoint_arrays(a), checkpoint_arrays(b)
    if sorted(ca) != sorted(cb):
        return f"checkpoints differ in their arrays: {sorted(set(ca) ^ set(cb))[:3]}"
    for name in ca:
        x, y = ca[name], cb[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            return f"checkpoint array {name} differs in dtype/shape: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
        if x.tobytes() != y.tobytes():
            return f"checkpoint array {name} differs (max |diff| {np.max(np.abs(x.astype(float) - y.astype(float))):.3g})"
    return None
