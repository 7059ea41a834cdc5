"""Electrode grids: channels placed on a 2-D H x W map, and interpolation of channel values to images.

SST-EmotionNet (Jia et al., ACM MM 2020, doi 10.1145/3394171.3413724) reads EEG as images: each
channel's value (a DE feature, or one time sample) sits at its electrode's cell of a coarse grid
(9 x 9 for SEED) and the map is interpolated to 32 x 32. This module gives

* :data:`SEED_GRID`, the 62-channel SEED 9 x 9 layout (TorchEEG ``SEED_LOCATION_LIST``);
* :func:`montage_grid`, a layout for any channels of any MNE montage (azimuthal equidistant
  projection as MNE's topomap, then a one-channel-per-cell assignment);
* :func:`make_interpolator`, a precomputed linear operator, applied as one matrix product, that
  maps ``(..., n_chans)`` values to ``(..., H, W)`` images in numpy or batched under ``jax.jit``.

Channel names are matched case-insensitively ("Fp1" is SEED's "FP1").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from jeeg.errors import ConfigError

#: A layout: rows (top = anterior) of columns (left = subject's left) holding a channel name or None.
Grid = tuple[tuple[str | None, ...], ...]

_SEED_ROWS = """
--- --- --- FP1 FPZ FP2 --- --- ---
--- --- --- AF3 --- AF4 --- --- ---
F7  F5  F3  F1  FZ  F2  F4  F6  F8
FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8
T7  C5  C3  C1  CZ  C2  C4  C6  T8
TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8
P7  P5  P3  P1  PZ  P2  P4  P6  P8
--- PO7 PO5 PO3 POZ PO4 PO6 PO8 ---
--- --- CB1 O1  OZ  O2  CB2 --- ---
"""
#: SEED / SEED-IV 62-channel 9 x 9 layout; source: TorchEEG ``SEED_LOCATION_LIST``
#: (torcheeg/datasets/constants/emotion_recognition/seed.py @ b6039b1), as used by SST-EmotionNet.
SEED_GRID: Grid = tuple(
    tuple(None if c == "---" else c for c in line.split()) for line in _SEED_ROWS.strip().splitlines()
)
# New names of MNE's template montages (MNE 1.13 deprecates "standard_*"; see jeeg.data.eegmmidb).
_RENAMED = {"standard_1005": "colin27_1005", "standard_1020": "colin27_1020"}


def _key(name: str) -> str:
    return name.casefold()


def _check_unique(names: Sequence[str], what: str) -> None:
    first: dict[str, str] = {}
    dups = []
    for n in names:
        if _key(n) in first:
            dups.append(f"{first[_key(n)]}/{n}")
        first.setdefault(_key(n), n)
    if dups:
        raise ConfigError(f"duplicate channel name(s) in {what} (case-insensitive): {', '.join(dups)}")


def _check_known(ch_names: Sequence[str], known: Sequence[str], what: str) -> None:
    """Raise ConfigError naming channels absent from ``known``, with close matches."""
    upper = {n.upper(): n for n in known}
    if missing := [c for c in ch_names if _key(c) not in {_key(k) for k in known}]:
        hints = []
        for c in missing:
            close = [upper[m] for m in difflib.get_close_matches(c.upper(), list(upper), n=3, cutoff=0.6)]
            hints.append(f"{c} (did you mean {', '.join(close)}?)" if close else c)
        raise ConfigError(
            f"channel(s) absent from {what}: {'; '.join(hints)}. {what} has {len(known)} channels: "
            f"{' '.join(known)}. Drop or rename those channels, or use another layout/montage."
        )


def grid_positions(grid: Grid) -> dict[str, tuple[int, int]]:
    """Cell of each channel of a layout.

    Parameters
    ----------
    grid : Grid
        Rows of equal length holding channel names or None (empty cell), e.g. :data:`SEED_GRID`.

    Returns
    -------
    dict
        channel name (as spelled in ``grid``) -> (row, col), row 0 at the top (anterior).

    Raises
    ------
    ConfigError
        Rows of unequal length, or a channel name twice (case-insensitive).
    """
    if len({len(r) for r in grid}) != 1:
        raise ConfigError(f"grid rows must have equal length, got lengths {[len(r) for r in grid]}")
    pos = {c: (i, j) for i, row in enumerate(grid) for j, c in enumerate(row) if c is not None}
    _check_unique([c for row in grid for c in row if c is not None], "the grid")
    return pos


def _check_shape(shape: tuple[int, int], what: str) -> tuple[int, int]:
    h, w = (int(s) for s in shape)
    if h < 2 or w < 2:
        raise ConfigError(f"{what} shape {tuple(shape)} must be at least 2 x 2 (H, W >= 2)")
    return h, w


class MontageGrid(NamedTuple):
    """Result of :func:`montage_grid`: the layout and the channels' 2-D positions."""

    grid: Grid  #: (H rows of W) names or None, usable like SEED_GRID
    pos: np.ndarray  #: (n_chans, 2) projected (x right, y anterior) positions in m, order of ch_names


