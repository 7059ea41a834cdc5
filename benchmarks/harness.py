"""Shared benchmark harness (the method: ``docs/benchmarks.md``).

Every benchmark times the outermost jitted function: compiled ahead of time (``lower().compile()``,
its time reported apart), inputs placed on the device first, warmed up, every result synchronised
with ``jax.block_until_ready``, the median of several repeats reported. Results are JSON files
``<out>/<device>/<name>.json`` with the environment; PyTorch peers run as subprocesses in their own
venv (``benchmarks/peers``, ``$JEEG_PEERS_PYTHON``) with ``torch.set_num_threads`` equal to JAX's
core count, in the same benchmark run, and comparisons are ratios. A jeeg-against-peer ratio is
measured in interleaved pairs (:func:`interleaved_pairs`): the peer runs as a long-lived process
(:class:`PeerProcess`) and one jeeg step and one peer step alternate, so both sides of each
pair's ratio see the same load; the median of the per-pair ratios, their interquartile range
and the load average are reported.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Self

import jax
import numpy as np

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


def wall_timer(fn: Callable[[], Any]) -> Callable[[], float]:
    """A timer for :func:`interleaved_pairs`: calls ``fn()``, waits for its results
    (``jax.block_until_ready``) and returns the wall time in s."""
    def timed() -> float:
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        return time.perf_counter() - t0
    return timed


def interleaved_pairs(a: Callable[[], float], b: Callable[[], float], pairs: int) -> dict:
    """Time ``a`` and ``b`` in ``pairs`` adjacent pairs, alternating which goes first (a b, b a, a b, ...).

    ``a`` and ``b`` are timers: each call runs the workload once and returns its wall time in s
    (:func:`wall_timer` for a jitted function, :meth:`PeerProcess.step` for a peer, which times
    itself so its pipe latency is not counted). Each pair's ratio ``t_b / t_a`` is one sample
    taken within one short window, so a change of load between pairs hits both sides of it
    alike, and alternating the order cancels a first-or-second-in-the-pair bias.

    Returns
    -------
    dict
        ``pairs``: per pair ``{"a_s", "b_s", "ratio", "first"}``; ``ratio_median``: median of the
        per-pair ratios; ``ratio_iqr``: their [25th, 75th] percentiles; ``median_s``: ``{"a", "b"}``
        median times; ``loadavg``: ``{"before", "after"}`` (``os.getloadavg``: 1, 5, 15 min).

    Raises
    ------
    ValueError
        ``pairs < 1``, or a timer returned a time that is not positive and finite.
    """
    if pairs < 1:
        raise ValueError(f"interleaved_pairs: pairs must be >= 1, got {pairs}")
    load0 = os.getloadavg()
    samples = []
    for i in range(pairs):
        if i % 2 == 0:
            ta = float(a())
            tb = float(b())
        else:
            tb = float(b())
            ta = float(a())
        if not (np.isfinite([ta, tb]).all() and ta > 0 and tb > 0):
            raise ValueError(f"interleaved_pairs: pair {i} gave times a={ta!r} s, b={tb!r} s; both must be > 0")
        samples.append({"a_s": ta, "b_s": tb, "ratio": tb / ta, "first": "a" if i % 2 == 0 else "b"})
    q1, med, q3 = np.percentile([s["ratio"] for s in samples], [25, 50, 75])
    return {"pairs": samples, "ratio_median": float(med), "ratio_iqr": [float(q1), float(q3)],
            "median_s": {"a": float(np.median([s["a_s"] for s in samples])),
                         "b": float(np.median([s["b_s"] for s in samples]))},
            "loadavg": {"before": list(load0), "after": list(os.getloadavg())}}


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


def result_path(name: str, out: Path | None = None) -> Path:
    """Where benchmark ``name`` writes its JSON on this device: ``<out>/<device>/<name>.json``
    (``out`` default :data:`RESULTS`; device: :func:`device_tag`)."""
    return Path(out or RESULTS) / device_tag() / f"{name}.json"


def write_result(name: str, result: dict, out: Path | None = None, *, complete: bool = True) -> Path:
    """Write ``result`` (with ``environment`` and ``complete`` added) to ``<out>/<device>/<name>.json``
    and return the path.

    Benchmarks call it after every row with ``complete=False`` and once more at the end, so that a
    run stopped by its time limit (the device check's) keeps every row it finished. The file is
    replaced atomically (written beside, then renamed): a kill mid-write leaves the previous
    version. Only the final write is announced on stderr (:func:`log`)."""
    path = result_path(name, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.json.tmp")
    tmp.write_text(json.dumps({"benchmark": name, **result, "complete": complete, "environment": environment()},
                              indent=2))
    os.replace(tmp, path)
    if complete:
        log(f"wrote {path}")
    return path


#: Modules whose deprecations :func:`strict_warnings` turns into errors: jeeg's and the benchmarks'.
OWN_MODULES = r"(jeeg|__main__|harness|attention|compile_times|end_to_end|engine_loop|members_fit|members_scaling|" \
              r"report|run_all|train_steps)(\.|$)"


def strict_warnings() -> None:
    """Deprecation, pending-deprecation and future warnings raised on jeeg's or a benchmark's own
    lines become errors (``$JEEG_STRICT_WARNINGS=1``, set by the device check's CPU rehearsal), so
    that an API the GPU image's newer JAX deprecates fails the rehearsal here rather than the
    lease there. Warnings attributed to third-party modules stay warnings."""
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("error", category=category, module=OWN_MODULES)


if os.environ.get("JEEG_STRICT_WARNINGS") == "1":
    strict_warnings()


def peers_python() -> str | None:
    """The PyTorch peers venv's python (``$JEEG_PEERS_PYTHON``, else the default venv of
    ``benchmarks/peers/setup_env.sh``), or None if there is none."""
    cands = [os.environ.get("JEEG_PEERS_PYTHON"),
             str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jeeg" / "peers-venv" / "bin" / "python")]
    return next((c for c in cands if c and Path(c).is_file()), None)


def peer_env() -> dict:
    """The environment of a peer subprocess: this one's, with ``PYTHONPATH`` replaced by
    ``$JEEG_PEERS_PYTHONPATH`` when that is set (the CPU rehearsal sets it empty, so that the peers
    venv imports its own packages, not the wheels carried for the GPU image; on the device the
    peers run in the image's python3 and need those wheels, so it stays unset)."""
    env = dict(os.environ)
    if "JEEG_PEERS_PYTHONPATH" in env:
        env["PYTHONPATH"] = env["JEEG_PEERS_PYTHONPATH"]
    return env


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
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=peer_env())
    if proc.returncode != 0:
        raise RuntimeError(f"peer {script} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class PeerProcess:
    """A long-lived peer: ``benchmarks/peers/<script> --serve`` in the peers venv (``--threads`` =
    JAX's core count), which builds its model once and then times train steps on request.

    Use as a context manager; :attr:`info` holds the peer's ready line (``n_params``, ``device``,
    ``threads``, ``versions``, ...), :meth:`step` runs steps and returns their wall time in s as
    the peer measured it. Leaving the context sends ``quit`` and, failing that, kills the process.

    Raises
    ------
    RuntimeError
        No peers venv; the peer died or answered an error (its stderr tail is in the message);
        or it gave no answer within ``timeout`` s.
    """

    def __init__(self, script: str, args: list[str], timeout: float = 600, python: str | None = None):
        self.script, self.args, self.timeout = script, list(args), timeout
        self.python = python or peers_python()
        if self.python is None:
            raise RuntimeError("no PyTorch peers venv: run benchmarks/peers/setup_env.sh and set JEEG_PEERS_PYTHON")
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}

    def __enter__(self) -> Self:
        self._err = tempfile.TemporaryFile(mode="w+")
        cmd = [self.python, str(HERE / "peers" / self.script), "--threads", str(n_cores()), "--serve", *self.args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                                     text=True, bufsize=1, env=peer_env())
        self._lines: queue.Queue = queue.Queue()

        def pump(stdout, lines) -> None:  # a thread, so a timeout never blocks on a half-read pipe
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout, self._lines), daemon=True).start()
        try:
            self.info = self._answer()
            if not self.info.get("ready"):
                raise RuntimeError(f"peer {self.script}: expected a ready line, got {self.info}")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stderr_tail(self) -> str:
        self._err.seek(0)
        return self._err.read()[-2000:]

    def _answer(self) -> dict:
        """The next JSON object the peer prints (other stdout lines are skipped)."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                line = self._lines.get(timeout=left)
            except queue.Empty:
                raise RuntimeError(f"peer {self.script}: no answer within {self.timeout:g} s") from None
            if line is None:  # end of its stdout: the peer exited
                rc = self.proc.wait(timeout=10)
                raise RuntimeError(f"peer {self.script} exited ({rc}): {self._stderr_tail()}")
            line = line.strip()
            if line.startswith("{"):
                try:
                    out = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "error" in out:
                    raise RuntimeError(f"peer {self.script}: {out['error']}")
                return out

    def step(self, n: int = 1) -> float:
        """Run ``n`` train steps in the peer; their wall time in s (synchronised, timed by the peer)."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"peer {self.script} is not running")
        try:
            self.proc.stdin.write(f"step {int(n)}\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"peer {self.script} exited: {self._stderr_tail()}") from None
        return float(self._answer()["wall_s"])

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.write("quit\n")
                    self.proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except (BrokenPipeError, OSError):
                    pass
            self._err.close()
            self.proc = None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


__all__ = ["PEAK_FLOPS", "RESULTS", "PeerProcess", "compile_timed", "device_tag", "environment",
           "interleaved_pairs", "log", "median_time", "n_cores", "peak_flops", "peer_env", "peers_python", "result_path", "run_peer",
           "strict_warnings", "wall_timer", "write_result"]
