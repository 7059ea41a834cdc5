"""SST-EmotionNet's electrode-grid inputs from EEGMMIDB's montage, and ``representation=sst_grid`` in ``jeeg cv``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jeeg.cli import main
from jeeg.data.eegmmidb import CHANNELS
from jeeg.errors import ConfigError
from jeeg.grids import grid_positions, montage_grid
from jeeg.representations import model_inputs, sst_grid_inputs

SFREQ = 160.0


def _trials(seed=0, n=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, len(CHANNELS), 640)) * 10.0  # µV


def test_grid_cubes_put_each_channel_at_its_cell():
    X = _trials()
    t = np.arange(640) / SFREQ
    c3 = list(CHANNELS).index("C3")
    X[0, c3] += 40.0 * np.sin(2 * np.pi * 10.0 * t)  # strong alpha (8-14 Hz) at C3 in trial 0
    # On a 9 x 9 image the cell centres are pixels: each channel's value is its pixel.
    out = sst_grid_inputs(X, SFREQ, CHANNELS, grid_shape=(9, 9))
    assert out.shape == (3, 5 + 25, 9, 9) and out.dtype == np.float32
    row, col = grid_positions(montage_grid(list(CHANNELS)).grid)["C3"]
    alpha = out[0, 2]
    assert alpha[row, col] == alpha.max() and alpha[row, col] > 3.0  # z-score over 64 channels
    assert out[1, 2, row, col] < 3.0  # not in the other trials
    # Frames: the mean of each 1/25 of the z-scored trial at that channel.
    x = X[0, c3]
    z = (x - x.mean()) / (x.std() + 1e-6)
    first = (z[:25].sum() + 0.6 * z[25]) / 25.6  # 640 / 25 = 25.6 samples a frame; the 26th is shared
    np.testing.assert_allclose(out[0, 5, row, col], first, rtol=1e-4, atol=1e-5)
    # Band maps are z-scored within each trial, so the µV scale does not matter.
    np.testing.assert_allclose(sst_grid_inputs(X * 7.0, SFREQ, CHANNELS, grid_shape=(9, 9)), out, atol=2e-4)
    # 32 x 32 by default.
    assert sst_grid_inputs(X[:1], SFREQ, CHANNELS).shape == (1, 30, 32, 32)


def test_bad_representations_are_clear():
    X = _trials(n=1)
    with pytest.raises(ConfigError, match="representation must be one of"):
        model_inputs("spectrogram", X, SFREQ, CHANNELS, standardize=True)
    with pytest.raises(ConfigError, match="takes no representation_kwargs"):
        model_inputs("raw", X, SFREQ, CHANNELS, standardize=True, grid_shape=(9, 9))
    with pytest.raises(ConfigError, match="representation_kwargs for sst_grid"):
        model_inputs("sst_grid", X, SFREQ, CHANNELS, standardize=True, grid=(9, 9))
    with pytest.raises(ConfigError, match="gamma"):  # 31-50 Hz above the Nyquist of 80 Hz sampling
        sst_grid_inputs(X[:, :, ::2], 80.0, CHANNELS)


@pytest.mark.slow
def test_sst_emotionnet_trains_on_grid_cubes_from_the_command_line(eegmmidb_root, tmp_path, capsys):
    common = ["cv", "--model", "sst_emotionnet", "--task", "left_right_imagined", "--subjects", "1", "--max-epochs", "1",
              "--sequential", "--set", "representation=sst_grid", "--set", "l_freq=1", "--set", "h_freq=50",
              "--set", "batch_size=16", "--set", "baselines=de_lr", "--data-dir", str(eegmmidb_root),
              "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    # The model's grid must match the representation's.
    assert main([*common, "--set", "representation_kwargs.grid_shape=[16, 16]", "--out", str(tmp_path / "bad")]) == 2
    assert "make model_kwargs match representation_kwargs" in capsys.readouterr().err
    out = tmp_path / "sst"
    assert main([*common, "--set", "representation_kwargs.grid_shape=[16, 16]", "--set", "model_kwargs.grid_shape=[16, 16]",
                 "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    recs = [r for r in m["folds"] if r["model"] == "sst_emotionnet"]
    assert len(recs) == 5 and all(r["n_test"] == 9 for r in recs)
    # The DE baseline (it needs the recording's sfreq, passed by the runner) on the same folds.
    de = [r for r in m["folds"] if r["model"] == "de_lr"]
    assert [r["fold"] for r in de] == [r["fold"] for r in recs] and all(0 <= r["accuracy"] <= 1 for r in de)