def project_montage(ch_names: Sequence[str], montage="standard_1005") -> np.ndarray:
    """Azimuthal equidistant projection of channel positions, as MNE's topomap.

    The montage is set on an ``mne.Info`` (so positions are in MNE's head frame, origin between
    the pre-auricular points, x to RPA, y to nasion); each position p at polar angle theta from +z
    and azimuth phi maps to ``|p| * theta / (pi/2) * (cos phi, sin phi)``: the vertex at the
    centre, the equator at radius |p|. This is MNE's ``_auto_topomap_coords(to_sphere=True)``
    with its default sphere (origin 0, 0, 0), redone here because that function is private.

    Parameters
    ----------
    ch_names : sequence of str
        Channels to place (case-insensitive match against the montage).
    montage : str or mne.channels.DigMontage
        A built-in montage name (``mne.channels.get_builtin_montages()``) or a montage.

    Returns
    -------
    np.ndarray, shape (n_chans, 2)
        (x, y) in m; x towards the right ear, y towards the nose.

    Raises
    ------
    ConfigError
        Unknown montage name, duplicate channels, or channels without a position in the montage.
    """
    import mne

    if isinstance(montage, str):
        builtin = mne.channels.get_builtin_montages()
        name = _RENAMED.get(montage, montage) if _RENAMED.get(montage) in builtin else montage
        if name not in builtin:
            raise ConfigError(f"unknown MNE montage {montage!r}; built-in montages: {', '.join(builtin)}")
        montage = mne.channels.make_standard_montage(name)
    _check_unique(ch_names, "ch_names")
    _check_known(ch_names, montage.ch_names, "the montage")
    info = mne.create_info(list(ch_names), 1.0, "eeg")
    info.set_montage(montage, match_case=False, verbose="error")
    p = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=np.float64)
    r = np.linalg.norm(p, axis=1)
    theta = np.arccos(np.clip(p[:, 2] / r, -1.0, 1.0))
    phi = np.arctan2(p[:, 1], p[:, 0])
    return (r * theta / (np.pi / 2))[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)


