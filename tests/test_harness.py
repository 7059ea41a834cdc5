"""The benchmark harness's interleaved pairs and long-lived peer (``benchmarks/harness.py``).

A ratio measured in interleaved pairs must not follow the machine's load: both halves of each
pair run in the same short window, so a CPU hog that starts beside the benchmark slows both
alike. These tests need neither the peers venv nor a GPU.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def harness():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import harness as mod
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return mod


def _matmuls(n: int, reps: int):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))

    def work():
        out = a
        for _ in range(reps):
            out = a @ a
        return out
    return work


def test_interleaved_pairs_alternates_and_summarises(harness):
    calls = []
    times = iter([1.0, 2.0, 3.0, 1.0, 1.0, 4.0])  # pair 0: a, b; pair 1: b, a; pair 2: a, b

    def timer(name):
        def t():
            calls.append(name)
            return next(times)
        return t

    r = harness.interleaved_pairs(timer("a"), timer("b"), 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [(p["a_s"], p["b_s"], p["first"]) for p in r["pairs"]] == [(1.0, 2.0, "a"), (1.0, 3.0, "b"), (1.0, 4.0, "a")]
    assert r["ratio_median"] == 3.0 and r["ratio_iqr"] == [2.5, 3.5]
    assert r["median_s"] == {"a": 1.0, "b": 3.0}
    assert len(r["loadavg"]["before"]) == len(r["loadavg"]["after"]) == 3
    with pytest.raises(ValueError, match="pairs must be >= 1"):
        harness.interleaved_pairs(timer("a"), timer("b"), 0)
    with pytest.raises(ValueError, match="both must be > 0"):
        harness.interleaved_pairs(lambda: 0.0, lambda: 1.0, 1)


def test_interleaved_ratio_survives_a_cpu_hog(harness):
    """Two matmul workloads of ~2x cost: the median paired ratio with two spinning processes beside
    it (one per core of CI's 2) stays within 25 % of the ratio without them."""
    from threadpoolctl import threadpool_limits

    small, large = _matmuls(160, 300), _matmuls(202, 300)  # (202 / 160)^3 ≈ 2.0 the flops
    with threadpool_limits(1):  # one BLAS thread each, so the ratio is the flops', not the threads'
        small(), large()
        quiet = harness.interleaved_pairs(harness.wall_timer(small), harness.wall_timer(large), 15)
        hogs = [subprocess.Popen([sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            assert all(h.stdout.readline().strip() == "spinning" for h in hogs)  # both hogs run now
            busy = harness.interleaved_pairs(harness.wall_timer(small), harness.wall_timer(large), 15)
        finally:
            for h in hogs:
                h.kill()
            for h in hogs:
                h.wait()
                h.stdout.close()
    assert 1.3 < quiet["ratio_median"] < 3.5, quiet["ratio_median"]  # the workloads really differ
    assert busy["ratio_median"] == pytest.approx(quiet["ratio_median"], rel=0.25), (quiet, busy)
    assert quiet["ratio_iqr"][0] <= quiet["ratio_median"] <= quiet["ratio_iqr"][1]


FAKE_PEER = textwrap.dedent('''
    import json, sys, time
    args = sys.argv[1:]
    assert args[0] == "--threads" and "--serve" in args, args
    print("a stray line a library printed")
    print(json.dumps({"ready": True, "n_params": 7, "device": "cpu"}), flush=True)
    for line in sys.stdin:
        w = line.split()
        if w == ["quit"]:
            break
        if w == ["die"]:
            print("dying on purpose", file=sys.stderr, flush=True)
            sys.exit(3)
        if len(w) != 2 or w[0] != "step":
            print(json.dumps({"error": "unknown command " + line.strip()}), flush=True)
            continue
        t0 = time.perf_counter()
        time.sleep(0.002 * int(w[1]))
        print(json.dumps({"wall_s": time.perf_counter() - t0, "loss": 0.5}), flush=True)
''')


def test_peer_process_serves_steps_and_reports_failures(harness, tmp_path, monkeypatch):
    script = tmp_path / "fake_peer.py"
    script.write_text(FAKE_PEER)
    with harness.PeerProcess(str(script), [], timeout=30, python=sys.executable) as peer:
        assert peer.info["n_params"] == 7
        one, three = peer.step(1), peer.step(3)
        assert 0.002 <= one < three and three >= 0.006
        r = harness.interleaved_pairs(lambda: 0.001, peer.step, 3)
        assert len(r["pairs"]) == 3 and r["ratio_median"] >= 2
        proc = peer.proc
        peer.proc.stdin.write("bogus\n")
        peer.proc.stdin.flush()
        with pytest.raises(RuntimeError, match="unknown command bogus"):
            peer._answer()
    assert proc.returncode == 0 and peer.proc is None  # 'quit' ended it
    with harness.PeerProcess(str(script), [], timeout=30, python=sys.executable) as peer:
        peer.proc.stdin.write("die\n")
        peer.proc.stdin.flush()
        with pytest.raises(RuntimeError, match=r"exited \(3\): dying on purpose"):
            peer._answer()
    monkeypatch.setattr(harness, "peers_python", lambda: None)
    with pytest.raises(RuntimeError, match="no PyTorch peers venv"):
        harness.PeerProcess("train_step_peer.py", [])
