"""Unseen subjects: ``jeeg cv --final`` and ``jeeg evaluate`` on real EEGMMIDB data.

The cross-subject job (``experiments/cross_subject_eegmmidb.py``: EEGNet, two tasks, Euclidean
alignment) runs leave-one-subject-out on S001-S003 for one epoch with a final model; its models
are then applied to S004, which it never saw.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

from jeeg.cli import main

REPO = Path(__file__).resolve().parents[1]
TASKS = ("left_right_imagined", "left_right_executed")
MODELS = ("eegnet", "csp_lda", "logvar_lr")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("epochs-cache")


@pytest.fixture(scope="module")
def run(eegmmidb_root, cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "cross_subject"
    argv = ["cv", str(REPO / "experiments" / "cross_subject_eegmmidb.py"), "--scheme", "loso", "--subjects", "1-3",
            "--set", "max_epochs=1", "--set", "checkpoint_every=1", "--final", "--data-dir", str(eegmmidb_root),
            "--cache-dir", str(cache), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


def _evaluate(run: Path, root: Path, cache: Path, *extra: str) -> int:
    return main(["evaluate", str(run), "--data-dir", str(root), "--cache-dir", str(cache), "--quiet", *extra])


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _proba(rows: list[dict], class_names) -> np.ndarray:
    return np.array([[float(r[f"p_{c}"]) for c in class_names] for r in rows])


def _new_subject(run: Path, root: Path, cache: Path):
    """S004 as evaluate reads it: the run's config with the subjects replaced."""
    from jeeg.config import make_config
    from jeeg.cv import load_for_config

    cfg = json.loads((run / "config.json").read_text())["config"]
    return load_for_config(make_config({**cfg, "subjects": [4], "data_dir": str(root), "cache_dir": str(cache)}))


def test_final_model_trains_on_every_subject_for_the_folds_median_epoch(run):
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert cfg["final"] is True and cfg["subjects"] == [1, 2, 3]
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["final"]) == set(TASKS)
    for task in TASKS:
        folds = [r for r in m["folds"] if r["model"] == "eegnet" and r["task"] == task]
        assert [r["test_subjects"] for r in folds] == [[1], [2], [3]]
        f = m["final"][task]
        assert f["fold_best_epochs"] == [r["best_epoch"] for r in folds] and f["epochs"] == 1  # max_epochs=1
        assert f["subjects"] == [1, 2, 3]
        assert f["n_trials"] == sum(r["n_test"] for r in folds) == 135  # every trial of the three subjects
        assert len(f["train_loss"]) == 1 and np.isfinite(f["train_loss"][0]) and not f["failed"]
        assert (run / f["checkpoint"]).is_dir()
    assert m["data"]["sfreq"] == 80.0 and m["data"]["n_times"] == 320 and len(m["data"]["ch_names"]) == 21


def test_restored_fold_model_reproduces_its_own_test_predictions(run, eegmmidb_root, cache):
    """The checkpoint reader restores the selected model of the right fold: fold loso-S001's model,
    applied to S001 again, gives the probabilities the run recorded."""
    from jeeg.checkpoints import fold_programs, load_member_states
    from jeeg.config import make_config
    from jeeg.cv import load_for_config
    from jeeg.engine import Trainer
    from jeeg.representations import model_inputs

    rcfg = make_config(json.loads((run / "config.json").read_text())["config"])
    ds = load_for_config(rcfg.replace(data_dir=str(eegmmidb_root), cache_dir=str(cache)))
    idx = np.flatnonzero((ds.subject == 1) & (ds.task == TASKS[0]))
    tr = Trainer("eegnet", dict(rcfg.model_kwargs), ds.n_chans, ds.n_classes, ds.n_times, ds.sfreq, rcfg.train_config(),
                 batch_size=1, n_train_pad=1, n_eval_pad=len(idx))
    X = model_inputs("raw", ds.X, ds.sfreq, ds.ch_names, standardize=True)
    proba = {}
    for position in (0, 1):  # loso-S001 and loso-S002 of the first task
        state = tr.model_state(load_member_states(fold_programs(run, rcfg, [position]), run, "test"))
        proba[position] = np.asarray(jax.nn.softmax(tr.predict(state, X, idx)[0], -1))
    rows = [r for r in _rows(run / "predictions.csv") if r["model"] == "eegnet" and r["fold"] == "loso-S001"
            and r["task"] == TASKS[0]]
    assert [int(r["index"]) for r in rows] == idx.tolist()
    recorded = _proba(rows, ds.class_names)
    np.testing.assert_allclose(proba[0], recorded, atol=1e-5)
    assert np.abs(proba[1] - recorded).max() > 1e-4  # another fold's model predicts otherwise


