"""Shared test fixtures.

Real EEGMMIDB recordings come from ``../shared/data`` (unpacked by its ``prepare.sh`` in MNE's own
layout) or from an ``MNE_DATA`` folder that already holds them. Nothing is ever downloaded. Where
no real data can be found the real-data tests are skipped, unless ``JEEG_REQUIRE_DATA=1`` (set by
``.ci/run``), in which case they fail.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EEGBCI_SUBDIR = Path("MNE-eegbci-data/files/eegmmidb/1.0.0")

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Compiled XLA programs are reused across test runs (CI runs on 2 cores).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path.home() / ".cache" / "jeeg" / "jax-cache"))


def peers_python() -> str:
    """The python of the PyTorch peers venv (``$JEEG_PEERS_PYTHON``) for the parity tests; they skip
    without it, and fail when ``JEEG_REQUIRE_PEERS=1`` (set by ``.ci/run``)."""
    py = os.environ.get("JEEG_PEERS_PYTHON")
    if py and Path(py).is_file():
        return py
    if os.environ.get("JEEG_REQUIRE_PEERS") == "1":
        pytest.fail("JEEG_REQUIRE_PEERS=1 but $JEEG_PEERS_PYTHON is not the python of a peers venv "
                    "(build it with benchmarks/peers/setup_env.sh)")
    pytest.skip("no PyTorch peers venv: run benchmarks/peers/setup_env.sh and set JEEG_PEERS_PYTHON to its last line")


def assert_jitted_gradients_equal_eager(model, forward, y) -> None:
    """The cross-entropy gradients of ``model`` (its variables cast to float64) under ``jit`` equal
    those of the same code run op by op, tensor by tensor (relative L2 1e-8). ``forward(model)``
    gives the training-mode logits (batch, n_classes), ``y`` the labels. Call it inside
    ``jax.enable_x64(True)``. It catches XLA miscompiling a gradient inside a jitted step (both
    max-pooling bugs of SST-EmotionNet and U-Time, jax 0.10.2 CPU)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax import nnx

    gd, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
    stats = jax.tree.map(lambda a: a.astype(jnp.float64), stats)

    def loss(p):
        m = nnx.merge(gd, p, jax.tree.map(jnp.asarray, stats))  # fresh statistics each trace
        return optax.softmax_cross_entropy_with_integer_labels(forward(m), y).mean()

    eager, jitted = jax.grad(loss)(params), jax.jit(jax.grad(loss))(params)
    for (path, a), (_, b) in zip(nnx.to_flat_state(eager), nnx.to_flat_state(jitted), strict=True):
        a, b = np.asarray(a[...]), np.asarray(b[...])
        assert np.linalg.norm(a - b) <= 1e-8 * np.linalg.norm(a) + 1e-12, path


def _has_subject(root: Path, subject: int) -> bool:
    return (root / EEGBCI_SUBDIR / f"S{subject:03d}" / f"S{subject:03d}R04.edf").is_file()


@pytest.fixture(scope="session")
def eegmmidb_root() -> Path:
    """Folder holding ``MNE-eegbci-data/...`` with all 17 real subjects (S001-S017)."""
    env = os.environ.get("MNE_DATA")
    if env and all(_has_subject(Path(env), s) for s in range(1, 18)):
        return Path(env)
    if (SHARED_DATA / "prepare.sh").is_file():
        dest = Path(os.environ.get("JEEG_TEST_DATA", Path.home() / ".cache" / "jeeg" / "test-data"))
        out = subprocess.run(
            ["sh", str(SHARED_DATA / "prepare.sh"), str(dest)], check=True, capture_output=True, text=True
        )
        return Path(out.stdout.strip())
    if os.environ.get("JEEG_REQUIRE_DATA") == "1":
        pytest.fail("real EEGMMIDB data required (JEEG_REQUIRE_DATA=1) but neither MNE_DATA nor ../shared/data has it")
    pytest.skip("real EEGMMIDB recordings not found (set MNE_DATA or place ../shared/data beside the repo)")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A fresh, empty epochs cache for one test."""
    d = tmp_path / "epochs-cache"
    d.mkdir()
    return d
