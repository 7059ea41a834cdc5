"""Electrode grids and the grid-interpolation operator (jeeg.grids)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mne
import numpy as np
import pytest
from scipy.interpolate import griddata

from jeeg.data.eegmmidb import CHANNELS
from jeeg.errors import ConfigError
from jeeg.grids import SEED_GRID, grid_positions, make_interpolator, montage_grid, project_montage


@pytest.fixture(scope="module")
def eegmmidb_grid():
    return montage_grid(CHANNELS)


def _griddata(grid, ch_names, values, shape, method):
    """Reference: scipy griddata on the same points and targets, one example at a time."""
    cells = {k.casefold(): v for k, v in grid_positions(grid).items()}
    pts = np.array([cells[c.casefold()] for c in ch_names], dtype=float)
    rr, cc = np.meshgrid(np.linspace(0, len(grid) - 1, shape[0]), np.linspace(0, len(grid[0]) - 1, shape[1]), indexing="ij")
    return np.stack([griddata(pts, v, (rr, cc), method=method, fill_value=0.0) for v in values])


def test_seed_grid_layout():
    assert len(SEED_GRID) == 9 and all(len(r) == 9 for r in SEED_GRID)
    pos = grid_positions(SEED_GRID)
    assert len(pos) == 62 == len({c.casefold() for c in pos})
    assert SEED_GRID[4] == tuple("T7 C5 C3 C1 CZ C2 C4 C6 T8".split())
    assert SEED_GRID[0] == (None, None, None, "FP1", "FPZ", "FP2", None, None, None)
    assert SEED_GRID[1] == (None, None, None, "AF3", None, "AF4", None, None, None)
    assert SEED_GRID[8] == (None, None, "CB1", "O1", "OZ", "O2", "CB2", None, None)
    assert pos["PO7"] == (7, 1) and pos["FT8"] == (3, 8)


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_operator_equals_griddata_seed(method):
    names = list(grid_positions(SEED_GRID))
    rng = np.random.default_rng(0)
    values = rng.standard_normal((4, len(names)))
    interp = make_interpolator(names, SEED_GRID, (32, 32), method)
    got = interp(values)
    assert got.shape == (4, 32, 32) and interp.matrix.shape == (32 * 32, 62)
    np.testing.assert_allclose(got, _griddata(SEED_GRID, names, values, (32, 32), method), atol=1e-5, rtol=0)
    assert np.all(got[:, 0, 0] == 0.0)  # corner outside the electrodes' convex hull: fill 0


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_operator_equals_griddata_eegmmidb(eegmmidb_grid, method):
    rng = np.random.default_rng(1)
    values = rng.standard_normal((3, len(CHANNELS))) * 20.0  # µV-like scale
    interp = make_interpolator(CHANNELS, eegmmidb_grid.grid, (24, 40), method)
    ref = _griddata(eegmmidb_grid.grid, CHANNELS, values, (24, 40), method)
    np.testing.assert_allclose(interp(values), ref, atol=1e-5 * 20.0, rtol=0)


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_operator_interpolates_at_cells(method):
    """On the coarse grid itself the image holds each channel's value at its cell."""
    names = list(grid_positions(SEED_GRID))[::-1]  # any channel order
    values = np.random.default_rng(2).standard_normal(len(names))
    img = make_interpolator(names, SEED_GRID, (9, 9), method)(values)
    pos = grid_positions(SEED_GRID)
    np.testing.assert_allclose([img[pos[n]] for n in names], values, atol=1e-12)


def test_jit_batched_matches_numpy():
    names = list(grid_positions(SEED_GRID))
    interp = make_interpolator(names)
    x = np.random.default_rng(3).standard_normal((2, 5, 62)).astype(np.float32)  # (batch, band, chans)
    got = jax.jit(interp)(jnp.asarray(x))
    assert got.shape == (2, 5, 32, 32) and got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), interp(x.astype(np.float64)), atol=1e-5, rtol=1e-5)


def test_montage_grid_places_each_channel_once(eegmmidb_grid):
    grid = eegmmidb_grid.grid
    assert len(grid) == 9 and all(len(r) == 9 for r in grid)
    placed = [c for r in grid for c in r if c is not None]
    assert sorted(placed) == sorted(CHANNELS)  # 64 channels, 64 distinct cells
    pos = grid_positions(grid)
    assert pos["C3"][1] < pos["Cz"][1] < pos["C4"][1] and pos["C3"][0] == pos["C4"][0]
    assert pos["T7"][1] < pos["C3"][1] and pos["Fp1"][1] < pos["Fp2"][1]
    assert pos["Fpz"][0] < pos["Fz"][0] < pos["Cz"][0] < pos["Pz"][0] < pos["Oz"][0]
    assert eegmmidb_grid.pos.shape == (64, 2)


def test_projection_is_mnes_topomap_projection(eegmmidb_grid):
    """Same 2-D positions as MNE's topomap (private helper, used here only as a reference)."""
    layout = pytest.importorskip("mne.channels.layout")
    if not hasattr(layout, "_find_topomap_coords"):
        pytest.skip("MNE moved its private topomap helper")
    info = mne.create_info(list(CHANNELS), 1.0, "eeg")
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    info.set_montage(mne.channels.make_standard_montage(name))
    np.testing.assert_allclose(eegmmidb_grid.pos, layout._find_topomap_coords(info, None), atol=1e-12)


def test_montage_object_and_case_insensitive():
    montage = mne.channels.make_standard_montage("biosemi32")
    names = ["fp1", "FZ", "cz", "Oz", "C3", "C4", "Pz"]
    mg = montage_grid(names, montage, shape=(5, 5))
    np.testing.assert_allclose(mg.pos, project_montage([n.upper() for n in names], montage))
    assert sorted(c for r in mg.grid for c in r if c) == sorted(names)


def test_errors():
    seed = list(grid_positions(SEED_GRID))
    with pytest.raises(ConfigError, match=r"XYZ1") as e:
        make_interpolator(["FP1", "XYZ1", "CZ", "CZZ"])
    assert "CZZ (did you mean CZ" in str(e.value) and "FPZ" in str(e.value)  # layout names listed
    with pytest.raises(ConfigError, match=r"duplicate.*Cz/CZ"):
        make_interpolator(["Cz", "CZ", "C3", "FZ"])
    with pytest.raises(ConfigError, match=r"at least 2 x 2"):
        make_interpolator(seed, shape=(1, 32))
    with pytest.raises(ConfigError, match=r"63 cells, fewer than the 64 channels"):
        montage_grid(CHANNELS, shape=(7, 9))
    with pytest.raises(ConfigError, match=r"no 2-D area"):
        make_interpolator(["T7", "C5", "C3"])
    with pytest.raises(ConfigError, match=r"absent from the montage: Q9"):
        montage_grid(["Cz", "Q9", "Fz"])
    with pytest.raises(ConfigError, match=r"unknown MNE montage"):
        project_montage(["Cz"], "no_such_montage")
    with pytest.raises(ConfigError, match=r"method"):
        make_interpolator(seed, method="nearest")
    with pytest.raises(ConfigError, match=r"\(\.\.\., 62\)"):
        make_interpolator(seed)(np.zeros((2, 61)))
