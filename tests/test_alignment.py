"""Euclidean alignment and Riemannian re-centring (jeeg.alignment), and proof that no step of a
cross-subject run reads the test subject's labels."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from jeeg.alignment import align, align_dataset, reference_matrix
from jeeg.data import EpochsDataset
from jeeg.errors import ConfigError, DataError


def _trials(rng, n, c=6, t=200, mix=None):
    mix = np.eye(c) if mix is None else mix
    return np.einsum("ij,njt->nit", mix, rng.standard_normal((n, c, t))).astype(np.float32)


def _dataset(seed=0, n_subjects=3, n_per=24, c=6, t=128):
    """Synthetic trials: every subject has its own channel mixing (a different 'head'), and the
    class changes the variance of channel 0 vs channel 1."""
    rng = np.random.default_rng(seed)
    X, y, subj = [], [], []
    for s in range(1, n_subjects + 1):
        mix = np.eye(c) + 0.8 * rng.standard_normal((c, c))
        lab = np.tile([0, 1], n_per // 2)
        src = rng.standard_normal((n_per, c, t))
        src[lab == 0, 0] *= 2.0
        src[lab == 1, 1] *= 2.0
        X.append(np.einsum("ij,njt->nit", mix, src) * 10.0)
        y.append(lab)
        subj.append(np.full(n_per, s))
    n = n_per * n_subjects
    return EpochsDataset(
        X=np.concatenate(X).astype(np.float32), y=np.concatenate(y).astype(np.int32),
        subject=np.concatenate(subj).astype(np.int32), run=np.ones(n, np.int32),
        trial=np.tile(np.arange(n_per), n_subjects).astype(np.int32), task=np.array(["left_right_imagined"] * n),
        onset=np.zeros(n), class_names=("left", "right"), sfreq=64.0,
        ch_names=tuple(f"C{i}" for i in range(c)), info={"dataset": "synthetic"},
    )


def _covs(X):
    X = X.astype(np.float64)  # He & Wu's R_i = X_i X_i^T / n_times (eq. 4)
    return np.einsum("nct,ndt->ncd", X, X) / X.shape[-1]


def test_euclidean_alignment_centres_each_subject_at_identity():
    rng = np.random.default_rng(1)
    mixes = [np.eye(6) + 0.7 * rng.standard_normal((6, 6)) for _ in range(2)]
    X = np.concatenate([_trials(rng, 30, mix=m) * s for m, s in zip(mixes, (5.0, 40.0))])
    groups = np.repeat([1, 2], 30)
    Xa = align(X, groups, "euclidean")
    assert Xa.shape == X.shape and Xa.dtype == np.float32
    for g in (1, 2):
        np.testing.assert_allclose(_covs(Xa[groups == g]).mean(0), np.eye(6), atol=1e-4)
    # before alignment the subjects' mean covariances were far from the identity and from each other
    assert np.abs(_covs(X[groups == 2]).mean(0) - np.eye(6)).max() > 100


def test_riemannian_recentring_centres_at_identity_in_the_riemannian_mean():
    from pyriemann.geometry.mean import mean_riemann

    rng = np.random.default_rng(2)
    X = _trials(rng, 40, mix=np.eye(6) + 0.5 * rng.standard_normal((6, 6))) * 20.0
    Xa = align(X, np.zeros(40, int), "riemann")
    np.testing.assert_allclose(mean_riemann(_covs(Xa)), np.eye(6), atol=1e-4)
    # the arithmetic mean is not the identity then (it is for "euclidean")
    assert np.abs(_covs(Xa).mean(0) - np.eye(6)).max() > 1e-3
    np.testing.assert_allclose(reference_matrix(X, "riemann"), mean_riemann(_covs(X)), rtol=1e-6)


def test_alignment_errors_name_the_unit_and_the_fix():
    rng = np.random.default_rng(3)
    X = _trials(rng, 10)
    X[:, 5] = X[:, 4]  # a duplicated channel: rank-deficient
    with pytest.raises(DataError, match=r"unit subject 7.*rank-deficient.*channels"):
        align(X, np.array(["subject 7"] * 10), "euclidean")
    with pytest.raises(DataError, match="alignment must be one of"):
        align(X, np.zeros(10), "procrustes")
    with pytest.raises(DataError, match="groups has shape"):
        align(X, np.zeros(9), "euclidean")


def test_alignment_key_is_validated():
    from jeeg.config import make_config

    with pytest.raises(ConfigError, match="alignment=.* is not a valid alignment; choose one of: none, euclidean, riemann"):
        make_config({"alignment": "ea"})
    assert make_config({"alignment": "riemann"}).alignment == "riemann"


def test_alignment_reads_no_labels():
    ds = _dataset()
    rng = np.random.default_rng(0)
    y = ds.y.copy()
    y[ds.subject == 3] = rng.permutation(y[ds.subject == 3])
    y[ds.subject == 1] = 1 - y[ds.subject == 1]
    from dataclasses import replace

    a = align_dataset(ds, "euclidean")
    b = align_dataset(replace(ds, y=y), "euclidean")
    assert a.X.tobytes() == b.X.tobytes()
    assert not np.array_equal(a.X, ds.X)
    assert a.info["alignment"] == {"method": "euclidean", "unit": "subject x task", "labels_used": False}


@pytest.mark.slow
def test_test_subject_labels_never_reach_a_cross_subject_fold(tmp_path, monkeypatch):
    """A whole LOSO run (alignment, folds, baselines, network training, validation and epoch
    selection) gives bitwise-identical predictions on a test subject whether that subject's labels
    are true or shuffled: nothing in its fold reads them (only the scoring does)."""
    from dataclasses import replace

    import jeeg.cv
    from jeeg.config import make_config
    from jeeg.cv import CVRun
    from jeeg.rundir import prepare_out_dir

    ds = _dataset(n_subjects=4)
    y = ds.y.copy()
    y[ds.subject == 4] = 1 - y[ds.subject == 4]  # every label of subject 4 flipped
    shuffled = replace(ds, y=y)
    cfg = make_config({
        "subjects": "1-4", "task": "left_right_imagined", "scheme": "loso", "val_fraction": 0.34,
        "alignment": "euclidean", "model": "eegnet",
        "model_kwargs": {"kernel_length": 8, "F1": 4, "D": 1, "F2": 4, "pool1": 2, "pool2": 4, "sep_kernel_length": 4},
        "batch_size": 16, "max_epochs": 3, "patience": 3, "checkpoint_every": 0, "baselines": ["csp_lda", "logvar_lr"],
    })
    preds = {}
    for name, data in (("true", ds), ("flipped", shuffled)):
        monkeypatch.setattr(jeeg.cv, "load_dataset", lambda *a, data=data, **k: data)
        out = tmp_path / name
        prepare_out_dir(out, overwrite=False)
        CVRun(cfg, out).run()
        with open(out / "predictions.csv") as fh:
            preds[name] = [r for r in csv.DictReader(fh) if r["fold"] == "loso-S004"]
    fields = ["model", "index", "y_pred", "p_left", "p_right"]
    assert len(preds["true"]) == 3 * 24  # eegnet + 2 baselines on subject 4's 24 trials
    assert [[r[f] for f in fields] for r in preds["true"]] == [[r[f] for f in fields] for r in preds["flipped"]]
    # the labels did differ, so the scores do
    assert all(a["y_true"] != b["y_true"] for a, b in zip(preds["true"], preds["flipped"]))