def test_evaluate_applies_the_final_model_and_refitted_baselines_to_an_unseen_subject(run, eegmmidb_root, cache, capsys):
    from jeeg.baselines import fit_predict
    from jeeg.config import make_config
    from jeeg.cv import load_for_config

    assert main(["evaluate", str(run), "--subjects", "4", "--data-dir", str(eegmmidb_root), "--cache-dir", str(cache)]) == 0
    printed = capsys.readouterr().out
    assert "EEGNet-v4 (final model)" in printed and "CSP+LDA (refit)" in printed
    out = run / "evaluate-S004"
    for name in ("config.json", "metrics.json", "predictions.csv", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
    ds = _new_subject(run, eegmmidb_root, cache)
    rows = _rows(out / "predictions.csv")
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"] == list(MODELS) and m["evaluate"]["source"] == "final"
    assert m["evaluate"]["subjects"] == [4] and m["evaluate"]["training_subjects"] == [1, 2, 3]
    assert json.loads((out / "config.json").read_text())["evaluate"]["run"] == str(run.resolve())
    assert {r["subject"] for r in rows} == {"4"}
    for task in TASKS:
        n = int(np.sum(ds.task == task))
        assert n == 45
        for model in MODELS:
            sel = [r for r in rows if r["model"] == model and r["task"] == task]
            assert len(sel) == n
            p = _proba(sel, ds.class_names)
            np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
            assert [r["y_pred"] for r in sel] == [ds.class_names[k] for k in p.argmax(1)]
            acc = np.mean([r["y_true"] == r["y_pred"] for r in sel])
            rec = [r for r in m["folds"] if r["model"] == model and r["task"] == task]
            assert len(rec) == 1 and rec[0]["subject"] == 4 and rec[0]["n_test"] == n
            assert abs(rec[0]["accuracy"] - acc) < 1e-12
            assert abs(m["aggregate"][task][model]["over_subjects"]["accuracy"]["mean"] - acc) < 1e-12
        assert next(r for r in m["folds"] if r["model"] == "eegnet" and r["task"] == task)["n_train"] == 135
    # CSP+LDA is refitted on every trial of the run's subjects, and on nothing else.
    rcfg = make_config(json.loads((run / "config.json").read_text())["config"])
    train = load_for_config(rcfg.replace(data_dir=str(eegmmidb_root), cache_dir=str(cache)))
    fit = train.task == TASKS[0]
    y_pred, _ = fit_predict("csp_lda", train.X[fit], train.y[fit], ds.X[ds.task == TASKS[0]], sfreq=ds.sfreq)
    sel = [r for r in rows if r["model"] == "csp_lda" and r["task"] == TASKS[0]]
    assert [r["y_pred"] for r in sel] == [ds.class_names[k] for k in y_pred]


def test_evaluate_ensemble_averages_the_fold_models(run, eegmmidb_root, cache, tmp_path):
    from jeeg.checkpoints import fold_programs, load_member_states
    from jeeg.config import make_config
    from jeeg.engine import Trainer
    from jeeg.representations import model_inputs

    out = tmp_path / "ens"
    assert _evaluate(run, eegmmidb_root, cache, "--subjects", "4", "--ensemble", "--no-baselines", "--out", str(out)) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"] == ["eegnet"] and m["evaluate"]["source"] == "ensemble"
    assert m["evaluate"]["models"][TASKS[1]]["n_models"] == 3 and "mean of 3 fold models" in m["labels"]["eegnet"]
    # The ensemble is the mean of the three fold models' class probabilities (folds 3-5: second task).
    rcfg = make_config(json.loads((run / "config.json").read_text())["config"])
    ds = _new_subject(run, eegmmidb_root, cache)
    idx = np.flatnonzero(ds.task == TASKS[1])
    tr = Trainer("eegnet", dict(rcfg.model_kwargs), ds.n_chans, ds.n_classes, ds.n_times, ds.sfreq, rcfg.train_config(),
                 batch_size=1, n_train_pad=1, n_eval_pad=len(idx))
    state = tr.model_state(load_member_states(fold_programs(run, rcfg, [3, 4, 5]), run, "test"))
    X = model_inputs("raw", ds.X, ds.sfreq, ds.ch_names, standardize=True)
    want = np.asarray(jax.nn.softmax(tr.predict(state, X, idx), -1)).mean(0)
    got = _proba([r for r in _rows(out / "predictions.csv") if r["task"] == TASKS[1]], ds.class_names)
    np.testing.assert_allclose(got, want, atol=1e-5)
    final = _proba([r for r in _rows(run / "evaluate-S004" / "predictions.csv")
                    if r["model"] == "eegnet" and r["task"] == TASKS[1]], ds.class_names)
    assert np.abs(final - got).max() > 1e-4  # the final model is another model


def _copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("evaluate-*"))
    return dest


