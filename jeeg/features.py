"""Differential-entropy (DE) features and temporal frames for EEG emotion recognition (SEED style).

The spectral stream of SST-EmotionNet (Jia et al., ACM MM 2020, doi 10.1145/3394171.3413724;
code github.com/ziyujia/SST-EmotionNet) reads the DE of five bands per channel and sample window;
its temporal stream reads 25 frames of the signal inside the same window. This module computes
both from epoched EEG, plus the linear-dynamical-system smoothing SEED applies to its ``de_LDS``
features:

* :func:`differential_entropy`: band-pass (zero-phase Butterworth) → windows → Gaussian DE.
* :func:`lds_smooth`: Kalman filter + Rauch-Tung-Striebel smoother along the window axis.
* :func:`temporal_frames`: each window averaged down to ``n_frames`` samples.

Everything is computed in float64 with numpy/scipy and returned as float32.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from jeeg.errors import ConfigError, DataError

#: Band name -> (low, high) edges in Hz, SEED's five bands (Zheng & Lu 2015, IEEE TAMD 7(3):162-175).
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1, 4),
    "theta": (4, 8),
    "alpha": (8, 14),
    "beta": (14, 31),
    "gamma": (31, 50),
}

#: A band-passed window whose variance is at most this fraction of the channel's mean square (raw,
#: whole trial) is "flat": -200 dB, far below any filter leakage, far above float64 round-off.
_FLAT_RATIO = 1e-20


def _positive(name: str, value, *, integer: bool = False) -> float:
    """``value`` as a finite number > 0 (an int when ``integer``), else :class:`ConfigError`."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0 or (integer and int(value) != value):
        kind = "a positive integer" if integer else "a finite number > 0"
        raise ConfigError(f"{name} must be {kind}; got {value!r}")
    return int(value) if integer else float(value)


def _windows(n_times: int, sfreq: float, window: float, step: float | None) -> tuple[int, int, int]:
    """(samples per window, samples per step, number of windows) for a trial of ``n_times`` samples."""
    window = _positive("window", window)
    step = window if step is None else _positive("step", step)
    n_win, n_step = round(window * sfreq), max(1, round(step * sfreq))
    if n_win < 2:
        raise ConfigError(f"window={window} s holds {n_win} sample(s) at {sfreq} Hz; it needs at least 2")
    if n_times < n_win:
        raise ConfigError(
            f"trials of {n_times} samples ({n_times / sfreq:g} s at {sfreq} Hz) are shorter than one "
            f"window of {window} s ({n_win} samples); shorten window or use longer trials"
        )
    return n_win, n_step, 1 + (n_times - n_win) // n_step


def _finite(X, min_ndim: int, max_ndim: int) -> np.ndarray:
    """``X`` as float64 with min_ndim..max_ndim dimensions and finite samples, else :class:`DataError`."""
    X = np.asarray(X, dtype=np.float64)
    if not min_ndim <= X.ndim <= max_ndim:
        want = f"{min_ndim}" if min_ndim == max_ndim else f"{min_ndim} to {max_ndim}"
        raise DataError(f"expected (..., n_chans, n_times) with {want} dimensions; got shape {X.shape}")
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        *lead, ch, t = (int(i) for i in bad[0])
        where = "" if not lead else f"trial {lead[0]}, " if len(lead) == 1 else f"index {tuple(lead)}, "
        raise DataError(
            f"non-finite sample ({X[tuple(bad[0])]}) at {where}channel {ch}, sample {t} "
            f"({len(bad)} in all); clean or drop it"
        )
    return X


