"""Classical motor-imagery baselines (the ones the STFF-DA paper compares against).

* ``csp_lda`` -- Common Spatial Patterns (Ramoser, Müller-Gerking & Pfurtscheller 2000,
  doi:10.1109/86.895946; Blankertz et al. 2008, doi:10.1109/MSP.2008.4408441) with log-power
  features and linear discriminant analysis. Multi-class via MNE's joint approximate
  diagonalisation with mutual-information component ordering.
* ``logvar_lr`` -- log-variance of every channel (the band-power feature reviewed by Lotte et al.
  2018, doi:10.1088/1741-2552/aab2f2), standardised, into L2 logistic regression.
* ``de_lr`` -- differential entropy of every channel in each band (δ θ α β γ, 1-50 Hz) over the
  whole trial, standardised, into L2 logistic regression: the classical baseline on the features
  SST-EmotionNet's spatial-spectral stream sees (SEED: Zheng & Lu 2015,
  doi:10.1109/TAMD.2015.2431497, compare LR and SVM on DE features). It needs ``sfreq``.

All take trials in µV, band-pass filtered but **not** standardised per trial: the features are
the trials' (band) variances, which per-trial z-scoring would erase.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Callable

import mne
import numpy as np
from mne.decoding import CSP
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from jeeg.errors import ConfigError, DataError, SplitError
from jeeg.features import BANDS, trial_differential_entropy


def log_variance(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Log of each channel's variance over time.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        Trials in µV.
    eps : float
        Added to the variance (µV²) so flat channels give a finite value.

    Returns
    -------
    ndarray, float64, shape (n_trials, n_chans)
        ``log(var + eps)`` with variance in µV².
    """
    X = np.asarray(X, dtype=np.float64)
    return np.log(X.var(axis=-1) + eps)


def make_csp_lda(n_components: int = 6, reg: str | float | None = "ledoit_wolf") -> Pipeline:
    """CSP (log band-power of ``n_components`` spatial filters) followed by LDA.

    Parameters
    ----------
    n_components : int
        Number of CSP filters kept.
    reg : str, float or None
        Covariance regularisation passed to :class:`mne.decoding.CSP` (``"ledoit_wolf"`` =
        Ledoit & Wolf 2004 shrinkage).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``csp`` -> ``lda``; fit on X of shape (n_trials, n_chans, n_times), float64, µV.

    References
    ----------
    Ramoser et al. 2000, doi:10.1109/86.895946; Blankertz et al. 2008, doi:10.1109/MSP.2008.4408441.
    """
    return Pipeline(
        [
            ("csp", CSP(n_components=n_components, reg=reg, log=True, norm_trace=False)),
            ("lda", LinearDiscriminantAnalysis()),
        ]
    )


def make_logvar_lr(C: float = 1.0) -> Pipeline:
    """Per-channel log-variance, standardised, into logistic regression.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength of :class:`~sklearn.linear_model.LogisticRegression`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``logvar`` (X (n_trials, n_chans, n_times) -> (n_trials, n_chans)) -> ``scale`` ->
        ``lr``.

    References
    ----------
    Lotte et al. 2018, doi:10.1088/1741-2552/aab2f2.
    """
    return Pipeline(
        [
            ("logvar", FunctionTransformer(log_variance)),
            ("scale", StandardScaler()),
            ("lr", LogisticRegression(C=C, max_iter=1000)),
        ]
    )


def band_differential_entropy(X: np.ndarray, sfreq: float, bands: Mapping[str, tuple[float, float]] = BANDS) -> np.ndarray:
    """Differential entropy of every channel and band over the whole trial, flattened.

    The feature vector of ``de_lr`` (Duan, Zhu & Lu 2013, doi:10.1109/NER.2013.6695876).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        Trials in µV.
    sfreq : float
        Sampling frequency in Hz.
    bands : mapping
        Band name -> (low, high) in Hz (default :data:`jeeg.features.BANDS`).

    Returns
    -------
    ndarray, shape (n_trials, n_chans * n_bands)
        :func:`jeeg.features.trial_differential_entropy`, in nats, flattened channel-major (all
        bands of channel 0, then channel 1, ...).

    Raises
    ------
    ConfigError
        A band at or above Nyquist, or a trial shorter than one period of a band's lower edge.
    """
    return trial_differential_entropy(X, sfreq, bands=bands).reshape(len(X), -1)


