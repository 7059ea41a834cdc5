"""Inputs other than raw trials: the electrode-grid cubes of SST-EmotionNet, from any montage.

``jeeg cv --set representation=sst_grid`` feeds a model :func:`sst_grid_inputs` of the epochs
instead of the (standardised) trials; ``representation_kwargs`` are passed through.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jeeg.data.dataset import standardize_trials
from jeeg.errors import ConfigError
from jeeg.features import BANDS, temporal_frames, trial_differential_entropy
from jeeg.grids import SEED_GRID, make_interpolator, montage_grid

REPRESENTATIONS = ("raw", "sst_grid")


def sst_grid_inputs(
    X: np.ndarray,
    sfreq: float,
    ch_names: Sequence[str],
    *,
    grid_shape: tuple[int, int] = (32, 32),
    n_frames: int = 25,
    bands: Mapping[str, tuple[float, float]] = BANDS,
    montage: str = "standard_1005",
    layout_shape: tuple[int, int] = (9, 9),
    method: str = "cubic",
    layout: str = "montage",
) -> np.ndarray:
    """SST-EmotionNet's two input cubes of each trial, on an electrode grid (Jia et al., ACM MM 2020,
    doi 10.1145/3394171.3413724; github.com/ziyujia/SST-EmotionNet ``model/model.py``).

    * Spatial-spectral maps: the differential entropy of each band over the whole trial
      (:func:`jeeg.features.trial_differential_entropy`: one window of the trial's length), z-scored
      over the channels within each trial and band, so that the maps carry the spatial pattern
      (a trial's overall power level is removed, as the per-trial z-score of the raw models does).
    * Spatial-temporal maps: ``n_frames`` frames of the trial
      (:func:`jeeg.features.temporal_frames` of the per-trial channel-wise z-scored signal:
      each frame the mean of 1/n_frames of the trial), the design notes' [inferred] reading of
      "25 consecutive 2-D maps".

    Each channel's value goes to its cell of a layout made for the montage
    (:func:`jeeg.grids.montage_grid`), or of SEED's 9 x 9 layout (``layout="seed"``), and the cell
    values are interpolated to ``grid_shape`` by one precomputed linear operator
    (:func:`jeeg.grids.make_interpolator`).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        Trials in µV.
    sfreq : float
        Sampling frequency in Hz.
    ch_names : sequence of str
        Channel names of ``X`` (standard 10-05 names).
    grid_shape : (int, int)
        (H, W) of the maps (SST-EmotionNet: 32 x 32).
    n_frames : int
        Temporal frames (25).
    bands : mapping
        Band name → (low, high) in Hz (δ θ α β γ by default).
    montage, layout_shape, method
        Montage for the channel positions, size of the coarse layout, interpolation method.
    layout : {"montage", "seed"}
        ``"montage"``: a layout made from ``montage`` (``layout_shape``); ``"seed"``: SST-EmotionNet's
        SEED / SEED-IV layout :data:`jeeg.grids.SEED_GRID` (62 channels, with CB1/CB2, which MNE's
        montages lack; the default of ``jeeg cv`` on ``dataset=seed|seed_iv``).

    Returns
    -------
    ndarray, float32, shape (n_trials, n_bands + n_frames, H, W)
        Channels-first, as ``SSTEmotionNet`` (and TorchEEG) take them: the band maps, then the frames.

    Raises
    ------
    ConfigError
        A band at or above Nyquist, a trial shorter than a band needs or than ``n_frames``
        samples, channels the montage (or layout) does not know (from :mod:`jeeg.features` /
        :mod:`jeeg.grids`), or an unknown ``layout``.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ConfigError(f"sst_grid_inputs expects trials (n_trials, n_chans, n_times); got shape {X.shape}")
    de = trial_differential_entropy(X, sfreq, bands=bands)  # (trials, chans, bands)
    de = (de - de.mean(1, keepdims=True)) / (de.std(1, keepdims=True) + 1e-6)
    frames = temporal_frames(standardize_trials(X), sfreq, n_frames)  # (trials, chans, frames)
    if layout not in ("montage", "seed"):
        raise ConfigError(f"layout must be 'montage' or 'seed'; got {layout!r}")
    grid = SEED_GRID if layout == "seed" else montage_grid(list(ch_names), montage=montage, shape=layout_shape).grid
    interp = make_interpolator(list(ch_names), grid=grid, shape=tuple(grid_shape), method=method)
    maps = np.concatenate([np.swapaxes(de, 1, 2), np.swapaxes(frames, 1, 2)], axis=1)  # (trials, B+F, chans)
    return np.asarray(interp(maps), dtype=np.float32)


def derivation_matrix(ch_names: Sequence[str], specs: Sequence[str], where: str = "model_channels") -> np.ndarray:
    """The linear map from a recording's channels to a network's input channels.

    Each spec is one input channel: ``"C3"`` (that channel), ``"-ECG"`` (its negative, as the
    sleep-staging reference feeds ECG × −1) or ``"C3-C4"`` (a bipolar derivation: C3 minus C4).
    An exact channel name wins over a bipolar reading, so names that contain a hyphen
    (``"EEG (C4-A1)"``) still pick themselves.

    Parameters
    ----------
    ch_names : sequence of str, length n_chans
        The recording's channels (rows of a trial).
    specs : sequence of str, length n_inputs
        One spec per input channel.
    where : str
        Config key named in errors.

    Returns
    -------
    ndarray, float32, shape (n_inputs, n_chans)
        ``x_in = W @ x`` maps a trial (n_chans, n_times) to the network's (n_inputs, n_times).

    Raises
    ------
    ConfigError
        A spec naming channels absent from the recording (the message lists the channels present).
    """
    names = list(ch_names)
    index = {n: i for i, n in enumerate(names)}
    W = np.zeros((len(specs), len(names)), np.float32)
    for row, spec in enumerate(specs):
        sign, name = (-1.0, spec[1:]) if spec.startswith("-") and spec[1:] in index else (1.0, spec)
        if name in index:
            W[row, index[name]] = sign
            continue
        parts = spec.split("-")
        pairs = [("-".join(parts[:i]), "-".join(parts[i:])) for i in range(1, len(parts))]
        pair = next(((a, b) for a, b in pairs if a in index and b in index), None)
        if pair is None:
            raise ConfigError(f"{where}: {spec!r} is neither a channel of the recording nor a bipolar pair 'A-B' of two "
                              f"of its channels; channels present: {', '.join(names)}")
        W[row, index[pair[0]]], W[row, index[pair[1]]] = 1.0, -1.0
    return W


def model_inputs(representation: str, X: np.ndarray, sfreq: float, ch_names, *, standardize: bool, **kwargs) -> np.ndarray:
    """The array a model trains on: raw trials (z-scored if ``standardize``) or a representation.

    Raises
    ------
    ConfigError
        For an unknown ``representation`` or options it does not take.
    """
    if representation == "raw":
        if kwargs:
            raise ConfigError(f"representation 'raw' takes no representation_kwargs; got {sorted(kwargs)}")
        return standardize_trials(X) if standardize else np.asarray(X, np.float32)
    if representation == "sst_grid":
        try:
            return sst_grid_inputs(X, sfreq, ch_names, **kwargs)
        except TypeError as e:
            raise ConfigError(f"representation_kwargs for sst_grid: {e}") from None
    raise ConfigError(f"representation must be one of {REPRESENTATIONS}; got {representation!r}")


__all__ = ["REPRESENTATIONS", "derivation_matrix", "model_inputs", "sst_grid_inputs"]