def differential_entropy(
    X,
    sfreq: float,
    *,
    bands: Mapping[str, tuple[float, float]] = BANDS,
    window: float = 1.0,
    step: float | None = None,
    filter_order: int = 4,
) -> np.ndarray:
    """Gaussian differential entropy per channel, band and window.

    Each band is isolated by a zero-phase Butterworth band-pass (``scipy.signal.butter(order, (low,
    high), btype="band", output="sos")`` applied with ``sosfiltfilt`` over the whole trial: no phase
    shift, and only windows near the trial's ends see the filter's edge transient); the band-passed
    trial is cut into windows of ``window`` s starting every ``step`` s, and for each window

        DE = 0.5 · ln(2·π·e·σ²),

    the differential entropy of a Gaussian of variance σ² (the window's variance, mean removed,
    ddof 0), which is what a band-limited EEG segment is approximately (Shi, Jiao, Lu 2013,
    "Differential entropy feature for EEG-based vigilance estimation", IEEE EMBC 2013, doi
    10.1109/EMBC.2013.6611075;
    used for emotion by Duan, Zhu, Lu 2013, "Differential entropy feature for EEG-based emotion
    classification", IEEE NER 2013, doi 10.1109/NER.2013.6695876). Values are in nats of µV: scaling
    ``X`` by c adds ln(c) to every value. SEED's published ``de_*`` features were computed from
    short-time spectra; this is the time-domain definition (TorchEEG's ``BandDifferentialEntropy``
    does the same with a causal order-5 ``lfilter`` and no windowing).

    Edge transient: ``sosfiltfilt`` pads each end by an odd reflection (scipy's default length),
    which leaves a transient that decays with the band's impulse response (a few seconds for
    delta, a fraction of one for the faster bands). It matters only where a band holds little
    power: for a pure 10 Hz sine the alpha DE of the end windows is off by < 0.05, while its delta
    DE is raised from leakage level (-6) to about +1 in the first window and settles after ~5 s.
    For broadband EEG the transient is small against the band's own power; trim the end windows
    if it matters.

    Parameters
    ----------
    X : array, shape (n_trials, n_chans, n_times) or (n_chans, n_times)
        EEG in µV.
    sfreq : float
        Sampling frequency in Hz.
    bands : mapping of str to (float, float)
        Band name -> (low, high) edges in Hz; 0 < low < high < sfreq / 2. Default :data:`BANDS`.
    window : float
        Window length in s (rounded to ``round(window * sfreq)`` samples). Every band must fit one
        full period of its lower edge in a window: ``window * low >= 1`` (1 s for delta at 1 Hz),
        otherwise the window's variance is dominated by where it cuts the slowest oscillation.
    step : float or None
        Distance between window starts in s; None (default) = ``window`` (non-overlapping).
        Trailing samples that do not fill a window are dropped.
    filter_order : int
        Butterworth prototype order (the band-pass has twice as many poles; ``sosfiltfilt``
        doubles the attenuation again). Default 4.

    Returns
    -------
    array, float32, shape (n_trials, n_chans, n_bands, n_windows) or (n_chans, n_bands, n_windows)
        Bands in the order of ``bands``; no trial axis when ``X`` had none.
        ``n_windows = 1 + (n_times - n_win) // n_step``.

    Raises
    ------
    ConfigError
        On non-positive ``sfreq``, ``window``, ``step`` or ``filter_order``; a band with low <= 0,
        low >= high, high at or above the Nyquist frequency, or ``window * low < 1``; trials shorter
        than one window.
    DataError
        On a wrong number of dimensions, a non-finite sample (naming trial, channel and sample), or a
        flat window: band-passed variance ≤ 1e-20 x the channel's mean square (a dead or constant
        channel, whose DE would be -inf); the error names trial, channel, band and window.
    """
    sfreq, window = _positive("sfreq", sfreq), _positive("window", window)
    order = _positive("filter_order", filter_order, integer=True)
    nyquist = sfreq / 2
    if not bands:
        raise ConfigError("bands is empty; give at least one name -> (low, high) in Hz")
    for name, edges in bands.items():
        try:
            low, high = (float(e) for e in edges)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"band {name!r} must be (low, high) in Hz; got {edges!r}") from e
        if not 0 < low < high:
            raise ConfigError(f"band {name!r} = ({low}, {high}) Hz must satisfy 0 < low < high")
        if high >= nyquist:
            raise ConfigError(
                f"band {name!r} upper edge {high} Hz is at or above the Nyquist frequency {nyquist} Hz "
                f"(sfreq={sfreq} Hz); drop the band, lower its edge or use a higher sampling rate"
            )
        if window * low < 1 - 1e-9:
            raise ConfigError(
                f"window={window} s is too short for band {name!r} ({low}-{high} Hz): it must hold one "
                f"period of the {low} Hz lower edge, i.e. window >= {1 / low:g} s"
            )
    X = _finite(X, 2, 3)
    squeeze = X.ndim == 2
    X = X[None] if squeeze else X
    n_win, n_step, _ = _windows(X.shape[-1], sfreq, window, step)
    scale = np.mean(X**2, axis=-1)  # (n_trials, n_chans), for the flat-window test

    out = []
    for name, (low, high) in bands.items():
        sos = signal.butter(order, (float(low), float(high)), btype="band", fs=sfreq, output="sos")
        # scipy's default padlen (3 x taps), capped for very short trials
        padlen = min(3 * (2 * len(sos) + 1), X.shape[-1] - 1)
        Y = signal.sosfiltfilt(sos, X, axis=-1, padlen=padlen)
        var = sliding_window_view(Y, n_win, axis=-1)[:, :, ::n_step].var(axis=-1)  # (T, C, W)
        flat = np.argwhere(var <= _FLAT_RATIO * scale[..., None])
        if flat.size:
            t, c, w = flat[0]
            where = ("" if squeeze else f"trial {t}, ") + f"channel {c}, band {name!r}, window {w}"
            raise DataError(
                f"flat signal in {where} (band variance {var[t, c, w]:.3g} µV²): DE would be -inf; "
                "drop or interpolate the channel"
            )
        out.append(0.5 * np.log(2 * np.pi * np.e * var))
    de = np.stack(out, axis=2).astype(np.float32)
    return de[0] if squeeze else de


