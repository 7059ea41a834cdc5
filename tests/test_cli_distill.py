"""``jeeg cv`` with distillation (none / offline / online) and the paper protocol, on real S001 data.

Small shapes keep CI fast: 1-s epochs (160 samples), MSC-T3AM with one block, two epochs.
"""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

from jeeg.checkpoints import checkpoint_arrays
from jeeg.cli import main
from jeeg.engine import DistillTrainer, TrainConfig
from jeeg.errors import ConfigError


def _argv(root, cache, out, *extra):
    return ["cv", "--task", "left_right_imagined", "--subjects", "1", "--max-epochs", "2", "--sequential",
            "--set", "tmax=1", "--set", "batch_size=16", "--set", "baselines=csp_lda", "--set", "protocol=paper",
            "--scheme", "within_subject_contiguous", "--data-dir", str(root), "--cache-dir", str(cache),
            "--quiet", "--out", str(out), *extra]


STUDENT = ["--model", "msc_t3am", "--set", "model_kwargs.depth=1"]


@pytest.fixture(scope="module")
def teacher_run(eegmmidb_root, tmp_path_factory):
    """A finished EEGNet run under the paper protocol: the offline teachers."""
    tmp = tmp_path_factory.mktemp("kd")
    out = tmp / "eegnet"
    assert main(_argv(eegmmidb_root, tmp / "cache", out, "--model", "eegnet")) == 0
    return out


@pytest.mark.slow
def test_paper_protocol_scores_the_best_test_epoch(teacher_run):
    m = json.loads((teacher_run / "metrics.json").read_text())
    assert m["protocol"] == "paper"
    lines = [json.loads(x) for x in (teacher_run / "folds.jsonl").read_text().splitlines()]
    model = [ln for ln in lines if ln["record"]["model"] == "eegnet"]
    assert len(model) == 5
    for ln in model:
        rec, hist = ln["record"], ln["history"]
        # No validation part: the whole training side trains, the test part is scored every epoch
        # and the fold's score is its best test epoch.
        assert rec["n_train"] == 36 and rec["n_val"] == rec["n_test"] == 9 and rec["protocol"] == "paper"
        assert rec["accuracy"] == pytest.approx(max(hist["val_accuracy"]), abs=1e-6)
        assert rec["stopped_epoch"] == 1  # no early stopping
    # Contiguous folds: test parts are consecutive blocks of S001's trials, in order.
    tests = [sorted({int(p["index"]) for p in ln["predictions"]}) for ln in model]
    assert tests[0] == list(range(9)) and tests[4] == list(range(36, 45))
    # The baseline is fitted on the training side only (not on the test part).
    base = [ln["record"] for ln in lines if ln["record"]["model"] == "csp_lda"]
    assert len(base) == 5 and all(r["n_train"] == 36 for r in base)


@pytest.mark.slow
def test_offline_kd_restores_each_folds_teacher_from_the_checkpoint(eegmmidb_root, teacher_run, tmp_path, capsys):
    out = tmp_path / "offline"
    argv = _argv(eegmmidb_root, tmp_path / "cache", out, *STUDENT, "--set", "distill=offline",
                 "--set", f"teacher_run={teacher_run}")
    assert main(argv) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["distill"] == "offline" and m["labels"]["msc_t3am"] == "MSC-T3AM + offline KD (EEGNet-v4)"
    assert all(r["distill"] == "offline" for r in m["folds"] if r["model"] == "msc_t3am")
    # Every fold's frozen teacher is bitwise the teacher run's selected-epoch EEGNet of that fold.
    student, teacher = checkpoint_arrays(out), checkpoint_arrays(teacher_run)

    def best(arrays, teacher_part: bool):  # {(program, "params|batch_stats/leaf"): array} at the last step (1)
        out = {}
        for k, v in arrays.items():
            prog, step, rest = k.split("/", 2)
            kind, _, leaf = rest.removeprefix("best/").partition("/")
            if step != "1" or not rest.startswith("best/") or kind not in ("params", "batch_stats"):
                continue
            if teacher_part:
                if not leaf.startswith("teacher/"):
                    continue
                leaf = leaf.removeprefix("teacher/")
            out[(prog.split("-")[1], f"{kind}/{leaf}")] = v
        return out

    frozen, trained = best(student, True), best(teacher, False)
    # --sequential: 5 programs of one fold each in both runs; 10 parameter and 6 BatchNorm arrays.
    assert len(frozen) == 5 * 16 and set(frozen) == set(trained)
    for name, v in frozen.items():
        assert v.shape[0] == 1 and v.tobytes() == trained[name].tobytes(), name

    # A foreign checkpoint: the teacher run's folder holding another model's checkpoint.
    fake = tmp_path / "fake"
    shutil.copytree(teacher_run, fake)
    shutil.rmtree(fake / "checkpoints" / "eegnet-0000")
    shutil.copytree(out / "checkpoints" / "msc_t3am-0000", fake / "checkpoints" / "eegnet-0000")
    bad = _argv(eegmmidb_root, tmp_path / "cache", tmp_path / "x", *STUDENT, "--set", "distill=offline",
                "--set", f"teacher_run={fake}")
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "has no array params/" in err and "another model's state" in err
    assert not (tmp_path / "x" / "metrics.json").exists()


