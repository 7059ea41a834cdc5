"""Classical baselines on synthetic trials whose classes differ in channel variance.

The trials are white noise at SFREQ = 128 Hz (200 samples, 1.56 s), so every DE band (1-50 Hz)
is below Nyquist and holds a period of its lower edge, and a scaled channel raises every band."""

from __future__ import annotations

import numpy as np
import pytest

from jeeg.baselines import BASELINE_NAMES, BASELINES, band_differential_entropy, fit_predict, log_variance
from jeeg.errors import ConfigError, SplitError
from jeeg.features import differential_entropy


def variance_trials(n_classes: int = 2, per_class: int = 60, n_chans: int = 8, n_times: int = 200, seed: int = 0):
    """Gaussian noise (10 µV) with mixed channels; class c has channel c scaled by 2.5 before mixing."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    src = rng.standard_normal((y.size, n_chans, n_times)) * 10.0
    src[np.arange(y.size), y] *= 2.5
    mix = np.eye(n_chans) + 0.3 * rng.standard_normal((n_chans, n_chans))
    X = np.einsum("ij,njt->nit", mix, src).astype(np.float32)
    order = rng.permutation(y.size)
    return X[order], y[order].astype(np.int32)


SFREQ = 128.0


def _split(X, y):
    half = len(y) // 2
    return X[:half], y[:half], X[half:], y[half:]


@pytest.mark.parametrize("name", list(BASELINES))
def test_two_class_variance_difference_is_learned(name):
    Xtr, ytr, Xte, yte = _split(*variance_trials())
    y_pred, proba = fit_predict(name, Xtr, ytr, Xte, sfreq=SFREQ)
    assert y_pred.dtype == np.int32 and y_pred.shape == (len(yte),)
    assert proba.dtype == np.float32 and proba.shape == (len(yte), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(y_pred, proba.argmax(axis=1))
    assert (y_pred == yte).mean() >= 0.9


@pytest.mark.parametrize("name", list(BASELINES))
def test_shuffled_labels_stay_near_chance(name):
    X, y = variance_trials()
    y = np.random.default_rng(1).permutation(y)
    Xtr, ytr, Xte, yte = _split(X, y)
    y_pred, _ = fit_predict(name, Xtr, ytr, Xte, sfreq=SFREQ)
    assert (y_pred == yte).mean() < 0.75


@pytest.mark.parametrize("name", list(BASELINES))
def test_three_classes(name):
    Xtr, ytr, Xte, yte = _split(*variance_trials(n_classes=3, per_class=40))
    y_pred, proba = fit_predict(name, Xtr, ytr, Xte, sfreq=SFREQ)
    assert proba.shape == (len(yte), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(np.unique(y_pred)) <= {0, 1, 2}
    assert (y_pred == yte).mean() >= 0.8


def test_log_variance_shape_and_value():
    X = np.zeros((2, 3, 4))
    X[0, 1] = [1.0, -1.0, 1.0, -1.0]  # variance 1 µV²
    f = log_variance(X)
    assert f.shape == (2, 3)
    assert f[0, 1] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(f).all()  # flat channels stay finite


def test_errors_and_names():
    assert set(BASELINE_NAMES) == set(BASELINES)
    X = np.zeros((4, 2, 10), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"'svm'.*csp_lda"):
        fit_predict("svm", X, np.array([0, 1, 0, 1]), X)
    with pytest.raises(SplitError, match="two classes"):
        fit_predict("logvar_lr", X, np.zeros(4, dtype=np.int32), X)


def test_band_differential_entropy_is_channel_major_de_of_the_whole_trial():
    X, _ = variance_trials(per_class=3)
    f = band_differential_entropy(X, SFREQ)
    de = differential_entropy(X, SFREQ, window=X.shape[-1] / SFREQ)  # (trials, chans, bands, 1 window)
    assert f.shape == (6, 8 * 5)
    np.testing.assert_array_equal(f[:, 5:10], de[:, 1, :, 0])  # channel 1's five bands
    # Doubling the amplitude adds ln 2 to every value (nats of µV).
    np.testing.assert_allclose(band_differential_entropy(2 * X, SFREQ), f + np.log(2), atol=1e-6)


def test_de_lr_needs_sfreq_and_bands_below_nyquist():
    Xtr, ytr, Xte, _ = _split(*variance_trials())
    with pytest.raises(ConfigError, match="de_lr.*sfreq"):
        fit_predict("de_lr", Xtr, ytr, Xte)
    with pytest.raises(ConfigError, match="Nyquist"):
        fit_predict("de_lr", Xtr, ytr, Xte, sfreq=90.0)  # gamma's 50 Hz edge is above 45 Hz
    # Other baselines ignore sfreq.
    a, _ = fit_predict("logvar_lr", Xtr, ytr, Xte)
    b, _ = fit_predict("logvar_lr", Xtr, ytr, Xte, sfreq=SFREQ)
    np.testing.assert_array_equal(a, b)