def trial_differential_entropy(
    X, sfreq: float, *, bands: Mapping[str, tuple[float, float]] = BANDS, filter_order: int = 4
) -> np.ndarray:
    """Differential entropy of every channel and band over the whole trial (one window).

    :func:`differential_entropy` with ``window`` the trial's length, its window axis dropped: the
    per-trial spectral features of SST-EmotionNet's maps (:func:`jeeg.representations.sst_grid_inputs`)
    and of the ``de_lr`` baseline (:mod:`jeeg.baselines`). Source: the Gaussian DE of Shi, Jiao &
    Lu 2013, doi 10.1109/EMBC.2013.6611075.

    Parameters
    ----------
    X : array, shape (n_trials, n_chans, n_times) or (n_chans, n_times)
        EEG in µV; each trial is one window of n_times / sfreq s.
    sfreq, bands, filter_order
        Sampling frequency in Hz, band edges in Hz and Butterworth order, as in
        :func:`differential_entropy`.

    Returns
    -------
    array, float32, shape (n_trials, n_chans, n_bands) or (n_chans, n_bands)
        In nats of µV, bands in the order of ``bands``.

    Raises
    ------
    ConfigError, DataError
        As :func:`differential_entropy`: e.g. a band at or above Nyquist, or a trial shorter than
        one period of a band's lower edge.
    """
    n_times = np.shape(X)[-1]
    return differential_entropy(X, sfreq, bands=bands, window=n_times / sfreq, filter_order=filter_order)[..., 0]


def lds_smooth(
    features,
    *,
    axis: int = -1,
    transition: float = 1.0,
    process_var: float = 1e-3,
    obs_var: float = 1.0,
    prior_mean=None,
    prior_var: float | None = None,
) -> np.ndarray:
    """Smooth feature sequences with a linear dynamical system (Kalman filter + RTS smoother).

    Every 1-D sequence y_1..y_n along ``axis`` (e.g. the DE of one channel and band over windows) is
    read as noisy observations of a scalar hidden state:

        x_1 ~ N(μ0, P0),   x_t = A·x_{t-1} + w_t, w_t ~ N(0, Q),   y_t = x_t + v_t, v_t ~ N(0, R),

    and replaced by the posterior mean E[x_t | y_1..y_n], computed exactly by the Kalman filter
    (forward) and the Rauch-Tung-Striebel smoother (backward). This is the smoothing behind SEED's
    ``de_LDS`` features (Shi & Lu 2010, "Off-line and on-line vigilance estimation based on linear
    dynamical system and manifold learning", IEEE EMBC 2010, doi 10.1109/IEMBS.2010.5627125). The
    exact SEED parameters were never published; the defaults here follow the SEED-style LDS code
    that circulates (not checked against it): A = 1 (random walk), Q = 0.001, R = 1, μ0 = the first
    observation, and P0 = R (chosen here). Only the ratios Q/R and P0/R affect the result. Smooth
    each trial on its own: a sequence that runs across trials would blur their boundary. As all
    sequences share A, Q, R and P0, the variances and gains are one set of scalars per step and the
    means are updated for all sequences at once.

    Parameters
    ----------
    features : array, any shape with ``features.shape[axis] = n_steps >= 1``
        Feature sequences (e.g. the output of :func:`differential_entropy`, windows last).
    axis : int
        The time (window) axis. Default -1.
    transition : float
        State transition A (finite; any sign).
    process_var, obs_var : float
        Process noise Q and observation noise R, both > 0. R → 0 returns the input; Q/R → 0 pulls
        every sequence towards a constant.
    prior_mean : array or None
        μ0, broadcastable to ``features`` with ``axis`` removed; None = each sequence's first value.
    prior_var : float or None
        P0 > 0; None = ``obs_var``.

    Returns
    -------
    array, float32, same shape as ``features``
        Smoothed means.

    Raises
    ------
    ConfigError
        On a non-finite ``transition`` or a non-positive or non-finite Q, R or P0.
    DataError
        On non-finite features, an empty time axis, or a ``prior_mean`` that does not broadcast.
    """
    if not isinstance(transition, (int, float, np.integer, np.floating)) or not math.isfinite(transition):
        raise ConfigError(f"transition must be a finite number; got {transition!r}")
    A, Q, R = float(transition), _positive("process_var", process_var), _positive("obs_var", obs_var)
    P0 = R if prior_var is None else _positive("prior_var", prior_var)
    Y = np.moveaxis(np.asarray(features, dtype=np.float64), axis, 0)  # (n_steps, ...)
    if Y.shape[0] == 0 or not np.isfinite(Y).all():
        raise DataError(f"lds_smooth needs a non-empty, finite time axis; got shape {np.shape(features)}")
    n = Y.shape[0]
    try:
        mu0 = Y[0] if prior_mean is None else np.broadcast_to(np.asarray(prior_mean, np.float64), Y.shape[1:])
    except ValueError as e:
        raise DataError(f"prior_mean of shape {np.shape(prior_mean)} does not broadcast to {Y.shape[1:]}") from e

    m = np.empty_like(Y)  # filtered means m_t = E[x_t | y_1..y_t]
    P = np.empty(n)  # filtered variances
    P_pred = np.empty(n)  # predicted variances P_{t|t-1}
    m_pred, P_pred[0] = mu0, P0
    for t in range(n):
        if t:
            m_pred, P_pred[t] = A * m[t - 1], A * A * P[t - 1] + Q
        K = P_pred[t] / (P_pred[t] + R)
        m[t] = m_pred + K * (Y[t] - m_pred)
        P[t] = (1 - K) * P_pred[t]
    s = m.copy()  # smoothed means, backwards
    for t in range(n - 2, -1, -1):
        J = P[t] * A / P_pred[t + 1]
        s[t] = m[t] + J * (s[t + 1] - A * m[t])
    return np.moveaxis(s, 0, axis).astype(np.float32)


