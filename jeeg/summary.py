"""Scores of a run: one record per (model, fold), and ``metrics.json``'s tables and statistics.

A fold's record (:func:`fold_record`) holds its metrics (:func:`jeeg.metrics.classification_metrics`)
on the test part. :func:`summarise` selects the grid point of a sweep on validation only and
aggregates the chosen records as mean ± std over folds and over subjects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jeeg.config import CVConfig
from jeeg.data import EpochsDataset
from jeeg.folds import TaskFold, grid_settings, record_id
from jeeg.metrics import METRIC_KEYS, aggregate, classification_metrics


def fold_record(model: str, tf: TaskFold, ds: EpochsDataset, y_pred: np.ndarray, extra: dict) -> dict:
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


def aggregate_per_class(records: list[dict], class_names) -> dict:
    """Per-class precision/recall/F1: ``{class: {metric: {"over_folds", "over_subjects"}}}``."""
    keys = [(c, m) for c in class_names for m in ("precision", "recall", "f1")]
    flat = [{"subject": r["subject"], **{f"{c}/{m}": r["per_class"][c][m] for c, m in keys}} for r in records]
    a = aggregate(flat, [f"{c}/{m}" for c, m in keys])
    return {
        c: {m: {over: a[over][f"{c}/{m}"] for over in ("over_folds", "over_subjects")} for m in ("precision", "recall", "f1")}
        for c in class_names
    }


def summarise(cfg: CVConfig, ds: EpochsDataset, records: list[dict], n_folds: int, engine: dict) -> dict:
    """metrics.json: per-fold records and mean ± std per task and model.

    In a sweep (``grid``), the grid point with the best mean validation score (``monitor``,
    over all folds and tasks) is chosen on validation only; the table reports its test scores,
    and ``sweep`` lists every grid point's validation and test means.
    """
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
            agg[task][model] = {**a, "per_class": aggregate_per_class(recs, ds.class_names), "confusion_matrix": cm}
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
        "n_folds": n_folds,
        "engine": engine,
        "failed_members": failed,
        **out,
        "aggregate": agg,
        "folds": records,
    }
