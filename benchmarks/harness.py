"""Shared benchmark harness (the method: ``docs/benchmarks.md``).

Every benchmark times the outermost jitted function: compiled ahead of time (``lower().compile()``,
its time reported apart), inputs placed on the device first, warmed up, every result synchronised
with ``jax.block_until_ready``, the median of several repeats reported. Results are JSON files
``<out>/<device>/<name>.json`` with the environment; PyTorch peers run as subprocesses in their own
venv (``benchmarks/peers``, ``$JEEG_PEERS_PYTHON``) with ``torch.set_num_threads`` equal to JAX's
core count, in the same benchmark run, and comparisons are ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jax

from jeeg import host
from jeeg.host import git_commit, n_cores

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: Dense peak FLOP/s of known accelerators (vendor datasheets, SXM parts, without sparsity):
#: (float32 non-tensor-core, TF32 tensor core, bf16/fp16 tensor core).
PEAK_FLOPS = {
    "H100": {"float32": 67e12, "tf32": 494.7e12, "bfloat16": 989.4e12, "float16": 989.4e12},
    "H200": {"float32": 67e12, "tf32": 494.7e12, "bfloat16": 989.4e12, "float16": 989.4e12},
    "A100": {"float32": 19.5e12, "tf32": 156e12, "bfloat16": 312e12, "float16": 312e12},
}


def compile_timed(jitted, *args, **kwargs) -> tuple[Callable, float]:
    """``jitted.lower(*args).compile()`` and its wall time in s."""
    t0 = time.perf_counter()
    compiled = jitted.lower(*args, **kwargs).compile()
    return compiled, time.perf_counter() - t0


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time in s of ``fn()`` with its results ready (``block_until_ready``)."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(a: Callable[[], Any], b: Callable[[], Any], pairs: int) -> dict:
    """Time ``a`` and ``b`` alternately (a, b, a, b, ...), ``pairs`` times each, results ready.

    Each pair's ratio ``t_b / t_a`` is one sample, so a change of load hits both sides of it
    alike. Returns the samples, their median ratio and interquartile range, the median times and
    the load average before and after (``os.getloadavg``)."""
    import numpy as np

    def wall(fn) -> float:
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        return time.perf_counter() - t0

    load0 = os.getloadavg()
    samples = []
    for _ in range(pairs):
        ta, tb = wall(a), wall(b)
        samples.append({"a_s": ta, "b_s": tb, "ratio": tb / ta})
    q1, med, q3 = np.percentile([s["ratio"] for s in samples], [25, 50, 75])
    return {"pairs": samples, "median_ratio": float(med), "iqr": [float(q1), float(q3)],
            "median_s": {"a": float(np.median([s["a_s"] for s in samples])),
                         "b": float(np.median([s["b_s"] for s in samples]))},
            "load_average": {"before": list(load0), "after": list(os.getloadavg())}}


def environment() -> dict:
    """jeeg's run environment (:func:`jeeg.host.environment`) plus the benchmark-relevant facts
    (cores, device count, platform, commit)."""
    env = host.environment()
    env.update(cores=n_cores(), n_devices=jax.device_count(), platform=jax.devices()[0].platform, commit=git_commit())
    return env


def device_tag() -> str:
    """Folder name of this device's results: ``cpu`` or the accelerator's kind (``NVIDIA_H100_80GB_HBM3``)."""
    dev = jax.devices()[0]
    return "cpu" if dev.platform == "cpu" else dev.device_kind.replace(" ", "_")


def peak_flops(dtype: str = "float32") -> float | None:
    """The device's dense peak FLOP/s for ``dtype`` if known (GPUs in :data:`PEAK_FLOPS`), else None."""
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return None
    for name, peaks in PEAK_FLOPS.items():
        if name in dev.device_kind:
            return peaks.get(dtype)
    return None


def write_result(name: str, result: dict, out: Path | None = None) -> Path:
    """Write ``result`` (with ``environment`` added) to ``<out>/<device>/<name>.json``, say so on
    stdout (:func:`log`), and return the path."""
    folder = Path(out or RESULTS) / device_tag()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, **result, "environment": environment()}, indent=2))
    log(f"wrote {path}")
    return path


def peers_python() -> str | None:
    """The PyTorch peers venv's python (``$JEEG_PEERS_PYTHON``, else the default venv of
    ``benchmarks/peers/setup_env.sh``), or None if there is none."""
    cands = [os.environ.get("JEEG_PEERS_PYTHON"),
             str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jeeg" / "peers-venv" / "bin" / "python")]
    return next((c for c in cands if c and Path(c).is_file()), None)


def run_peer(script: str, args: list[str], timeout: float = 1800) -> dict:
    """Run ``benchmarks/peers/<script>`` in the peers venv; it prints one JSON object as its last
    stdout line, which is returned. Torch gets JAX's core count (``--threads``).

    Raises
    ------
    RuntimeError
        No peers venv, or the script failed (its stderr tail is in the message).
    """
    py = peers_python()
    if py is None:
        raise RuntimeError("no PyTorch peers venv: run benchmarks/peers/setup_env.sh and set JEEG_PEERS_PYTHON")
    cmd = [py, str(HERE / "peers" / script), "--threads", str(n_cores()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"peer {script} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


__all__ = ["PEAK_FLOPS", "RESULTS", "compile_timed", "device_tag", "environment", "log", "median_time", "n_cores",
           "peak_flops", "peers_python", "run_peer", "write_result"]
