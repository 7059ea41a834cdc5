"""Classification metrics per fold, and their aggregation over folds and over subjects.

All returned values are plain Python ``float``/``int`` (JSON-serialisable). Metrics come from
scikit-learn (Pedregosa et al. 2011, JMLR 12:2825-2830); Cohen's kappa is Cohen (1960),
doi:10.1177/001316446002000104.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Mapping, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from jeeg.errors import ConfigError, DataError

METRIC_KEYS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro", "f1_weighted")


def classification_metrics(y_true, y_pred, class_names: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy, Cohen's kappa, macro/weighted F1, per-class scores, confusion.

    Parameters
    ----------
    y_true, y_pred : array of int, shape (n_trials,)
        True and predicted class indices in ``range(len(class_names))``.
    class_names : sequence of str
        Class names, indexed by the labels.

    Returns
    -------
    dict
        ``"accuracy"``, ``"balanced_accuracy"``, ``"cohen_kappa"``, ``"f1_macro"``,
        ``"f1_weighted"`` (floats in [0, 1], kappa in [-1, 1]);
        ``"per_class"``: ``{name: {"precision", "recall", "f1", "support"}}``;
        ``"confusion_matrix"``: ``n_classes`` lists of ``n_classes`` ints, rows = true class,
        columns = predicted class.

    Notes
    -----
    * F1 scores use ``labels=range(n_classes)`` and ``zero_division=0``: a class absent from both
      ``y_true`` and ``y_pred`` counts as F1 = 0 in the macro mean (and weight 0 in the weighted one).
    * Balanced accuracy is the mean recall over the classes present in ``y_true``.
    * Kappa is 0.0 (not NaN) where it is undefined, e.g. when ``y_true`` and ``y_pred`` are both
      the same single class; a constant prediction otherwise gives kappa 0 by definition.

    Raises
    ------
    DataError
        Empty or mismatched inputs, or labels outside ``range(len(class_names))``.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    n = len(class_names)
    if y_true.size == 0 or y_true.shape != y_pred.shape:
        raise DataError(f"y_true and y_pred must be non-empty and equal in length; got {y_true.shape}, {y_pred.shape}")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.min() < 0 or arr.max() >= n:
            raise DataError(f"{name} holds labels outside 0..{n - 1} (class_names={tuple(class_names)})")
    labels = list(range(n))
    with warnings.catch_warnings():  # classes absent from y_true, undefined kappa: handled as documented
        warnings.filterwarnings("ignore", category=UserWarning)  # UndefinedMetricWarning is a subclass
        bal = balanced_accuracy_score(y_true, y_pred)
        kappa = cohen_kappa_score(y_true, y_pred, labels=labels, replace_undefined_by=0.0)
    prec, rec, f1, sup = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(bal),
        "cohen_kappa": 0.0 if not np.isfinite(kappa) else float(kappa),
        "f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "per_class": {
            str(name): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, prec, rec, f1, sup)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).astype(int).tolist(),
    }
    return out


def _summary(values: Sequence[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=0)), "n": int(arr.size)}


def aggregate(records: Iterable[Mapping], keys: Sequence[str] = METRIC_KEYS) -> dict:
    """Mean and standard deviation of metrics over folds and over subjects.

    Parameters
    ----------
    records : iterable of mapping
        One per fold, each with ``"subject"`` (int, or None for a fold whose test part is not a
        single subject, e.g. ``subject_group_kfold``) and a number under every key of ``keys``.
    keys : sequence of str
        Metrics to aggregate.

    Returns
    -------
    dict
        ``{"over_folds": {key: {"mean", "std", "n"}}, "over_subjects": {key: {"mean", "std", "n"}}}``.
        ``over_folds`` treats each record as one unit. ``over_subjects`` first averages the folds
        of each subject, then takes mean and std across subjects; each record with subject None is
        its own unit there (it cannot be merged with any other). ``n`` is the number of units.
        Standard deviations are population std (``ddof=0``).

    Raises
    ------
    ConfigError
        No records, or a record lacking ``"subject"`` or one of ``keys``.
    """
    records = list(records)
    if not records:
        raise ConfigError("aggregate() needs at least one record")
    for i, rec in enumerate(records):
        lacking = [k for k in ("subject", *keys) if k not in rec]
        if lacking:
            raise ConfigError(f"metric record {i} lacks key(s) {lacking}; it has {sorted(rec)}")
    units: dict[object, list[Mapping]] = {}
    for i, rec in enumerate(records):
        unit = ("fold", i) if rec["subject"] is None else ("subject", int(rec["subject"]))
        units.setdefault(unit, []).append(rec)
    over_folds = {k: _summary([rec[k] for rec in records]) for k in keys}
    over_subjects = {
        k: _summary([np.mean([float(rec[k]) for rec in recs]) for recs in units.values()]) for k in keys
    }
    return {"over_folds": over_folds, "over_subjects": over_subjects}


def format_mean_std(mean: float, std: float, scale: float = 100, digits: int = 1) -> str:
    """``"71.3 ± 4.2"`` for ``mean=0.7134, std=0.0421`` (both multiplied by ``scale``)."""
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
