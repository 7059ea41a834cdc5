"""``jeeg cv`` end to end on real EEGMMIDB data: every artefact, clear errors, no lost work."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from jeeg.cli import main

try:  # the optional extra jeeg[moabb], which CI installs
    from moabb.analysis import meta_analysis as moabb_analysis
except ImportError:
    moabb_analysis = None

ARTEFACTS = ("config.json", "metrics.json", "predictions.csv", "scores.csv", "confusion_matrix.png", "learning_curves.png", "attention.png")
METRICS = ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro", "f1_weighted")


@pytest.mark.slow
def test_quick_cv_writes_every_artefact(eegmmidb_root, cache_dir, tmp_path, capsys):
    out = tmp_path / "quick"
    argv = [
        "cv", "experiments/stff_da_eegmmidb.py", "--set", "subjects=1,2", "--set", "max_epochs=2",
        "--set", "task=left_right_imagined", "--data-dir", str(eegmmidb_root), "--cache-dir", str(cache_dir),
        "--out", str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in ("STFF-DA", "CSP+LDA", "LogVar+LR", "Accuracy"):
        assert name in printed
    for name in ARTEFACTS:
        assert (out / name).stat().st_size > 0, name
    for png in ARTEFACTS[4:]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["subjects"] == [1, 2] and cfg["config"]["max_epochs"] == 2
    assert cfg["environment"]["backend"] == "cpu"
    assert cfg["environment"]["cpu_model"] not in ("", "unknown")  # which CPU a result was measured on
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"] == ["stff_da", "csp_lda", "logvar_lr"]
    # 2 subjects x 5 folds x 3 models, every fold with the five metrics in [-1, 1].
    assert len(m["folds"]) == 30
    for rec in m["folds"]:
        assert all(-1.0 <= rec[k] <= 1.0 for k in METRICS)
        assert rec["n_test"] == 9 and rec["n_train"] + rec["n_val"] == 36
    agg = m["aggregate"]["left_right_imagined"]
    for model in m["models"]:
        for k in METRICS:
            assert set(agg[model]["over_subjects"][k]) >= {"mean", "std"}
        assert agg[model]["over_subjects"]["accuracy"]["n"] == 2
        assert sum(map(sum, agg[model]["confusion_matrix"])) == 90
        recall = agg[model]["per_class"]["left_fist"]["recall"]["over_folds"]
        folds = [r for r in m["folds"] if r["model"] == model]
        assert recall["n"] == 10
        assert abs(recall["mean"] - sum(r["per_class"]["left_fist"]["recall"] for r in folds) / 10) < 1e-12
    with open(out / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 90
    assert {r["subject"] for r in rows} == {"1", "2"}
    # every trial of each subject is tested exactly once per model
    for model in m["models"]:
        idx = [int(r["index"]) for r in rows if r["model"] == model]
        assert sorted(idx) == list(range(90))
    # scores.csv: MOABB's result columns, one row per model and subject, read by moabb.analysis
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns[:7]) == ["score", "subject", "session", "channels", "n_sessions", "dataset", "pipeline"]
    assert sorted(scores["pipeline"].unique()) == ["CSP+LDA", "LogVar+LR", "STFF-DA"]
    assert len(scores) == 6 and set(scores["dataset"]) == {"eegmmidb:left_right_imagined"}
    assert (scores["channels"] == 64).all() and (scores["metric"] == "balanced_accuracy").all()
    for _, row in scores.iterrows():
        assert row["score"] == pytest.approx(
            m["per_subject"]["left_right_imagined"][m["models"][["STFF-DA", "CSP+LDA", "LogVar+LR"].index(
                row["pipeline"])]][str(row["subject"])]["balanced_accuracy"])
    if moabb_analysis is not None:
        stats = moabb_analysis.compute_dataset_statistics(scores)
        assert set(stats["pipe1"]) == {"CSP+LDA", "LogVar+LR", "STFF-DA"} and (stats["nsub"] == 2).all()

    # Re-running into the same directory refuses and leaves the finished results untouched.
    before = (out / "metrics.json").read_bytes()
    assert main(argv) == 2
    assert "already holds results" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before


def test_cli_errors_are_clear(eegmmidb_root, tmp_path, capsys):
    assert main(["cv", "--set", "max_epoch=2", "--out", str(tmp_path / "a")]) == 2
    assert "unknown config key 'max_epoch'" in capsys.readouterr().err
    # fists/feet runs of S002 are absent offline: named, no download attempted, nothing written.
    out = tmp_path / "b"
    code = main(["cv", "--task", "fists_feet_executed", "--subjects", "2", "--data-dir", str(eegmmidb_root),
                 "--cache-dir", str(tmp_path / "c"), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "S002" in err and "--download" in err
    assert not (out / "metrics.json").exists()


@pytest.mark.slow
def test_sweep_trains_grid_times_folds_and_chooses_on_validation(eegmmidb_root, cache_dir, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = [
        "sweep", "--task", "left_right_imagined", "--subjects", "1", "--max-epochs", "2", "--set", "batch_size=16",
        "--set", "baselines=csp_lda", "--set", "checkpoint_every=0", "--grid", "lr=3e-3,1e-4", "--grid", "seed=0,1",
        "--data-dir", str(eegmmidb_root), "--cache-dir", str(cache_dir), "--out", str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "grid point chosen on mean val_loss" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["engine"]["n_members"] == 20 and m["engine"]["n_programs"] == 1  # 2 lr x 2 seeds x 5 folds
    sw = m["sweep"]
    assert [(r["lr"], r["seed"]) for r in sw["settings"]] == [(3e-3, 0), (3e-3, 1), (1e-4, 0), (1e-4, 1)]
    # The choice uses validation only: the lr whose two seeds have the lower mean validation loss.
    by_lr = {lr: sum(r["mean_val_loss"] for r in sw["settings"] if r["lr"] == lr) / 2 for lr in (3e-3, 1e-4)}
    assert sw["chosen"]["lr"] == min(by_lr, key=by_lr.get)
    model = [r for r in m["folds"] if r["model"] == "stff_da"]
    assert len(model) == 20 and {(r["lr"], r["seed"]) for r in model} == {(3e-3, 0), (3e-3, 1), (1e-4, 0), (1e-4, 1)}
    for row in sw["settings"]:
        recs = [r for r in model if r["setting"] == row["setting"]]
        assert abs(row["mean_val_loss"] - sum(r["val_loss"] for r in recs) / 5) < 1e-12
    # The table reports the chosen lr's test scores over its 2 seeds x 5 folds.
    chosen = [r for r in model if r["lr"] == sw["chosen"]["lr"]]
    acc = m["aggregate"]["left_right_imagined"]["stff_da"]["over_folds"]["accuracy"]
    assert acc["n"] == 10 and abs(acc["mean"] - sum(r["accuracy"] for r in chosen) / 10) < 1e-12
    # jeeg cv refuses a grid; jeeg sweep needs one.
    assert main(["cv", "--set", 'grid={"lr": [0.1]}', "--out", str(tmp_path / "x")]) == 2
    assert "jeeg sweep" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "y")]) == 2
    assert "needs a grid" in capsys.readouterr().err


def test_compilation_cache_is_on_by_default_and_can_be_turned_off(monkeypatch, tmp_path):
    import jax

    from jeeg.cli import compilation_cache

    before = jax.config.jax_compilation_cache_dir
    try:
        monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert compilation_cache() == str(tmp_path / "jeeg" / "jax-cache")
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jeeg" / "jax-cache")
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "")
        assert compilation_cache() == "" and not jax.config.jax_compilation_cache_dir
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
        assert compilation_cache() == str(tmp_path / "mine")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
