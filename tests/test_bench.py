"""``jeeg bench --quick``: every benchmark runs end to end and the tables render from its JSON.

The quick mode uses small sizes and one or two repeats; its numbers are a smoke test (CI's
2 shared cores), so the test checks structure and finiteness, never speed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from jeeg.cli import main

REPO = Path(__file__).resolve().parents[1]


#: The benchmarks the device check's CPU rehearsal also runs at quick sizes (benchmarks/device_check.sh
#: --rehearse, which CI runs before the tests and points to with $JEEG_REHEARSAL_RESULTS).
REHEARSED = ("attention", "train_steps", "end_to_end")


def _rehearsed(device_name: str = "cpu") -> Path | None:
    """The rehearsal's folder of results for this device, if it ran here and wrote every rehearsed JSON."""
    folder = Path(os.environ.get("JEEG_REHEARSAL_RESULTS", "")) / device_name
    ok = bool(os.environ.get("JEEG_REHEARSAL_RESULTS")) and all((folder / f"{n}.json").is_file() for n in REHEARSED)
    return folder if ok else None


@pytest.mark.slow
def test_quick_benchmark_suite_writes_json_and_tables(eegmmidb_root, tmp_path, monkeypatch):
    """``jeeg bench --quick``, whole. Where the device check's rehearsal has just run the
    :data:`REHEARSED` benchmarks at the same quick sizes (CI), their JSON is checked here instead
    of running them twice; the other benchmarks run, and the tables render from all of them."""
    monkeypatch.setenv("MNE_DATA", str(eegmmidb_root))
    out = tmp_path / "results"
    peers = bool(os.environ.get("JEEG_PEERS_PYTHON"))
    rehearsed = _rehearsed()
    only = ["--only", "compile_times,engine_loop,members_scaling"] if rehearsed else []
    assert main(["bench", "--quick", "--out", str(out), *only, *([] if peers else ["--no-peers"])]) == 0
    (device,) = [p for p in out.iterdir() if p.is_dir()]
    if rehearsed:
        for name in REHEARSED:
            shutil.copy(rehearsed / f"{name}.json", device / f"{name}.json")
        assert main(["bench", "--only", "", "--out", str(out)]) == 0  # the tables and plots, from all six
    names = {p.stem for p in device.glob("*.json")}
    assert names == {"attention", "train_steps", "compile_times", "engine_loop", "members_scaling", "end_to_end"}
    for name in names:
        res = json.loads((device / f"{name}.json").read_text())
        assert res["quick"] is True and res["complete"] is True and res["environment"]["versions"]["jax"]
    att = json.loads((device / "attention.json").read_text())
    cores = {r["core"] for r in att["results"] if "error" not in r}
    assert {"msc_self_attention", "mha", "stff_additive", "sst_spatial", "sst_spectral_temporal"} <= cores
    assert all(math.isfinite(r["time_s"]) and r["time_s"] > 0 for r in att["results"] if "error" not in r)
    steps = json.loads((device / "train_steps.json").read_text())
    assert {r["pair"] for r in steps["results"]} == {"eegnet", "sst_emotionnet", "utime",
                                                     "msc_transformer_vs_eegconformer"}
    mm = steps["matmul_reference"]  # the machine's best float32 arithmetic, beside the train steps' GFLOP/s
    assert mm["n"] == 512 and mm["jeeg_gflop_per_s"] > 0.1
    assert (mm["peer_gflop_per_s"] > 0.1) if peers else mm["peer_error"] == "not run (--no-peers)"
    compiled = json.loads((device / "compile_times.json").read_text())
    assert [r["program"] for r in compiled["results"]] == ["eegnet_21x320"]
    assert all(r["compile_s"] > 0 and r["hlo_instructions"] > 100 for r in compiled["results"])
    for r in steps["results"]:
        assert r["jeeg_samples_per_s"] > 0
        if peers:  # jeeg and the peer alternated step for step: the ratio is the median of the pairs'
            assert len(r["pairs"]) == steps["pairs"] >= 3
            assert all(p["ratio"] == pytest.approx(p["peer_s"] / p["jeeg_s"]) for p in r["pairs"])
            assert r["ratio"] == r["ratio_median"] == pytest.approx(float(np.median([p["ratio"] for p in r["pairs"]])))
            assert r["ratio_iqr"][0] <= r["ratio"] <= r["ratio_iqr"][1]
            assert r["peer_samples_per_s"] == pytest.approx(r["batch"] / r["peer_step_s"])
            assert len(r["loadavg"]["before"]) == len(r["loadavg"]["after"]) == 3
    if peers:
        assert "torch_sdpa" in cores
    loop = json.loads((device / "engine_loop.json").read_text())
    for model, r in loop["models"].items():  # interleaved pairs: each ratio is host loop / compiled run
        assert r["pairs"] and all(p["ratio"] == pytest.approx(p["host_loop_s"] / p["compiled_s"]) for p in r["pairs"])
        assert r["iqr"][0] <= r["median_ratio"] <= r["iqr"][1], model
    e2e = json.loads((device / "end_to_end.json").read_text())
    # the main job's cross-subject run, quick: LOSO over subjects 1-3, one seed
    assert e2e["member_parallel"]["n_members"] == e2e["sequential"]["n_members"] == 3
    assert e2e["config"]["scheme"] == "loso" and e2e["config"]["alignment"] == "euclidean"
    assert e2e["sequential"]["members_per_program"] == 1
    assert e2e["member_parallel"]["fold_accuracies"] == e2e["sequential"]["fold_accuracies"]
    # The tables come from the JSON: rendered per device, and into a README's benchmark block.
    table = (device / "README.md").read_text()
    assert "### Attention cores" in table and "--quick: a smoke test" in table
    assert {p.name for p in device.glob("*.png")} >= {"attention.png", "train_steps.png", "end_to_end.png",
                                                       "members_scaling.png"}
    page = tmp_path / "benchmarks.md"
    shutil.copy(REPO / "docs" / "benchmarks.md", page)
    assert main(["bench", "--only", "", "--out", str(out), "--readme", str(page)]) == 0
    text = page.read_text()
    assert f"### Benchmarks on `{device.name}`" in text and "#### Train steps" in text


