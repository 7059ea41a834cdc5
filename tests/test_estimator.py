"""jeeg.EEGClassifier: scikit-learn's estimator contract on the compiled engine.

Synthetic trials (8 channels x 128 samples at 128 Hz; class "right" carries a 10 Hz rhythm) keep
every fit to seconds. Nothing here needs data files or a GPU.
"""

from __future__ import annotations

import mne
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils import estimator_checks

from jeeg import ConfigError, DataError, EEGClassifier, EpochsDataset
from jeeg.engine.loop import CompiledLoop
from jeeg.run import estimator as est_mod

SFREQ, N_CHANS, N_TIMES = 128.0, 8, 128


def _trials(n: int = 72, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array(["left", "right"] * (n // 2))
    X = 10 * rng.standard_normal((n, N_CHANS, N_TIMES)).astype(np.float32)
    X[y == "right"] += 30 * np.sin(2 * np.pi * 10 * np.arange(N_TIMES) / SFREQ).astype(np.float32)
    return X, y


def _clf(**kw) -> EEGClassifier:
    return EEGClassifier(**{"model": "eegnet", "sfreq": SFREQ, "max_epochs": 15, "batch_size": 16, "patience": 15,
                            **kw})


@pytest.fixture(scope="module")
def data():
    return _trials()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return _clf().fit(X[:48], y[:48])


def test_fit_learns_and_predicts_in_the_users_labels(fitted, data):
    X, y = data
    assert list(fitted.classes_) == ["left", "right"]
    pred = fitted.predict(X[48:])
    assert pred.dtype.kind == "U" and set(pred) <= {"left", "right"}
    assert fitted.score(X[48:], y[48:]) >= 0.8  # chance is 0.5: it learned the 10 Hz rhythm
    proba = fitted.predict_proba(X[48:])
    assert proba.shape == (24, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert (fitted.classes_[proba.argmax(1)] == pred).all()
    # a validation part, stratified, disjoint from training, and an epoch selected on it
    assert len(fitted.val_indices_) == 10  # ceil(0.2 x 48), as sklearn rounds a test part
    assert not set(fitted.train_indices_) & set(fitted.val_indices_)
    assert sorted(set(y[:48][fitted.val_indices_])) == ["left", "right"]
    assert fitted.history_["val_loss"].shape[0] == 1 and 0 <= fitted.best_epoch_[0] < 15


def test_predict_covers_more_trials_than_one_evaluation_block(fitted, data):
    """predict runs blocks of the trainer's evaluation size; 72 trials span several blocks, and a
    trial's probability does not depend on the block it falls in."""
    X, _ = data
    whole = fitted.predict_proba(X)
    assert len(whole) == 72 and fitted.trainer_.n_eval_pad < 72
    np.testing.assert_allclose(whole[50:60], fitted.predict_proba(X[50:60]), atol=1e-5)


def test_get_params_set_params_clone():
    est = _clf(model_kwargs={"F1": 4, "D": 2, "F2": 8}, n_seeds=3)
    params = est.get_params()
    assert params["model"] == "eegnet" and params["n_seeds"] == 3 and params["model_kwargs"]["F1"] == 4
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    twin.set_params(lr=3e-3, n_seeds=1)
    assert twin.lr == 3e-3 and est.lr == 1e-3
    assert not hasattr(twin, "classes_")


@pytest.mark.parametrize("check", [
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
], ids=lambda c: c.__name__)
def test_sklearn_estimator_checks_that_apply(check):
    """sklearn's checks that do not fit. Skipped: every check that fits on tabular data
    (n_samples, n_features), i.e. the rest of ``check_estimator``: EEGClassifier takes trials
    (n_trials, n_chans, n_times) and its networks need n_times of at least their kernels, so a
    2-D array is refused with a DataError by design."""
    check("EEGClassifier", _clf())


def test_cross_val_score_compiles_once(data, monkeypatch):
    """Folds of equal sizes reuse one trainer: the training step is traced once for the first fit
    and never again for the next folds and for a clone fitted on other trials."""
    X, y = data
    traces = []
    step = CompiledLoop._masked_step_one

    def counted(self, *a, **k):
        traces.append(1)
        return step(self, *a, **k)

    monkeypatch.setattr(CompiledLoop, "_masked_step_one", counted)
    est_mod.clear_trainer_cache()
    est = _clf(max_epochs=2)
    clone(est).fit(X[:48], y[:48])
    first = len(traces)
    assert first >= 1
    scores = cross_val_score(est, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert len(scores) == 3 and np.isfinite(scores).all()
    assert len(traces) == first, f"traced {len(traces) - first} more times after the first fit"


def test_grid_search(data):
    X, y = data
    gs = GridSearchCV(_clf(max_epochs=4), {"lr": [1e-3, 3e-3]}, cv=KFold(2, shuffle=True, random_state=0))
    gs.fit(X, y)
    assert gs.best_params_["lr"] in (1e-3, 3e-3)
    assert len(gs.cv_results_["mean_test_score"]) == 2
    assert set(gs.predict(X[:5])) <= {"left", "right"}


def test_seed_members_average_to_the_ensemble(data):
    """n_seeds=2 trains seeds 0 and 1 as members of one program, on the split of ``seed``: member
    0 is the network that seed 0 trains alone, member 1 another one, and the probabilities are
    their mean."""
    X, y = data
    pair = _clf(max_epochs=3, n_seeds=2).fit(X[:48], y[:48])
    members = pair.member_proba(X[48:])
    alone = _clf(max_epochs=3).fit(X[:48], y[:48]).predict_proba(X[48:])
    assert members.shape == (2, 24, 2)
    np.testing.assert_allclose(members[0], alone, atol=1e-5)
    assert np.abs(members[1] - members[0]).max() > 1e-3  # the seeds really differ
    np.testing.assert_allclose(pair.predict_proba(X[48:]), members.mean(0), atol=1e-7)


def test_groups_hold_out_whole_subjects(data):
    X, y = data
    groups = np.repeat([1, 2, 3, 4, 5, 6], 12)
    est = _clf(max_epochs=2, val_fraction=0.34).fit(X, y, groups=groups)
    val_groups, train_groups = set(groups[est.val_indices_]), set(groups[est.train_indices_])
    assert val_groups and not val_groups & train_groups
    with pytest.raises(ConfigError, match="one group"):
        _clf(max_epochs=1).fit(X, y, groups=np.ones(72))


def test_epochs_array_gives_shapes_units_and_labels(data):
    """An mne.EpochsArray in V: jeeg reads µV (get_data(units="uV")), sfreq, channels and the
    event names as labels, without sfreq given to the estimator."""
    X, y = data
    info = mne.create_info([f"C{i}" for i in range(N_CHANS)], SFREQ, "eeg")
    codes = np.where(y == "left", 1, 2)
    events = np.c_[np.arange(72) * 200, np.zeros(72, int), codes]
    epochs = mne.EpochsArray(X * 1e-6, info, events=events, event_id={"left": 1, "right": 2}, verbose=False)
    ds = EpochsDataset.from_epochs(epochs, subject=7)
    np.testing.assert_allclose(ds.X, X, rtol=1e-5)
    assert ds.sfreq == SFREQ and ds.ch_names == tuple(info.ch_names) and set(ds.subject) == {7}
    assert ds.class_names == ("left", "right") and (np.asarray(ds.class_names)[ds.y] == y).all()
    est = EEGClassifier("eegnet", max_epochs=15, batch_size=16, patience=15).fit(epochs[:48])
    assert est.sfreq_ == SFREQ and est.n_chans_ == N_CHANS and list(est.classes_) == ["left", "right"]
    assert est.score(epochs[48:], y[48:]) >= 0.8


def test_bad_input_is_named(fitted, data):
    X, y = data
    with pytest.raises(DataError, match="sfreq"):
        EEGClassifier("eegnet").fit(X, y)
    with pytest.raises(DataError, match=r"\(n_trials, n_chans, n_times\)"):
        _clf().fit(X.reshape(72, -1), y)
    with pytest.raises(DataError, match="8 channels x 128 samples"):
        fitted.predict(X[:, :4])
    with pytest.raises(ConfigError, match="val_fraction"):
        _clf(val_fraction=0.0).fit(X, y)
    with pytest.raises(ConfigError, match="model"):
        _clf(model="no_such_net").fit(X, y)
    with pytest.raises(DataError, match="one class"):
        _clf().fit(X[y == "left"], y[y == "left"])
