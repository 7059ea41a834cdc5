"""The device check's own machinery, without a GPU: what comes back from a device call, the GPU
targets table, results written after every row, and an environment that needs no mne.

The whole check runs in CI as ``bash benchmarks/device_check.sh --rehearse`` (``.ci/run``); these
tests pin the parts whose failure would waste a lease: a folder the device tool cannot return
whole, a JSON without its versions or commit, a target judged on the wrong device, a missing
``--commit``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


check_out = _load("check_out", REPO / "benchmarks" / "device" / "check_out.py")
report = _load("report", REPO / "benchmarks" / "report.py")
harness = _load("harness", REPO / "benchmarks" / "harness.py")


def _env(backend="gpu", commit="abc1234"):
    return {"versions": {"jax": "0.11.2"}, "commit": commit, "backend": backend, "device_kind": "NVIDIA H100"}


def _device_out(tmp_path: Path, *, complete=True, commit="abc1234", extra=0) -> Path:
    out = tmp_path / "out"
    dev = out / "NVIDIA_H100_80GB_HBM3"
    dev.mkdir(parents=True)
    (out / "device_check.log").write_text("log\n")
    for name in check_out.BENCHMARKS:
        (dev / f"{name}.json").write_text(json.dumps({"results": [], "complete": complete,
                                                      "environment": _env(commit=commit)}))
    (dev / "README.md").write_text("## Benchmarks\n\n### GPU targets\n")
    for i in range(extra):
        (dev / f"extra{i}.png").write_text("x")
    return out


def test_a_complete_device_folder_passes(tmp_path):
    lines, bad = check_out.problems(_device_out(tmp_path), "rehearse")
    assert bad == [] and len(lines) == 6


def test_more_files_than_a_device_call_returns_are_refused(tmp_path):
    _, bad = check_out.problems(_device_out(tmp_path, extra=3), "device")  # 6 + 3 = 9 > 8
    assert any("9 files; at most 8" in b for b in bad)


def test_deep_paths_odd_names_and_missing_commits_are_refused(tmp_path):
    out = _device_out(tmp_path, commit="?")
    (out / "NVIDIA_H100_80GB_HBM3" / "deep").mkdir()
    (out / "NVIDIA_H100_80GB_HBM3" / "deep" / "x.json").write_text("{}")
    (out / "NVIDIA_H100_80GB_HBM3" / "a b.txt").write_text("")
    _, bad = check_out.problems(out, "device")
    assert any("deeper than 1 folder" in b for b in bad)
    assert any("a b.txt: a name outside" in b for b in bad)
    assert sum("no commit" in b for b in bad) == len(check_out.BENCHMARKS)


def test_a_step_cut_short_fails_the_rehearsal_but_not_the_device_run(tmp_path):
    out = _device_out(tmp_path, complete=False)
    assert any("incomplete" in b for b in check_out.problems(out, "rehearse")[1])
    lines, bad = check_out.problems(out, "device")
    assert bad == [] and sum("incomplete" in line for line in lines) == len(check_out.BENCHMARKS)


def _write(folder: Path, name: str, body: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(body))


@pytest.mark.parametrize("backend", ["gpu", "cpu"])
def test_gpu_targets_are_judged_on_an_accelerator_only(tmp_path, backend):
    dev = tmp_path / "dev"
    fit = [{"model": m, "member_axis": "vmap", "K": k, "speedup_vs_one_member": s, "compile_s": c}
           for m, k, s, c in (("eegnet", 1, 1.0, 3.0), ("eegnet", 32, 25.0, 4.0),
                              ("stff_da", 1, 1.0, 3.0), ("stff_da", 32, 12.0, 16.5))]
    _write(dev, "members_fit", {"results": fit, "environment": _env(backend)})
    _write(dev, "end_to_end", {"speedup_parallel_vs_sequential": 11.0, "environment": _env(backend)})
    peer = "cuda" if backend == "gpu" else "cpu"
    _write(dev, "train_steps", {"environment": _env(backend), "results": [
        {"pair": "eegnet", "ratio": 4.0, "peer_device": peer, "jeeg_compile_s": 2.0},
        {"pair": "utime", "ratio": 1.5, "peer_device": peer}]})
    rows = {line.split(" | ")[0].lstrip("| "): line for line in report.targets_md(dev) if line.startswith("| ")}
    if backend == "cpu":
        assert all("not judged (CPU)" in r or "not measured" in r for k, r in rows.items() if k != "target")
        return
    assert rows["members: eegnet, vmap"].endswith("| K = 32: 25.0x | yes |")
    assert rows["members: stff_da, vmap"].endswith("| **no** |")
    assert rows["members: msc_t3am, vmap"].endswith("| not measured |")
    assert rows["end to end: member-parallel / sequential"].endswith("| 11.00x | yes |")
    assert rows["train step: eegnet"].endswith("| 4.00x | yes |")
    assert rows["train step: utime"].endswith("| 1.50x | **no** |")
    assert rows["train step: sst_emotionnet"].endswith("| not measured |")
    assert rows["compile, slowest program"].endswith("| 16.5 s (stff_da vmap K=32) | **no** |")


def test_a_peer_on_another_kind_of_device_is_not_judged(tmp_path):
    dev = tmp_path / "dev"
    _write(dev, "train_steps", {"environment": _env("gpu"), "results": [
        {"pair": "eegnet", "ratio": 0.5, "peer_device": "cpu"}]})  # a CPU torch against a GPU jeeg
    (row,) = [line for line in report.targets_md(dev) if line.startswith("| train step: eegnet |")]
    assert row.endswith("| not measured |")


def test_results_are_rewritten_after_every_row_and_marked_complete_at_the_end(tmp_path):
    path = harness.write_result("demo", {"results": [1]}, tmp_path, complete=False)
    assert json.loads(path.read_text())["complete"] is False
    harness.write_result("demo", {"results": [1, 2]}, tmp_path)
    doc = json.loads(path.read_text())
    assert doc["complete"] is True and doc["results"] == [1, 2] and doc["environment"]["versions"]["jax"]
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]  # no temporary file left behind


def test_the_environment_needs_no_mne_and_the_caller_names_the_commit(tmp_path):
    code = ("import sys; sys.modules['mne'] = None\n"  # import mne now raises, as on the GPU image
            "from jeeg import host\n"
            "env = host.environment()\n"
            "print(env['versions']['jax'], host.git_commit())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "JEEG_COMMIT": "feedbee"}, check=True).stdout.split()
    assert out[0].count(".") == 2 and out[1] == "feedbee"


def test_the_device_mode_refuses_to_start_without_a_commit_and_logs_why(tmp_path):
    tree = tmp_path / "tree"  # a copy without .devdata/COMMIT, whatever this checkout holds
    (tree / "benchmarks").mkdir(parents=True)
    shutil.copy(REPO / "benchmarks" / "device_check.sh", tree / "benchmarks")
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(tree / "benchmarks" / "device_check.sh")], capture_output=True, text=True,
                          env={**os.environ, "OUT": str(out)}, timeout=60)
    assert proc.returncode == 2
    log = (out / "device_check.log").read_text()
    assert "STOP: no --commit and no .devdata/COMMIT" in log and "mode device" in log.splitlines()[0]