def make_de_lr(sfreq: float, C: float = 1.0, bands: Mapping[str, tuple[float, float]] = BANDS) -> Pipeline:
    """Band differential entropy of every channel, standardised, into logistic regression.

    Parameters
    ----------
    sfreq : float
        Sampling frequency of the trials in Hz (:func:`fit_predict` passes it).
    C : float
        Inverse L2 regularisation strength of :class:`~sklearn.linear_model.LogisticRegression`.
    bands : mapping
        Band name -> (low, high) in Hz.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``de`` (X (n_trials, n_chans, n_times) -> (n_trials, n_chans * n_bands), see
        :func:`band_differential_entropy`) -> ``scale`` -> ``lr``.

    References
    ----------
    Duan, Zhu & Lu 2013, doi:10.1109/NER.2013.6695876; Zheng & Lu 2015, doi:10.1109/TAMD.2015.2431497.
    """
    return Pipeline(
        [
            ("de", FunctionTransformer(band_differential_entropy, kw_args={"sfreq": sfreq, "bands": dict(bands)})),
            ("scale", StandardScaler()),
            ("lr", LogisticRegression(C=C, max_iter=1000)),
        ]
    )


BASELINES: dict[str, Callable[..., Pipeline]] = {"csp_lda": make_csp_lda, "logvar_lr": make_logvar_lr,
                                                 "de_lr": make_de_lr}
BASELINE_NAMES: dict[str, str] = {"csp_lda": "CSP+LDA", "logvar_lr": "LogVar+LR", "de_lr": "DE+LR"}


def fit_predict(
    name: str, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, *, sfreq: float | None = None,
    params: dict | None = None, n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit baseline ``name`` on the training trials and predict the test trials.

    Parameters
    ----------
    name : str
        A key of :data:`BASELINES`.
    X_train : ndarray, shape (n_train, n_chans, n_times)
        Training trials in µV, not standardised per trial (cast to float64 here).
    y_train : array of int, shape (n_train,)
        Class indices; at least two distinct classes.
    X_test : ndarray, shape (n_test, n_chans, n_times)
        Test trials in µV.
    sfreq : float, optional
        Sampling frequency in Hz, passed to the baselines that need it (``de_lr``).
    params : dict, optional
        Keyword arguments for the factory (e.g. ``{"n_components": 4}``).
    n_classes : int, optional
        Number of classes of the task: ``proba`` then has one column per class index
        ``0..n_classes-1``, zero for classes absent from ``y_train``.

    Returns
    -------
    y_pred : ndarray, int32, shape (n_test,)
        Predicted class indices (values of ``y_train``).
    proba : ndarray, float32, shape (n_test, n_classes_in_train) or (n_test, n_classes)
        Class probabilities, columns in ascending order of the distinct ``y_train`` labels (or
        indexed by class with ``n_classes``); rows sum to 1.

    Raises
    ------
    ConfigError
        Unknown ``name`` (listing the valid ones), bad ``params``, no ``sfreq`` for a baseline
        that needs it, or bands the trials cannot hold (``de_lr``).
    DataError
        Arrays of the wrong shape.
    SplitError
        ``y_train`` has fewer than two classes.
    """
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; valid baselines: {', '.join(BASELINES)}")
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    y_train = np.asarray(y_train).ravel()
    if X_train.ndim != 3 or X_test.ndim != 3 or X_train.shape[1:] != X_test.shape[1:]:
        raise DataError(
            f"X_train and X_test must be (n_trials, n_chans, n_times) with equal n_chans and n_times; "
            f"got {X_train.shape} and {X_test.shape}"
        )
    if y_train.shape != (X_train.shape[0],):
        raise DataError(f"y_train must have shape ({X_train.shape[0]},); got {y_train.shape}")
    if np.unique(y_train).size < 2:
        raise SplitError(f"baseline {name!r} needs at least two classes in training; got {np.unique(y_train).tolist()}")
    factory, kwargs = BASELINES[name], dict(params or {})
    if "sfreq" in inspect.signature(factory).parameters:
        if sfreq is None:
            raise ConfigError(f"baseline {name!r} needs the sampling frequency: pass sfreq")
        kwargs.setdefault("sfreq", float(sfreq))
    try:
        model = factory(**kwargs)
    except TypeError as err:
        raise ConfigError(f"bad params {params!r} for baseline {name!r}: {err}") from err
    with mne.utils.use_log_level("WARNING"):
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_test)
    classes = np.asarray(model.classes_)
    y_pred = classes[np.argmax(proba, axis=1)].astype(np.int32)
    if n_classes is not None:
        full = np.zeros((len(proba), n_classes), np.float32)
        full[:, classes] = proba
        return y_pred, full
    return y_pred, proba.astype(np.float32)