@pytest.mark.slow
def test_online_kd_from_the_command_line(eegmmidb_root, tmp_path):
    out = tmp_path / "online"
    assert main(_argv(eegmmidb_root, tmp_path / "cache", out, *STUDENT, "--set", "distill=online", "--max-epochs", "1")) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["distill"] == "online" and len([r for r in m["folds"] if r["model"] == "msc_t3am"]) == 5
    assert m["labels"]["msc_t3am"] == "MSC-T3AM + online KD (EEGNet-v4)"
    arrays = checkpoint_arrays(out)
    assert any("/params/teacher/" in k for k in arrays) and any("/params/student/" in k for k in arrays)


def test_bad_teacher_runs_are_refused_before_any_training(eegmmidb_root, teacher_run, tmp_path, capsys):
    def err_of(*extra):
        assert main(_argv(eegmmidb_root, tmp_path / "cache", tmp_path / "o", *STUDENT, *extra)) == 2
        return capsys.readouterr().err

    assert "needs teacher_run" in err_of("--set", "distill=offline")
    assert "read only by distill=offline" in err_of("--set", f"teacher_run={teacher_run}")
    assert "no config.json" in err_of("--set", "distill=offline", "--set", f"teacher_run={tmp_path}")
    # Other trials (a longer window): the differing key is named.
    assert "tmax=1.0 there vs 2.0 here" in err_of("--set", "distill=offline", "--set", f"teacher_run={teacher_run}",
                                                  "--set", "tmax=2")
    # Another teacher model, other teacher hyper-parameters, an unfinished run.
    assert "trained model 'eegnet', not the teacher 'stff_da'" in err_of(
        "--set", "distill=offline", "--set", f"teacher_run={teacher_run}", "--set", "teacher=stff_da")
    assert "must be equal" in err_of("--set", "distill=offline", "--set", f"teacher_run={teacher_run}",
                                     "--set", "teacher_kwargs.F1=4")
    cut = tmp_path / "cut"
    shutil.copytree(teacher_run, cut)
    (cut / "metrics.json").unlink()
    assert "unfinished" in err_of("--set", "distill=offline", "--set", f"teacher_run={cut}")
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_teacher_state_names_a_shape_mismatch():
    cfg = TrainConfig(batch_size=4, max_epochs=1)
    tr = DistillTrainer("stff_da", {}, "eegnet", {}, 8, 2, 64, 128.0, cfg, mode="offline",
                        batch_size=4, n_train_pad=8, n_eval_pad=4)
    # Arrays of an EEGNet trained on 16 channels and 4 classes instead of 8 and 2.
    other = DistillTrainer("stff_da", {}, "eegnet", {}, 16, 4, 64, 128.0, cfg, mode="offline",
                           batch_size=4, n_train_pad=8, n_eval_pad=4)
    from flax import nnx

    from jeeg.checkpoints import leaf_name

    _, p, s = nnx.split(other._make_teacher(jax.random.key(0)), nnx.Param, nnx.BatchStat)
    flat = {f"{part}/{leaf_name(kp)}": np.asarray(v)[None]
            for part, tree in (("params", p), ("batch_stats", s)) for kp, v in jax.tree_util.tree_flatten_with_path(tree)[0]}
    with pytest.raises(ConfigError, match=r"n_chans=8, n_times=64, n_outputs=2"):
        tr.teacher_state(flat, "run X")
    good = DistillTrainer("stff_da", {}, "eegnet", {}, 16, 4, 64, 128.0, cfg, mode="offline",
                          batch_size=4, n_train_pad=8, n_eval_pad=4).teacher_state(flat)
    assert jax.tree.leaves(good.params)[0].shape[0] == 1
