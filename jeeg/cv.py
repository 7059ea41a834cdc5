"""Cross-validation runner behind ``jeeg cv``: data → folds → neural model + baselines → run dir.

The run directory receives, as work finishes:

* ``config.json`` — the resolved configuration and the environment (versions, device, date);
* ``folds.jsonl`` — one line per finished (model, fold), appended as soon as it is scored, so a
  crash never loses finished folds;
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from jeeg.config import CVConfig
from jeeg.data import EpochsDataset, load_dataset, standardize_trials
from jeeg.errors import ConfigError
from jeeg.metrics import METRIC_KEYS, aggregate, classification_metrics
from jeeg.splits import Fold, make_folds

RESULT_FILES = ("metrics.json", "predictions.csv")


@dataclass
class TaskFold:
    """A fold of one task, with indices into the whole (multi-task) dataset."""

    task: str
    fold: Fold
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.task}/{self.fold.name}"


def environment() -> dict[str, Any]:
    """Versions, device and host facts recorded with every run."""
    import jax
    import flax
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
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def prepare_out_dir(out: Path, overwrite: bool) -> None:
    """Create the run directory; refuse to overwrite finished results unless asked to.

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
    out.mkdir(parents=True, exist_ok=True)
    (out / "folds.jsonl").unlink(missing_ok=True)


def load_for_config(cfg: CVConfig, progress: Callable[[str], None] | None = None) -> EpochsDataset:
    """Load and preprocess the dataset a config asks for (see :func:`jeeg.data.load_dataset`)."""
    return load_dataset(
        cfg.dataset,
        list(cfg.subjects),
        list(cfg.task),
        runs=list(cfg.runs) if cfg.runs is not None else None,
        data_dir=cfg.data_dir,
        download=cfg.download,
        cache_dir=cfg.cache_dir,
        preprocessing=cfg.preprocessing(),
        progress=progress,
    )


