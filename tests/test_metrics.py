"""Per-fold metrics and their aggregation, checked against hand arithmetic."""

from __future__ import annotations

import json
import math

import pytest

from jeeg.errors import ConfigError, DataError
from jeeg.metrics import METRIC_KEYS, aggregate, classification_metrics, format_mean_std


def test_hand_computed_example():
    # confusion (rows true, cols pred): [[2,1,0],[0,1,1],[0,0,1]]
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = classification_metrics(y_true, y_pred, ("a", "b", "c"))
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # accuracy: 4 correct of 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls 2/3, 1/2, 1/1 -> mean 13/18
    assert m["balanced_accuracy"] == pytest.approx(13 / 18)
    # p_o = 2/3; p_e = (3*2 + 2*2 + 1*2) / 36 = 1/3; kappa = (2/3 - 1/3) / (1 - 1/3) = 1/2
    assert m["cohen_kappa"] == pytest.approx(0.5)
    # precisions 1, 1/2, 1/2; F1 = 2PR/(P+R): a 4/5, b 1/2, c 2/3
    assert m["f1_macro"] == pytest.approx((4 / 5 + 1 / 2 + 2 / 3) / 3)  # 59/90
    assert m["f1_weighted"] == pytest.approx((3 * 4 / 5 + 2 * 1 / 2 + 1 * 2 / 3) / 6)  # 61/90
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["c"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["support"] == 1
    assert set(METRIC_KEYS) <= set(m)
    json.dumps(m)  # plain Python types only
    assert all(type(m[k]) is float for k in METRIC_KEYS)
    assert type(m["per_class"]["b"]["support"]) is int


def test_constant_prediction_has_zero_kappa():
    m = classification_metrics([0, 1, 1, 0], [1, 1, 1, 1], ("l", "r"))
    assert m["cohen_kappa"] == 0.0
    assert m["accuracy"] == 0.5 and m["balanced_accuracy"] == 0.5
    # undefined kappa (one class only, predicted perfectly) is reported as 0.0, not NaN
    m = classification_metrics([1, 1, 1], [1, 1, 1], ("l", "r"))
    assert m["cohen_kappa"] == 0.0 and m["accuracy"] == 1.0
    assert m["f1_macro"] == 0.5  # class "l" absent from both: F1 0 under labels=range(2)


def test_bad_labels_raise():
    with pytest.raises(DataError, match="y_pred"):
        classification_metrics([0, 1], [0, 2], ("l", "r"))
    with pytest.raises(DataError):
        classification_metrics([], [], ("l", "r"))


def test_aggregate_over_folds_and_subjects():
    records = [
        {"subject": 1, "accuracy": 0.8, "cohen_kappa": 0.6},
        {"subject": 1, "accuracy": 0.6, "cohen_kappa": 0.2},
        {"subject": 2, "accuracy": 0.9, "cohen_kappa": 0.8},
        {"subject": None, "accuracy": 0.5, "cohen_kappa": 0.0},
    ]
    agg = aggregate(records, keys=("accuracy", "cohen_kappa"))
    # folds: mean 2.8/4 = 0.7; deviations ±0.1, ±0.2 -> var 0.10/4 = 0.025
    assert agg["over_folds"]["accuracy"] == pytest.approx({"mean": 0.7, "std": math.sqrt(0.025), "n": 4})
    # subjects: S1 -> 0.7, S2 -> 0.9, None -> 0.5; mean 0.7, var (0 + 0.04 + 0.04)/3
    assert agg["over_subjects"]["accuracy"] == pytest.approx({"mean": 0.7, "std": math.sqrt(0.08 / 3), "n": 3})
    # kappa: folds mean 1.6/4 = 0.4, var (0.04+0.04+0.16+0.16)/4 = 0.1; subjects 0.4, 0.8, 0.0
    assert agg["over_folds"]["cohen_kappa"] == pytest.approx({"mean": 0.4, "std": math.sqrt(0.1), "n": 4})
    assert agg["over_subjects"]["cohen_kappa"] == pytest.approx(
        {"mean": 0.4, "std": math.sqrt((0.0 + 0.16 + 0.16) / 3), "n": 3}
    )
    json.dumps(agg)


def test_aggregate_default_keys_and_errors():
    rec = {"subject": 3, **{k: 0.5 for k in METRIC_KEYS}}
    agg = aggregate([rec, dict(rec)])
    assert set(agg["over_subjects"]) == set(METRIC_KEYS)
    assert agg["over_subjects"]["f1_macro"] == {"mean": 0.5, "std": 0.0, "n": 1}
    with pytest.raises(ConfigError, match="record 0 lacks"):
        aggregate([{"subject": 1, "accuracy": 0.5}])
    with pytest.raises(ConfigError):
        aggregate([])


def test_format_mean_std():
    assert format_mean_std(0.7134, 0.0421) == "71.3 ± 4.2"
    assert format_mean_std(0.5, 0.25, scale=1, digits=2) == "0.50 ± 0.25"
