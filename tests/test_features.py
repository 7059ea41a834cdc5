"""DE features, LDS smoothing and temporal frames, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from jeeg.errors import ConfigError, DataError
from jeeg.features import BANDS, differential_entropy, lds_smooth, temporal_frames

FS = 200.0


def _gauss_de(var):
    return 0.5 * np.log(2 * np.pi * np.e * np.asarray(var))


def test_de_of_white_noise_matches_straightforward_and_theoretical_variance():
    rng = np.random.default_rng(0)
    sigma = 3.0
    X = sigma * rng.standard_normal((2, 4, int(30 * FS)))  # 30 s, 1 s windows -> 30 windows
    de = differential_entropy(X, FS)
    assert de.shape == (2, 4, 5, 30) and de.dtype == np.float32
    for b, (low, high) in enumerate(BANDS.values()):
        sos = signal.butter(4, (low, high), btype="band", fs=FS, output="sos")
        # the same pipeline written out: filter, reshape into 1 s windows, variance
        Y = signal.sosfiltfilt(sos, X, axis=-1)
        ref = _gauss_de(Y.reshape(2, 4, 30, 200).var(axis=-1))
        np.testing.assert_allclose(de[:, :, b], ref, atol=2e-5)
        # white noise through the zero-phase filter (power gain |H|^4): var = sigma^2 * mean_f |H(f)|^4
        _, h = signal.sosfreqz(sos, worN=1 << 14, fs=FS)
        expected_var = sigma**2 * np.mean(np.abs(h) ** 4)
        est_var = np.mean(np.exp(2 * de[:, :, b].astype(np.float64)) / (2 * np.pi * np.e))
        assert est_var == pytest.approx(expected_var, rel=0.06), (b, est_var, expected_var)


def test_sinusoid_lands_in_alpha():
    A = 10.0
    t = np.arange(int(20 * FS)) / FS
    X = np.stack([A * np.sin(2 * np.pi * 10 * t + 0.3), 0.5 * A * np.cos(2 * np.pi * 10 * t)])  # (2 chans, T)
    de = differential_entropy(X, FS)
    assert de.shape == (2, 5, 20)
    delta, alpha, gamma = (list(BANDS).index(b) for b in ("delta", "alpha", "gamma"))
    # the filter's gain at 10 Hz is 1 to within 1e-3; the first and last window carry the small
    # edge error of sosfiltfilt's odd-extension padding
    for ch, power in ((0, A**2 / 2), (1, A**2 / 8)):  # DE 3.3750, 2.6818
        np.testing.assert_allclose(de[ch, alpha, 1:-1], _gauss_de(power), atol=1e-3)
        np.testing.assert_allclose(de[ch, alpha], _gauss_de(power), atol=0.05)
    # away from the edges (the delta filter rings for ~5 s after them) only leakage is left:
    # > 8 nats (power ratio e^-16) below alpha in delta, > 14 in gamma
    mid = slice(6, 14)
    assert np.all(de[:, delta, mid] < de[:, alpha, mid] - 8)
    assert np.all(de[:, gamma, mid] < de[:, alpha, mid] - 14)


def test_2d_input_and_window_step_counts():
    rng = np.random.default_rng(1)
    sfreq = 128.0
    X = rng.standard_normal((3, 2, 1344))  # 10.5 s
    de3 = differential_entropy(X, sfreq)
    assert de3.shape == (3, 2, 5, 10)  # trailing 0.5 s dropped
    np.testing.assert_array_equal(differential_entropy(X[1], sfreq), de3[1])
    # 2 s windows every 0.5 s: 1 + (1344 - 256) // 64 = 18
    over = differential_entropy(X, sfreq, window=2.0, step=0.5)
    assert over.shape == (3, 2, 5, 18)
    plain = differential_entropy(X, sfreq, window=2.0)
    assert plain.shape == (3, 2, 5, 5)
    np.testing.assert_array_equal(over[..., ::4], plain)  # starts 0, 2, 4, 6, 8 s coincide
    two = differential_entropy(X, sfreq, bands={"g": BANDS["gamma"], "a": BANDS["alpha"]})
    np.testing.assert_array_equal(two, de3[:, :, [4, 2]])  # bands in the mapping's order


def test_scaling_adds_log_c():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 3, 1000))
    for c in (1e-3, 7.5, 250.0):
        diff = differential_entropy(c * X, FS).astype(np.float64) - differential_entropy(X, FS)
        np.testing.assert_allclose(diff, np.log(c), atol=2e-5)


def _kalman_rts(y, A, Q, R, mu0, P0):
    """Textbook scalar Kalman filter + RTS smoother, one sequence, plain loops."""
    n = len(y)
    mf, Pf, mp, Pp = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    for t in range(n):
        mp[t], Pp[t] = (mu0, P0) if t == 0 else (A * mf[t - 1], A * A * Pf[t - 1] + Q)
        S = Pp[t] + R
        mf[t] = mp[t] + Pp[t] / S * (y[t] - mp[t])
        Pf[t] = Pp[t] - Pp[t] ** 2 / S
    ms = list(mf)
    for t in reversed(range(n - 1)):
        J = Pf[t] * A / Pp[t + 1]
        ms[t] = mf[t] + J * (ms[t + 1] - mp[t + 1])
    return np.array(ms)


def test_lds_matches_loop_reference():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((3, 4, 40)).cumsum(axis=-1)
    out = lds_smooth(F)
    assert out.shape == F.shape and out.dtype == np.float32
    for i, j in [(0, 0), (1, 3), (2, 1)]:
        y = F[i, j]
        np.testing.assert_allclose(out[i, j], _kalman_rts(y, 1.0, 1e-3, 1.0, y[0], 1.0), rtol=1e-5, atol=1e-5)
    # other parameters, explicit prior, time on axis 0
    G = np.moveaxis(F, -1, 0)  # (40, 3, 4)
    mu0 = rng.standard_normal((3, 4))
    out = lds_smooth(G, axis=0, transition=0.9, process_var=0.05, obs_var=0.5, prior_mean=mu0, prior_var=2.0)
    assert out.shape == G.shape
    ref = _kalman_rts(G[:, 2, 3], 0.9, 0.05, 0.5, mu0[2, 3], 2.0)
    np.testing.assert_allclose(out[:, 2, 3], ref, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out[:, 2, 3], G[:, 2, 3], atol=1e-2)  # it did smooth


def test_lds_reduces_noise_and_vanishing_obs_noise_is_identity():
    rng = np.random.default_rng(4)
    y = 3.0 + rng.standard_normal((5, 300))
    s = lds_smooth(y)
    assert np.var(s, axis=-1).max() < 0.1 * np.var(y, axis=-1).min()
    assert np.abs(s.mean(axis=-1) - 3.0).max() < 0.3
    np.testing.assert_allclose(lds_smooth(y, obs_var=1e-12), y, atol=1e-5)
    np.testing.assert_allclose(lds_smooth(y[:, :1]), y[:, :1], atol=1e-6)  # one step: the prior mean


def test_temporal_frames_average_segments():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 3, 200))
    fr = temporal_frames(X, FS)
    assert fr.shape == (2, 3, 25) and fr.dtype == np.float32
    np.testing.assert_allclose(fr, X.reshape(2, 3, 25, 8).mean(-1), atol=1e-6)
    # 10 samples -> 4 frames of 2.5 samples each
    x = np.arange(10.0)[None]
    want = [(0 + 1 + 0.5 * 2) / 2.5, (0.5 * 2 + 3 + 4) / 2.5, (5 + 6 + 0.5 * 7) / 2.5, (0.5 * 7 + 8 + 9) / 2.5]
    np.testing.assert_allclose(temporal_frames(x, 10.0, 4)[0], want, atol=1e-6)
    # windowed: aligned with differential_entropy's windows
    Z = rng.standard_normal((2, 3, 1100))  # 5.5 s -> 5 windows
    frw = temporal_frames(Z, FS, window=1.0)
    assert frw.shape == (2, 3, 25, 5) == differential_entropy(Z, FS).shape[:2] + (25, 5)
    np.testing.assert_allclose(frw[..., 3], temporal_frames(Z[..., 600:800], FS), atol=1e-6)
    assert temporal_frames(Z, FS, window=1.0, step=0.5).shape == (2, 3, 25, 10)


def test_config_errors_name_the_problem():
    X = np.random.default_rng(6).standard_normal((2, 3, 800))
    with pytest.raises(ConfigError, match=r"'gamma'.*50\.0 Hz.*Nyquist frequency 40\.0 Hz"):
        differential_entropy(X, 80.0)
    with pytest.raises(ConfigError, match=r"too short for band 'delta'.*window >= 1 s"):
        differential_entropy(X, FS, window=0.5)
    with pytest.raises(ConfigError, match="shorter than one window"):
        differential_entropy(X[..., :150], FS)
    with pytest.raises(ConfigError, match=r"'x' = \(9\.0, 5\.0\)"):
        differential_entropy(X, FS, bands={"x": (9, 5)})
    for kw in ({"window": 0}, {"step": -1.0}, {"filter_order": 2.5}):
        with pytest.raises(ConfigError):
            differential_entropy(X, FS, **kw)
    with pytest.raises(ConfigError, match="sfreq"):
        differential_entropy(X, 0.0)
    with pytest.raises(ConfigError, match="n_frames=25"):
        temporal_frames(X[..., :20], FS)
    with pytest.raises(ConfigError, match="obs_var"):
        lds_smooth(X, obs_var=0.0)


def test_data_errors_name_trial_channel_band():
    X = np.random.default_rng(7).standard_normal((3, 6, 600))
    bad = X.copy()
    bad[1, 2, 50] = np.nan
    with pytest.raises(DataError, match="trial 1, channel 2, sample 50"):
        differential_entropy(bad, FS)
    with pytest.raises(DataError, match="channel 2, sample 50"):
        temporal_frames(bad[1], FS)
    flat = X.copy()
    flat[2, 5] = 4.0  # constant: every band-passed window is round-off
    with pytest.raises(DataError, match="flat signal in trial 2, channel 5, band 'delta'"):
        differential_entropy(flat, FS)
    with pytest.raises(DataError, match="dimensions"):
        differential_entropy(X[0, 0], FS)
    with pytest.raises(DataError, match="finite"):
        lds_smooth(bad)