def montage_grid(ch_names: Sequence[str], montage="standard_1005", shape: tuple[int, int] = (9, 9)) -> MontageGrid:
    """Layout for any channels of an MNE montage: projection, then one channel per grid cell.

    The projected positions (:func:`project_montage`) are scaled so that their bounding box spans
    the cell centres 0..H-1 (rows, anterior at the top) and 0..W-1 (columns, left at the left);
    channels are then assigned to distinct cells minimising the total squared distance to the
    cell centres (``scipy.optimize.linear_sum_assignment``). The result is deterministic, never
    puts two channels in one cell, and keeps each channel near its scaled position; where cells
    are scarce (64 EEGMMIDB channels in 9 x 9) a few neighbours may swap (e.g. Iz beside Oz, not
    below it), and real-head montages are not exactly left-right symmetric.

    Parameters
    ----------
    ch_names : sequence of str
        Channels, spelled as the caller's data; the grid uses these spellings.
    montage : str or mne.channels.DigMontage
        As in :func:`project_montage`; default MNE's template 10-05 montage.
    shape : (int, int)
        (H, W) of the grid; needs H * W >= n_chans and H, W >= 2.

    Returns
    -------
    MontageGrid
        ``grid`` (H rows of W names or None) and ``pos`` (n_chans, 2) in m.

    Raises
    ------
    ConfigError
        Bad shape, a grid with fewer cells than channels, or the errors of :func:`project_montage`.
    """
    from scipy.optimize import linear_sum_assignment

    h, w = _check_shape(shape, "grid")
    if h * w < len(ch_names):
        raise ConfigError(f"a {h} x {w} grid has {h * w} cells, fewer than the {len(ch_names)} channels; enlarge shape")
    pos = project_montage(ch_names, montage)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    rc = np.stack([(hi[1] - pos[:, 1]) / span[1] * (h - 1), (pos[:, 0] - lo[0]) / span[0] * (w - 1)], axis=1)
    cells = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1).reshape(-1, 2)
    cost = ((rc[:, None, :] - cells[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    table: list[list[str | None]] = [[None] * w for _ in range(h)]
    for ch, cell in zip(rows, cols):
        table[cell // w][cell % w] = ch_names[ch]
    return MontageGrid(tuple(tuple(r) for r in table), pos)


@dataclass(frozen=True, eq=False)
class GridInterpolator:
    """Precomputed linear map from per-channel values to an interpolated H x W image.

    ``image = values @ matrix.T``, reshaped: one matrix product, so it runs batched and jitted.
    Column c of ``matrix`` is scipy's interpolation of the one-hot vector e_c (see
    :func:`make_interpolator`); built by :func:`make_interpolator`.
    """

    matrix: np.ndarray  #: (H * W, n_chans) float64 operator
    shape: tuple[int, int]  #: (H, W) of the image
    ch_names: tuple[str, ...]  #: order of the input's channel axis
    method: str  #: "linear" or "cubic"

    def __call__(self, x):
        """Interpolate channel values to images.

        Parameters
        ----------
        x : np.ndarray or jax.Array, shape (..., n_chans)
            Values in the order of ``ch_names`` (any unit; the image has the same unit).

        Returns
        -------
        Same array type as ``x``, shape (..., H, W)
            numpy input: float64 numpy. JAX input (also a tracer under ``jax.jit``): ``x``'s float
            dtype, computed with ``Precision.HIGHEST`` (no TF32/bf16 passes on GPU).

        Raises
        ------
        ConfigError
            The last axis of ``x`` is not n_chans.
        """
        if x.shape[-1] != self.matrix.shape[1]:
            raise ConfigError(f"expected (..., {self.matrix.shape[1]}) channel values, got shape {tuple(x.shape)}")
        if isinstance(x, np.ndarray):
            return (x @ self.matrix.T).reshape(*x.shape[:-1], *self.shape)
        import jax
        import jax.numpy as jnp

        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
        m = jnp.asarray(self.matrix, dtype=dtype)
        y = jnp.einsum("...c,pc->...p", x.astype(dtype), m, precision=jax.lax.Precision.HIGHEST)
        return y.reshape(*x.shape[:-1], *self.shape)


def make_interpolator(
    ch_names: Sequence[str], grid: Grid = SEED_GRID, shape: tuple[int, int] = (32, 32), method: str = "cubic"
) -> GridInterpolator:
    """Operator interpolating channel values on a coarse layout to an H x W image.

    Points: channel c at its cell centre (row, col) of ``grid``. Targets: an H x W lattice spanning
    the coarse grid's extent, rows ``linspace(0, h-1, H)`` and columns ``linspace(0, w-1, W)``.
    ``scipy.interpolate.griddata(points, values, targets, method, fill_value=0)`` is linear in
    ``values`` for fixed points (linear: barycentric weights on the Delaunay triangles; cubic:
    Clough-Tocher, whose gradient estimate solves a quadratic problem), so interpolating the
    one-hot vectors e_c gives the operator's columns exactly. Targets outside the channels'
    convex hull are 0, as TorchEEG ``ToInterpolatedGrid`` (cubic griddata, fill 0). The cubic
    gradients are solved with tol 1e-12 (griddata's default 1e-6 stops the iterations early, so
    griddata agrees with this operator to about 1e-6 of the values' scale).

    Note: TorchEEG (github.com/torcheeg/torcheeg, ``torcheeg/transforms/numpy/to.py``,
    ``ToInterpolatedGrid``) fills the 9 x 9 grid by cubic griddata and its docs then resize it to
    32 x 32, the input size of SST-EmotionNet's official code (``input_width = 32``). Here
    the electrode points are interpolated straight to H x W: one linear map, exact (no second,
    bicubic resampling of an already interpolated 9 x 9 image), and applied to a whole batch as one
    matrix product on the device. With ``shape`` equal to the coarse grid's, the image is
    TorchEEG's 9 x 9 grid (up to the cubic gradient tolerance).

    Parameters
    ----------
    ch_names : sequence of str
        The data's channels, in the order of its channel axis; each must be in ``grid``
        (case-insensitive); channels of ``grid`` not listed are left out.
    grid : Grid
        Coarse layout, e.g. :data:`SEED_GRID` or ``montage_grid(...).grid``.
    shape : (int, int)
        (H, W) of the image, each >= 2; default 32 x 32 (SST-EmotionNet ``input_width``).
    method : {"cubic", "linear"}
        scipy interpolation method.

    Returns
    -------
    GridInterpolator
        ``interp(x)`` maps (..., n_chans) to (..., H, W).

    Raises
    ------
    ConfigError
        Channels absent from the grid (named, with close matches), duplicate channels, a bad
        method or shape, or channels that span no 2-D area (fewer than 3, or all on one line).
    """
    from scipy.interpolate import CloughTocher2DInterpolator, LinearNDInterpolator
    from scipy.spatial import QhullError

    if method not in ("linear", "cubic"):
        raise ConfigError(f"method must be 'linear' or 'cubic', got {method!r}")
    H, W = _check_shape(shape, "image")
    cells = grid_positions(grid)
    _check_unique(ch_names, "ch_names")
    _check_known(ch_names, list(cells), "the grid")
    by_key = {_key(k): v for k, v in cells.items()}
    points = np.array([by_key[_key(c)] for c in ch_names], dtype=np.float64)
    h, w = len(grid), len(grid[0])
    rr, cc = np.meshgrid(np.linspace(0, h - 1, H), np.linspace(0, w - 1, W), indexing="ij")
    eye = np.eye(len(ch_names))
    try:
        if method == "linear":
            f = LinearNDInterpolator(points, eye, fill_value=0.0)
        else:
            f = CloughTocher2DInterpolator(points, eye, fill_value=0.0, tol=1e-12, maxiter=10_000)
    except (QhullError, ValueError) as e:
        raise ConfigError(
            f"channels {list(ch_names)} span no 2-D area on the grid (need >= 3 not on one line): {e}"
        ) from e
    matrix = f(rr.ravel(), cc.ravel()).reshape(H * W, len(ch_names))
    return GridInterpolator(matrix, (H, W), tuple(ch_names), method)
