"""Facts about the host and the software a result was measured with, shared by runs and benchmarks.

:func:`environment` is recorded in every run's ``config.json`` and every benchmark's JSON;
:func:`device_memory_bytes` sizes programs of members; :func:`git_commit` names the code.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


#: The distributions whose versions every run and benchmark records (absent ones as None).
VERSIONED = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "numpy", "scipy", "mne", "scikit-learn",
             "pyriemann", "torch")


def versions() -> dict[str, str | None]:
    """Installed versions of :data:`VERSIONED` (``importlib.metadata``; None where a distribution is
    absent), read without importing them: a machine without mne, such as a GPU image, still
    reports everything else."""
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment() -> dict[str, Any]:
    """Versions, device and host facts recorded with every run and benchmark.

    ``versions`` holds every distribution of :data:`VERSIONED` (None where absent); the top-level
    ``jax``, ``flax``, ``mne`` and ``scikit-learn`` keys repeat four of them, as runs recorded
    them before. ``jax_platforms`` is ``$JAX_PLATFORMS`` (empty: JAX's own choice)."""
    import jax

    dev = jax.devices()[0]
    ver = versions()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": ver["flax"],
        "mne": ver["mne"],
        "scikit-learn": ver["scikit-learn"],
        "versions": ver,
        "backend": jax.default_backend(),
        "device_kind": dev.device_kind,
        "n_devices": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax_platforms": os.environ.get("JAX_PLATFORMS", ""),
    }


def cpu_model() -> str:
    """The host CPU's model name (``/proc/cpuinfo``'s "model name" on Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_memory_bytes() -> int:
    """Memory of one local device: the accelerator's limit, or this host's RAM / CPU devices."""
    import jax

    dev = jax.local_devices()[0]
    try:
        stats = dev.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = {}
    if stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(ram // max(1, jax.local_device_count()))


def n_cores() -> int:
    """CPU cores this process may use (its affinity mask; the thread count given to PyTorch peers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def git_commit() -> str:
    """The code's commit: ``$JEEG_COMMIT`` when the caller passes it in (a copy of the tree without
    ``.git``, such as the device check's), else the checkout's short hash (``+changes`` if the
    code in ``jeeg/`` or ``benchmarks/`` differs from it; results files do not count), else ``?``."""
    given = os.environ.get("JEEG_COMMIT", "").strip()
    if given:
        return given
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "jeeg", "benchmarks", ":!benchmarks/results"],
                               cwd=REPO, capture_output=True).returncode
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + ("+changes" if dirty else "")