def make_task_folds(ds: EpochsDataset, cfg: CVConfig) -> list[TaskFold]:
    """Folds of ``cfg.scheme`` made separately for each task of ``ds``.

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
        folds = make_folds(cfg.scheme, ds.y[where], ds.subject[where], **opts)
        for f in folds:
            out.append(TaskFold(task, f, where[f.train], where[f.val], where[f.test]))
    return out


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


class CVRun:
    """One cross-validation: holds the dataset, folds and the results as they accrue.

    Parameters
    ----------
    cfg : CVConfig
    out : Path
        Run directory (see module docstring).
    reporter : object, optional
        Receives progress callbacks ``status(msg)``, ``start_folds(n)``, ``fold_done()``,
        ``start_epochs(name, n)``, ``epoch(i, logs)`` (the CLI's rich progress bars).
    """

    def __init__(self, cfg: CVConfig, out: Path, reporter=None):
        self.cfg, self.out, self.rep = cfg, Path(out), reporter
        self.records: list[dict] = []
        self.predictions: list[dict] = []
        self.histories: list[dict] = []
        self.attention: list[dict] = []

    def _status(self, msg: str) -> None:
        if self.rep is not None:
            self.rep.status(msg)

    def _finish(self, record: dict, preds: list[dict]) -> None:
        self.records.append(record)
        self.predictions.extend(preds)
        with open(self.out / "folds.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.rep is not None:
            self.rep.fold_done()

    def _pred_rows(self, model: str, tf: TaskFold, ds: EpochsDataset, y_pred, proba) -> list[dict]:
        rows = []
        for j, i in enumerate(tf.test):
            row = {
                "model": model, "task": tf.task, "fold": tf.fold.name, "subject": int(ds.subject[i]),
                "run": int(ds.run[i]), "trial": int(ds.trial[i]), "index": int(i),
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
                fit_idx = np.concatenate([tf.train, tf.val])
                y_pred, proba_fit = fit_predict(name, ds.X[fit_idx], ds.y[fit_idx], ds.X[tf.test])
                proba = np.zeros((len(tf.test), ds.n_classes), np.float32)
                proba[:, np.unique(ds.y[fit_idx])] = proba_fit
                rec = _record(name, tf, ds, y_pred, {})
                self._finish(rec, self._pred_rows(name, tf, ds, y_pred, proba))

    def run_model(self, ds: EpochsDataset, folds: list[TaskFold]) -> None:
        """Train the neural model on every fold (one member per fold) and score its test part."""
        import jax

        from jeeg.train import MemberData, Trainer

        cfg = self.cfg
        tcfg = cfg.train_config()
        n_train = [len(tf.train) for tf in folds]
        trainer = Trainer(
            cfg.model, dict(cfg.model_kwargs), ds.n_chans, ds.n_classes, ds.n_times, ds.sfreq, tcfg,
            batch_size=min(cfg.batch_size, min(n_train)), n_train_pad=max(n_train),
            n_eval_pad=max(max(len(tf.val), len(tf.test)) for tf in folds),
        )
        X, Y = trainer.put_data(standardize_trials(ds.X) if cfg.standardize else ds.X, ds.y)
        root = jax.random.key(cfg.seed)
        self.engine = trainer.describe()
        for k, tf in enumerate(folds):
            if self.rep is not None:
                self.rep.start_epochs(tf.name, tcfg.max_epochs)
            keys = jax.random.fold_in(root, k)[None]
            res = trainer.fit(
                X, Y, [MemberData(tf.train, tf.val, tf.test)], keys,
                on_epoch=(lambda e, logs: self.rep.epoch(e, logs)) if self.rep is not None else None,
            )
            logits = res.test_logits[0]
            proba = np.asarray(jax.nn.softmax(logits, -1))
            y_pred = logits.argmax(-1)
            extra = {"best_epoch": int(res.best_epoch[0]), "stopped_epoch": int(res.stopped_epoch[0])}
            rec = _record(cfg.model, tf, ds, y_pred, extra)
            self.histories.append({"task": tf.task, "fold": tf.fold.name,
                                   **{k2: v[0].tolist() for k2, v in res.history.items()}})
            if "attention" in res.test_aux[0]:
                self.attention.append({"task": tf.task, "y": ds.y[tf.test], "alpha": res.test_aux[0]["attention"]})
            self._finish(rec, self._pred_rows(cfg.model, tf, ds, y_pred, proba))

    # ----------------------------------------------------------------------------- whole run
    def run(self) -> dict:
        """Load, split, train and score; write every artefact. Returns the metrics dict."""
        from jeeg import report

        cfg = self.cfg
        (self.out / "config.json").write_text(
            json.dumps({"config": cfg.to_dict(), "environment": environment()}, indent=2)
        )
        self._status("loading data")
        ds = load_for_config(cfg, progress=self._status)
        folds = make_task_folds(ds, cfg)
        n_models = 1 + len(cfg.baselines)
        if self.rep is not None:
            self.rep.start_folds(n_models * len(folds))
        self._status(f"{len(ds)} trials, {len(folds)} folds: baselines")
        self.run_baselines(ds, folds)
        self._status(f"{len(ds)} trials, {len(folds)} folds: {cfg.model}")
        self.run_model(ds, folds)
        metrics = self.summarise(ds, folds)
        self._write_predictions(ds)
        (self.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        report.plot_confusion_matrices(metrics, self.out / "confusion_matrix.png")
        report.plot_learning_curves(self.histories, self.out / "learning_curves.png")
        if self.attention:
            report.plot_attention(self.attention, ds, self.out / "attention.png")
        return metrics

    def summarise(self, ds: EpochsDataset, folds: list[TaskFold]) -> dict:
        models = [self.cfg.model, *self.cfg.baselines]
        agg: dict[str, dict] = {}
        for task in ds.tasks:
            agg[task] = {}
            for model in models:
                recs = [r for r in self.records if r["task"] == task and r["model"] == model]
                a = aggregate(recs, METRIC_KEYS)
                cm = np.sum([r["confusion_matrix"] for r in recs], axis=0).tolist()
                agg[task][model] = {**a, "per_class": _aggregate_per_class(recs, ds.class_names), "confusion_matrix": cm}
        return {
            "dataset": self.cfg.dataset,
            "class_names": list(ds.class_names),
            "tasks": ds.tasks,
            "models": models,
            "n_trials": len(ds),
            "n_folds": len(folds),
            "engine": getattr(self, "engine", {}),
            "aggregate": agg,
            "folds": self.records,
        }

    def _write_predictions(self, ds: EpochsDataset) -> None:
        if not self.predictions:
            return
        with open(self.out / "predictions.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.predictions[0]))
            w.writeheader()
            w.writerows(self.predictions)