def temporal_frames(
    X,
    sfreq: float,
    n_frames: int = 25,
    *,
    window: float | None = None,
    step: float | None = None,
) -> np.ndarray:
    """Each window of each channel reduced to ``n_frames`` samples, for SST-EmotionNet's temporal stream.

    What the official model's 25 temporal frames hold was never published (the code's README says only
    "how many 2D maps are stacked"); jeeg's own choice is 25 time samples of the preprocessed 200 Hz signal inside the sample window. Frame k is the
    mean of the signal over the k-th of ``n_frames`` equal, contiguous stretches of the window (a
    boxcar anti-alias filter plus decimation; with n_times not a multiple of ``n_frames`` the
    boundary samples are split between frames by the fraction of them each covers, so every frame
    averages exactly n_times / n_frames samples). Chosen over ``scipy.signal.resample_poly`` because
    it is exact on 1 s windows (200 → 25 samples: the mean of each 8), has no edge transients from
    zero padding, keeps the window mean, and costs one matrix product.

    Parameters
    ----------
    X : array, shape (..., n_chans, n_times)
        EEG in µV (a trial, a batch of trials, or pre-cut windows).
    sfreq : float
        Sampling frequency in Hz (converts ``window`` and ``step`` to samples).
    n_frames : int
        Frames per window. Default 25.
    window : float or None
        Window length in s; None (default) = the whole last axis is one window.
    step : float or None
        Distance between window starts in s; None = ``window``. As in :func:`differential_entropy`,
        so ``frames[..., w]`` and ``de[..., w]`` describe the same stretch of signal.

    Returns
    -------
    array, float32
        (..., n_chans, n_frames) when ``window`` is None, else (..., n_chans, n_frames, n_windows).

    Raises
    ------
    ConfigError
        On non-positive ``sfreq``, ``n_frames``, ``window`` or ``step``; a trial shorter than one
        window; a window of fewer than ``n_frames`` samples.
    DataError
        On fewer than 2 dimensions or a non-finite sample.
    """
    sfreq = _positive("sfreq", sfreq)
    n_frames = _positive("n_frames", n_frames, integer=True)
    X = _finite(X, 2, 32)
    n_times = X.shape[-1]
    if window is None:
        n_win, segs = n_times, X[..., None, :]  # (..., C, 1, n_win)
    else:
        n_win, n_step, _ = _windows(n_times, sfreq, window, step)
        segs = sliding_window_view(X, n_win, axis=-1)[..., ::n_step, :]  # (..., C, W, n_win)
    if n_win < n_frames:
        raise ConfigError(f"a window of {n_win} samples cannot make n_frames={n_frames} frames; need >= {n_frames}")
    # M[k, j] = share of sample j = [j, j+1) inside frame k = [k·L, (k+1)·L), L = n_win / n_frames, / L
    edges = np.arange(n_frames + 1) * (n_win / n_frames)
    j = np.arange(n_win)
    overlap = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
    M = np.clip(overlap, 0, None) / (n_win / n_frames)  # (n_frames, n_win), rows sum to 1
    frames = np.moveaxis(segs @ M.T, -2, -1)  # (..., C, n_frames, W)
    return (frames[..., 0] if window is None else frames).astype(np.float32)