def _edit(path: Path, change) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def test_evaluate_refuses_training_subjects_overrides_and_runs_it_cannot_apply(run, eegmmidb_root, cache, tmp_path, capsys):
    def refused(target: Path, *extra: str) -> str:
        out = tmp_path / "out"
        assert _evaluate(target, eegmmidb_root, cache, "--no-baselines", "--out", str(out), *extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("jeeg: error: ") and err.count("\n") == 1, err
        return err

    # Checked before any data are read: nothing is written.
    assert "S002, S003 trained run" in refused(run, "--subjects", "2-5")
    assert "does not accept --set l_freq" in refused(run, "--subjects", "4", "--set", "l_freq=8")
    assert "does not accept --set alignment" in refused(run, "--subjects", "4", "--set", "alignment=none")
    assert not (tmp_path / "out").exists()
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(run / "config.json", unfinished)
    assert "unfinished (no metrics.json)" in refused(unfinished, "--subjects", "4")
    bare = _copy(run, tmp_path / "bare")  # checkpoint_every=0 and no final model: nothing to apply
    _edit(bare / "config.json", lambda c: c["config"].update(checkpoint_every=0, final=False))
    _edit(bare / "metrics.json", lambda m: m.pop("final"))
    shutil.rmtree(bare / "checkpoints")
    assert "kept no model parameters" in refused(bare, "--subjects", "4")
    assert not (tmp_path / "out").exists()
    # Data the models were not trained on: another sampling rate, another montage.
    other = _copy(run, tmp_path / "other")
    _edit(other / "metrics.json", lambda m: m["data"].update(sfreq=160.0))
    assert "sfreq 80.0 Hz here vs 160.0 Hz in the run" in refused(other, "--subjects", "4")
    _edit(other / "metrics.json", lambda m: m["data"].update(sfreq=80.0, ch_names=m["data"]["ch_names"][:-1] + ["X1"]))
    err = refused(other, "--subjects", "4")
    assert "channels (21 here vs 21 in the run; not in the run: ['CP6']; missing: ['X1'])" in err
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_monitor_last_keeps_the_last_epoch_and_n_epochs_keeps_the_schedule(eegmmidb_root, cache, tmp_path):
    """The engine side of the final model: ``monitor="last"`` keeps the last epoch's parameters
    (never stopping early, even with ``patience=1``), and ``n_epochs`` stops the run without
    shortening the learning-rate schedule, so the epochs trained match a full run's."""
    from jeeg.data import load_eegmmidb, standardize_trials
    from jeeg.engine import Checkpointing, MemberData, TrainConfig, Trainer
    from jeeg.engine.checkpoint import restore_raw

    ds = load_eegmmidb([1], TASKS[0], data_dir=eegmmidb_root, cache_dir=cache)
    X = standardize_trials(ds.X)
    members = [MemberData(np.arange(30), np.arange(30, 38), np.arange(38, 45))]
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(np.arange(1))

    def fit(monitor, **kw):
        cfg = TrainConfig(batch_size=10, max_epochs=5, lr=3e-3, schedule="cosine", patience=1, monitor=monitor)
        tr = Trainer("eegnet", {}, 64, 2, 640, 160.0, cfg, batch_size=10, n_train_pad=30, n_eval_pad=8)
        return tr.fit(X, ds.y, members, keys, **kw)

    last = fit("last", n_epochs=3, checkpointing=Checkpointing(tmp_path / "ck", every=1))
    assert last.history["train_loss"].shape == (1, 3)
    assert last.best_epoch.tolist() == [2] and last.stopped_epoch.tolist() == [2]
    saved = restore_raw(tmp_path / "ck" / "2" / "default")
    for a, b in zip(jax.tree.leaves(saved["best"]["params"]), jax.tree.leaves(saved["state"]["params"])):
        np.testing.assert_array_equal(a, b)
    full = fit("val_loss")  # selects on validation, and stops a patience of 1 epoch after its best one
    n = full.history["train_loss"].shape[1]
    assert n >= 2
    k = min(n, 3)
    np.testing.assert_allclose(last.history["train_loss"][0, :k], full.history["train_loss"][0, :k], rtol=1e-5)