def _bench_module(name: str):
    import importlib
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_docs_benchmark_block_is_rendered_from_the_committed_json(tmp_path):
    """docs/benchmarks.md's numbers are exactly those of benchmarks/results/*/*.json (no hand edits)."""
    report = _bench_module("report")
    assert report.DOC == REPO / "docs" / "benchmarks.md"
    page = tmp_path / "benchmarks.md"
    shutil.copy(report.DOC, page)
    report.update_readme(page, REPO / "benchmarks" / "results")
    assert page.read_text() == report.DOC.read_text()
    no_block = tmp_path / "plain.md"
    no_block.write_text("# no block\n")
    with pytest.raises(ValueError, match="no <!-- benchmarks:start -->"):
        report.update_readme(no_block, REPO / "benchmarks" / "results")


def test_readme_option_alone_fills_docs_benchmarks(tmp_path, monkeypatch):
    """``--readme`` without a value targets docs/benchmarks.md; with one, that page (old spelling kept)."""
    run_all = _bench_module("run_all")
    assert run_all.DOC == REPO / "docs" / "benchmarks.md"
    results = tmp_path / "results"
    shutil.copytree(REPO / "benchmarks" / "results" / "cpu", results / "cpu",
                    ignore=shutil.ignore_patterns("*.png", "*.log"))
    page = tmp_path / "benchmarks.md"
    page.write_text("# page\n<!-- benchmarks:start -->\nOLD-BLOCK\n<!-- benchmarks:end -->\ntail\n")
    monkeypatch.setattr(run_all, "DOC", page)
    monkeypatch.setattr(run_all.importlib.import_module("report"), "plot", lambda folder: None)
    assert run_all.main(["--only", "", "--out", str(results), "--readme"]) == 0
    text = page.read_text()
    assert "OLD-BLOCK" not in text and "### Benchmarks on `cpu`" in text and text.endswith("<!-- benchmarks:end -->\ntail\n")
    other = tmp_path / "other.md"
    other.write_text(page.read_text().replace("tail", "other tail"))
    assert run_all.main(["--only", "", "--out", str(results), "--readme", str(other)]) == 0
    assert other.read_text() == text.replace("tail", "other tail")
