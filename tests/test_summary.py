"""metrics.json statistics (jeeg.summary): per-subject scores of cross-subject folds and paired
Wilcoxon tests over subjects; the learning-curve plot's honesty about how many folds it averages."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon

from jeeg.data import EpochsDataset
from jeeg.folds import TaskFold
from jeeg.splits import Fold
from jeeg.summary import fold_record, paired_tests, subject_means, subject_scores


def _ds():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0], np.int32)
    subject = np.array([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], np.int32)
    n = len(y)
    return EpochsDataset(X=np.zeros((n, 2, 4), np.float32), y=y, subject=subject, run=np.ones(n, np.int32),
                         trial=np.arange(n, dtype=np.int32), task=np.array(["t"] * n), onset=np.zeros(n),
                         class_names=("a", "b"), sfreq=10.0, ch_names=("C3", "C4"))


def test_group_fold_record_scores_each_test_subject_on_its_own_trials():
    ds = _ds()
    test = np.arange(4, 12)  # subjects 2 and 3
    fold = Fold("groups-f0", "subject_group_kfold", 0, np.arange(4), np.array([], int), test, (2, 3), True)
    y_pred = np.array([0, 1, 0, 1, 1, 1, 1, 1])  # subject 2 all right; subject 3: 1 of 4 right
    rec = fold_record("m", TaskFold("t", fold, fold.train, fold.val, fold.test), ds, y_pred, {})
    assert rec["subject"] is None
    assert rec["per_subject"]["2"]["accuracy"] == 1.0
    assert rec["per_subject"]["3"]["accuracy"] == 0.25
    # subject 3 has 3 of class a (all wrong) and 1 of b (right): balanced accuracy (0 + 1) / 2
    assert rec["per_subject"]["3"]["balanced_accuracy"] == 0.5
    assert rec["accuracy"] == pytest.approx(5 / 8)
    rows = subject_scores([rec])
    assert [r["subject"] for r in rows] == [2, 3]
    assert subject_means([rec, {**rec, "per_subject": {"2": {**rec["per_subject"]["2"], "accuracy": 0.5}}}],
                         "accuracy") == {2: 0.75, 3: 0.25}


def test_paired_tests_match_scipy_and_pick_the_best_baseline():
    rng = np.random.default_rng(0)
    subjects = range(1, 18)
    base_a = {s: 0.55 + 0.05 * rng.standard_normal() for s in subjects}
    base_b = {s: v - 0.02 for s, v in base_a.items()}  # always worse than a
    net = {s: v + 0.04 + 0.03 * rng.standard_normal() for s, v in base_a.items()}
    res = paired_tests({"net": net, "a": base_a, "b": base_b}, ["net"], ["b", "a"])
    assert res["best_baseline"] == "a"
    (row,) = res["tests"]
    d = np.array([net[s] - base_a[s] for s in subjects])
    ref = wilcoxon(d)
    assert row["p_value"] == pytest.approx(ref.pvalue) and row["statistic"] == pytest.approx(ref.statistic)
    assert row["n_subjects"] == 17 and row["wins"] + row["losses"] + row["ties"] == 17
    assert row["mean_difference"] == pytest.approx(d.mean())
    assert row["p_value"] < 0.05  # a 4-point shift with 3-point noise over 17 subjects is detected


def test_paired_tests_without_differences_give_no_p_value():
    same = {1: 0.5, 2: 0.6, 3: 0.7}
    res = paired_tests({"net": same, "a": dict(same)}, ["net"], ["a"])
    assert res["tests"][0]["p_value"] is None and res["tests"][0]["ties"] == 3
    assert paired_tests({"net": same}, ["net"], [])["best_baseline"] is None


def test_learning_curves_show_the_folds_behind_each_mean(tmp_path, monkeypatch):
    import matplotlib.axes

    from jeeg import report

    steps = {}
    real_step = matplotlib.axes.Axes.step

    def spy(self, x, y, *a, **k):
        steps[k.get("label")] = np.asarray(y)
        return real_step(self, x, y, *a, **k)

    monkeypatch.setattr(matplotlib.axes.Axes, "step", spy)
    nan = np.nan
    hist = [  # fold 0 stops after 2 epochs, fold 1 after 4
        {"task": "t", "fold": "f0", "best_epoch": 1, "train_loss": [1, 0.9, nan, nan], "val_loss": [1, 0.8, nan, nan],
         "train_accuracy": [0.5, 0.6, nan, nan], "val_accuracy": [0.5, 0.6, nan, nan]},
        {"task": "t", "fold": "f1", "best_epoch": 3, "train_loss": [1, 0.7, 0.5, 0.1], "val_loss": [1, 0.9, 0.8, 0.7],
         "train_accuracy": [0.5, 0.6, 0.8, 1.0], "val_accuracy": [0.5, 0.5, 0.6, 1.0]},
    ]
    report.plot_learning_curves(hist, tmp_path / "lc.png")
    assert (tmp_path / "lc.png").stat().st_size > 0
    assert steps["folds still training"].tolist() == [2, 2, 1, 1]
