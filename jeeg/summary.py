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
from jeeg.report import display_name, model_label


def fold_record(model: str, tf: TaskFold, ds: EpochsDataset, y_pred: np.ndarray, extra: dict) -> dict:
    """One (model, fold)'s record: its metrics on the test part (:func:`jeeg.metrics.classification_metrics`),
    the fold's sizes and ``extra`` (setting, selected epoch, ...).

    A fold whose test part spans several subjects (``subject_group_kfold``) also gets
    ``per_subject``: ``{subject: {metric: value}}`` on each test subject's own trials, so that every
    cross-subject fold yields per-subject scores.
    """
    names = list(ds.class_names)
    m = classification_metrics(ds.y[tf.test], y_pred, names)
    subject = tf.fold.subject
    per_subject = None
    if subject is None and len(tf.fold.test_subjects) > 1:
        y_pred = np.asarray(y_pred)
        subj = ds.subject[tf.test]
        per_subject = {}
        for s in tf.fold.test_subjects:
            sel = subj == s
            if sel.any():
                ms = classification_metrics(ds.y[tf.test][sel], y_pred[sel], names)
                per_subject[str(int(s))] = {k: ms[k] for k in METRIC_KEYS}
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
        **({"per_subject": per_subject} if per_subject is not None else {}),
    }


def subject_scores(records: list[dict], keys=METRIC_KEYS) -> list[dict]:
    """Per-subject scores of records of one model and task: ``[{"subject", key: value, ...}]``.

    A fold's test subject scores its whole test part; a fold with several test subjects gives
    each of them its own trials' scores (``per_subject``); a record of neither kind (older runs) is
    kept as its own unit with ``subject`` None. Several records of one subject (its folds in
    within-subject CV, or seeds) are averaged by :func:`jeeg.metrics.aggregate`.
    """
    out = []
    for r in records:
        if r.get("per_subject"):
            out += [{"subject": int(s), **{k: v[k] for k in keys}} for s, v in r["per_subject"].items()]
        else:
            out.append({"subject": r["subject"], **{k: r[k] for k in keys}})
    return out


def subject_means(records: list[dict], key: str) -> dict[int, float]:
    """``{subject: mean of key over that subject's scores}`` (:func:`subject_scores`; subjects only)."""
    acc: dict[int, list[float]] = {}
    for row in subject_scores(records, (key,)):
        if row["subject"] is not None:
            acc.setdefault(int(row["subject"]), []).append(float(row[key]))
    return {s: float(np.mean(v)) for s, v in sorted(acc.items())}


def _subject_table(records: list[dict]) -> dict[int, dict[str, float]]:
    """``{subject: {metric: mean over that subject's scores}}`` for every metric key."""
    cols = {k: subject_means(records, k) for k in METRIC_KEYS}
    return {s: {k: cols[k][s] for k in METRIC_KEYS} for s in cols[METRIC_KEYS[0]]}


def paired_tests(per_subject: dict[str, dict[int, float]], models: list[str], baselines: list[str],
                 metric: str = "balanced_accuracy") -> dict:
    """Paired Wilcoxon signed-rank tests over subjects of every model against the best baseline.

    Parameters
    ----------
    per_subject : dict
        ``{name: {subject: score}}`` for every model and baseline (e.g. :func:`subject_means`).
    models, baselines : list of str
        Names in ``per_subject``. The best baseline is the one with the highest mean score over
        subjects — the strongest comparison, picked after the fact, which can only make a model's
        test harder.
    metric : str
        The metric the scores are (recorded in the result).

    Returns
    -------
    dict
        ``{"metric", "best_baseline", "tests": [{"model", "baseline", "n_subjects",
        "mean_difference", "median_difference", "wins", "losses", "ties", "statistic",
        "p_value", "alternative", "method"}]}``. Differences are model minus baseline, over the
        subjects both have; ``p_value`` is two-sided (``scipy.stats.wilcoxon``; Wilcoxon F (1945),
        Biometrics Bulletin 1(6):80-83, doi:10.2307/3001968; zero differences dropped,
        ``zero_method="wilcox"``) and None with fewer than 2 non-zero differences.
    """
    from scipy.stats import wilcoxon

    means = {b: float(np.mean(list(per_subject[b].values()))) for b in baselines if per_subject.get(b)}
    out: dict[str, Any] = {"metric": metric, "best_baseline": None, "tests": []}
    if not means:
        return out
    best = max(means, key=lambda b: (means[b], b))
    out["best_baseline"] = best
    for m in models:
        common = sorted(set(per_subject.get(m, {})) & set(per_subject[best]))
        d = np.array([per_subject[m][s] - per_subject[best][s] for s in common])
        row = {"model": m, "baseline": best, "n_subjects": len(common),
               "mean_difference": float(d.mean()) if d.size else None,
               "median_difference": float(np.median(d)) if d.size else None,
               "wins": int(np.sum(d > 0)), "losses": int(np.sum(d < 0)), "ties": int(np.sum(d == 0)),
               "statistic": None, "p_value": None, "alternative": "two-sided", "method": "wilcoxon signed-rank"}
        if np.count_nonzero(d) >= 2:
            res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
            row.update(statistic=float(res.statistic), p_value=float(res.pvalue))
        out["tests"].append(row)
    return out


