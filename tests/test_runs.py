"""Whole ``jeeg cv`` runs in separate processes on real EEGMMIDB data (subject 1, imagined).

* bitwise reproducibility: two processes with the same seed write identical ``metrics.json``,
  ``predictions.csv`` and checkpoint arrays; another seed changes them;
* ``--resume`` after SIGKILL finishes bitwise-identical to the uninterrupted run and does not
  recompute finished folds;
* two processes joined by ``jax.distributed`` (CPU collectives over gloo, one CPU device each)
  give the same results as one process with two CPU devices.

Every run shares one config: 5 folds as members, 2 members per program (3 programs), checkpoints
every epoch, members sharded over 2 devices.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jeeg.compare import compare_runs

pytestmark = pytest.mark.slow

ARGS = [
    "--task", "left_right_imagined", "--subjects", "1", "--max-epochs", "4",
    "--set", "batch_size=16", "--set", "max_members=2", "--set", "checkpoint_every=1",
    "--set", "baselines=csp_lda", "--quiet",
]


def _env(root: Path, n_devices: int) -> dict:
    return {**os.environ, "MNE_DATA": str(root), "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": str(n_devices),
}


def _cmd(out: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jeeg.cli", "cv", *ARGS, "--cache-dir", str(cache), "--out", str(out), *extra]


def _run(cmd: list[str], env: dict) -> None:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(eegmmidb_root, tmp_path_factory):
    """The reference run (seed 0, one process, 2 CPU devices) and its cache and env."""
    base = tmp_path_factory.mktemp("runs")
    cache = base / "cache"
    env = _env(eegmmidb_root, 2)
    _run(_cmd(base / "a", cache), env)
    return base, cache, env


def test_same_seed_in_two_processes_is_bitwise_identical_and_another_seed_is_not(runs):
    base, cache, env = runs
    a = base / "a"
    assert json.loads((a / "engine.json").read_text())["n_programs"] == 3
    assert sorted(p.name for p in (a / "checkpoints").iterdir()) == ["stff_da-0000", "stff_da-0001", "stff_da-0002"]
    # The second process also checks itself: --check-reproducible runs twice more in-process.
    _run(_cmd(base / "b", cache, "--check-reproducible"), env)
    assert json.loads((base / "b" / "reproducibility.json").read_text()) == {"identical": True, "first_difference": None}
    assert compare_runs(a, base / "b") is None
    _run(_cmd(base / "c", cache, "--seed", "1"), env)
    diff = compare_runs(a, base / "c")
    assert diff is not None and diff.startswith("metrics.json folds[")  # the first differing fold is named


def test_resume_after_sigkill_is_bitwise_identical_and_reuses_finished_folds(runs):
    base, cache, env = runs
    out = base / "killed"
    proc = subprocess.Popen(_cmd(out, cache), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = out / "folds.jsonl"
    deadline = time.time() + 600
    # Kill as soon as the first program of members has been scored (baselines are done by then).
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and '"model": "stff_da"' in log.read_text():
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists()
    finished = [json.loads(line)["record"] for line in log.read_text().splitlines() if line.strip()]
    n_model_done = sum(r["model"] == "stff_da" for r in finished)
    assert 1 <= n_model_done < 5  # killed part-way: later programs (or members) not yet scored
    started_at = (out / "folds.jsonl").stat().st_mtime_ns
    _run([sys.executable, "-m", "jeeg.cli", "cv", "--resume", str(out), "--quiet"], env)
    assert compare_runs(base / "a", out) is None
    lines = [json.loads(line)["record"] for line in log.read_text().splitlines()]
    assert lines[: len(finished)] == finished  # finished folds kept, appended to, never rewritten
    assert len(lines) == 10 and (out / "folds.jsonl").stat().st_mtime_ns >= started_at


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_with_jax_distributed_match_one_process(runs):
    base, cache, env = runs
    out = base / "distributed"
    addr = f"localhost:{_free_port()}"
    env1 = {**env, "JAX_NUM_CPU_DEVICES": "1"}
    procs = [
        subprocess.Popen(
            _cmd(out, cache, "--coordinator", addr, "--num-processes", "2", "--process-id", str(i)),
            env=env1, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    errs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(e[-2000:] for e in errs)
    engine = json.loads((out / "engine.json").read_text())
    assert engine["n_processes"] == 2 and engine["n_devices"] == 2
    # Same layout as the reference (one member per device), so the same bits.
    assert compare_runs(base / "a", out) is None