def aggregate_per_class(records: list[dict], class_names) -> dict:
    """Per-class precision/recall/F1: ``{class: {metric: {"over_folds", "over_subjects"}}}``."""
    keys = [(c, m) for c in class_names for m in ("precision", "recall", "f1")]
    flat = [{"subject": r["subject"], **{f"{c}/{m}": r["per_class"][c][m] for c, m in keys}} for r in records]
    a = aggregate(flat, [f"{c}/{m}" for c, m in keys])
    return {
        c: {m: {over: a[over][f"{c}/{m}"] for over in ("over_folds", "over_subjects")} for m in ("precision", "recall", "f1")}
        for c in class_names
    }


#: The columns of MOABB's evaluation results (``moabb.evaluations``) that a run's ``scores.csv`` fills.
MOABB_COLUMNS = ("score", "subject", "session", "channels", "n_sessions", "dataset", "pipeline")


def moabb_score_rows(metrics: dict, n_chans: int, score: str = "balanced_accuracy") -> list[dict]:
    """``scores.csv``: one row per task, model and test subject of ``metrics`` (:func:`summarise`),
    in MOABB's result columns, so that ``moabb.analysis`` (``score_plot``,
    ``compute_dataset_statistics``) reads a jeeg run as it reads a MOABB evaluation.

    ``score`` is the subject's ``score`` metric (default balanced accuracy, in [0, 1]; MOABB's own
    evaluations score two classes with ROC AUC), averaged as in ``per_subject``; the column
    ``metric`` names it and the other metrics follow. ``dataset`` is ``"<dataset>:<task>"`` (MOABB
    compares pipelines within a dataset and paradigm), ``pipeline`` the model's name in the run's
    tables, ``session`` ``"all"``: a subject's score pools its sessions and runs."""
    rows = []
    for task, models in metrics["per_subject"].items():
        for model, subjects in models.items():
            for subject, scores in sorted(subjects.items(), key=lambda kv: int(kv[0])):
                rows.append({"score": scores[score], "subject": int(subject), "session": "all", "channels": n_chans,
                             "n_sessions": 1, "dataset": f"{metrics['dataset']}:{task}",
                             "pipeline": model_label(metrics, model), "metric": score,
                             **{k: v for k, v in scores.items() if k != score}})
    return rows


def summarise(cfg: CVConfig, ds: EpochsDataset, records: list[dict], n_folds: int, engine: dict) -> dict:
    """metrics.json: per-fold records and mean ± std per task and model.

    In a sweep (``grid``), the grid point with the best mean validation score (``monitor``,
    over all folds and tasks) is chosen on validation only; the table reports its test scores,
    and ``sweep`` lists every grid point's validation and test means.

    ``aggregate[task][model]`` holds ``over_folds`` and ``over_subjects`` (mean ± std, population
    std): a subject's score is the mean of its scores (its folds within-subject, its own test
    trials in a cross-subject fold, averaged over seeds). ``per_subject[task][model][subject]``
    lists them, and ``statistics[task]`` holds the paired Wilcoxon signed-rank test over subjects of
    the model against the best baseline on balanced accuracy (:func:`paired_tests`).
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
    per_subject: dict[str, dict] = {}
    stats: dict[str, dict] = {}
    for task in ds.tasks:
        agg[task] = {}
        for model in models:
            recs = [r for r in records_table if r["task"] == task and r["model"] == model]
            a = aggregate(recs, METRIC_KEYS)
            a["over_subjects"] = aggregate(subject_scores(recs), METRIC_KEYS)["over_subjects"]
            cm = np.sum([r["confusion_matrix"] for r in recs], axis=0).tolist()
            agg[task][model] = {**a, "per_class": aggregate_per_class(recs, ds.class_names), "confusion_matrix": cm}
            per_subject.setdefault(task, {})[model] = {
                str(s): {k: v for k, v in row.items()} for s, row in _subject_table(recs).items()}
        stats[task] = paired_tests(
            {m: {int(s): v["balanced_accuracy"] for s, v in per_subject[task][m].items()} for m in models},
            [cfg.model], list(cfg.baselines), "balanced_accuracy")
    failed = [record_id(r) for r in records if r.get("failed")]
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
        "per_subject": per_subject,
        "statistics": stats,
        "folds": records,
    }
