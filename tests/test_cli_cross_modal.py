"""The sleep-staging distillation stages of Joshi et al. (arXiv 2112.07252) from ``jeeg cv``.

* On real S001 EEGMMIDB trials: a 64-channel U-Time teacher, the attention-transfer stage of a
  C3-C4 student, and the KD stage started from it (the proposed Feat_Temp chain).
* On slpdb-layout WFDB records written here (the real signals are not available): a sleep run
  with the hypnogram, dropped unscored epochs and the EEG → ECG teacher/student channel split.

Small shapes keep CI fast: 1-s trials, a narrow U-Time, one or two epochs.
"""

from __future__ import annotations

import json
import re

import jax
import numpy as np
import pytest

from jeeg.checkpoints import leaf_name, restore_raw
from jeeg.cli import main

SMALL = ["--model", "utime", "--set", 'model_kwargs={"filters": [4, 4, 4, 4, 4]}',
         "--set", "teacher=utime", "--set", 'teacher_kwargs={"filters": [4, 4, 4, 4, 4]}']


def _argv(root, cache, out, *extra):
    return ["cv", "--task", "left_right_imagined", "--subjects", "1", "--max-epochs", "2", "--sequential",
            "--set", "tmax=1", "--set", "batch_size=16", "--set", "baselines=", "--set", "n_folds=3",
            "--data-dir", str(root), "--cache-dir", str(cache), "--quiet", "--out", str(out), *SMALL, *extra]


def _best_student(run):
    prog = sorted((run / "checkpoints").iterdir())[0]
    step = max(int(p.name) for p in prog.iterdir() if p.name.isdigit())
    return restore_raw((prog / str(step) / "default").absolute())["best"]


@pytest.mark.slow
def test_feature_stage_then_kd_from_it_on_real_data(eegmmidb_root, tmp_path, capsys):
    cache = tmp_path / "cache"
    teacher, feat, feat_kd = tmp_path / "teacher", tmp_path / "feat", tmp_path / "feat_kd"
    assert main(_argv(eegmmidb_root, cache, teacher)) == 0
    lead = ["--set", "model_channels=C3-C4"]
    assert main(_argv(eegmmidb_root, cache, feat, *lead, "--set", "distill=offline", "--set", f"teacher_run={teacher}",
                      "--set", "kd_loss=features")) == 0
    m = json.loads((feat / "metrics.json").read_text())
    assert m["kd_loss"] == "features" and m["model_channels"] == ["C3-C4"]
    assert "feature (attention-transfer) KD" in m["labels"]["utime"]
    # The student's first layer sees one channel (C3 - C4); the frozen teacher all 64.
    flat = {leaf_name(kp): np.asarray(v) for kp, v in jax.tree_util.tree_leaves_with_path(_best_student(feat))}
    # kernel (taps, in, out) of the first encoder convolution, one member
    assert flat["params/student/enc/0/0/kernel/value"].shape[-2] == 1
    assert flat["params/teacher/enc/0/0/kernel/value"].shape[-2] == 64
    # The validation loss of the feature stage is the feature loss: small and positive, not a CE.
    lines = [json.loads(x) for x in (feat / "folds.jsonl").read_text().splitlines()]
    assert all(0 < ln["record"]["val_loss"] < 0.5 for ln in lines)

    kd = ["--set", "distill=offline", "--set", f"teacher_run={teacher}", "--set", "kd_weight=0.5",
          "--set", "kd_ce_weight=0.5", "--set", "kd_temperature=1", "--set", "kd_t_squared=true"]
    assert main(_argv(eegmmidb_root, cache, feat_kd, *lead, *kd, "--set", f"init_run={feat}")) == 0
    m = json.loads((feat_kd / "metrics.json").read_text())
    assert m["init_run"] == str(feat) and "started from feat" in m["labels"]["utime"]
    assert len(m["folds"]) == 3 and all(np.isfinite(r["f1_weighted"]) for r in m["folds"])
    # Feat_WCE: the AT student, then cross-entropy alone (no teacher).
    feat_ce = tmp_path / "feat_ce"
    assert main(_argv(eegmmidb_root, cache, feat_ce, *lead, "--set", f"init_run={feat}", "--max-epochs", "1")) == 0
    m = json.loads((feat_ce / "metrics.json").read_text())
    assert m["distill"] == "none" and m["labels"]["utime"] == "U-Time (1-D), started from feat"
    # Bad stage chains fail before any training, with the reason (exit status 2).
    bad = [(["--set", "model_channels=C3", "--set", f"init_run={feat}"], r"fed the model channels \['C3-C4'\], this run \['C3'\]: they must be equal"),
           ([*lead, *kd, "--set", "teacher_channels=C3-C4"], "teacher_channels here are"),
           (["--set", "model_channels=C3-XX"], "neither a channel of the recording nor a bipolar pair")]
    for i, (extra, message) in enumerate(bad):
        assert main(_argv(eegmmidb_root, cache, tmp_path / f"bad{i}", *extra)) == 2
        assert re.search(message, capsys.readouterr().err)


# --------------------------------------------------------------------------- slpdb layout
def _write_slpdb(folder, rng):
    """Four short slpdb-like WFDB records (EEG + ECG at 250 Hz, R&K stages every 30 s)."""
    import wfdb

    folder.mkdir(parents=True)
    stages = ["W", "1", "2", "3", "4", "R", "2", "W", "MT", "R", "2", "W"]
    for rec in ("slp01a", "slp02a", "slp03", "slp04"):
        n = 30 * 250 * len(stages) + 250  # the stages start at sample 1, as in slpdb
        t = np.arange(n) / 250
        eeg = 0.05 * np.sin(2 * np.pi * 10 * t) + 0.02 * rng.standard_normal(n)
        ecg = 0.5 * np.sin(2 * np.pi * 1.1 * t) + 0.05 * rng.standard_normal(n)
        wfdb.wrsamp(rec, fs=250, units=["mV", "mV"], sig_name=["ECG", "EEG (C4-A1)"],
                    p_signal=np.stack([ecg, eeg], 1), fmt=["16", "16"], write_dir=str(folder))
        wfdb.wrann(rec, "st", np.arange(len(stages)) * 7500 + 1, symbol=['"'] * len(stages),
                   aux_note=[f"{s} " for s in stages], write_dir=str(folder))


@pytest.mark.slow
def test_sleep_run_on_slpdb_layout_records(tmp_path):
    root = tmp_path / "data"
    _write_slpdb(root / "slpdb", np.random.default_rng(0))
    out = tmp_path / "ecg"
    argv = ["cv", "--set", "dataset=slpdb", "--task", "sleep_4class", "--subjects", "1-4", "--max-epochs", "1",
            "--sequential", "--scheme", "subject_group_kfold", "--set", "n_folds=4", "--set", "val_fraction=0.34",
            "--set", "batch_size=8", "--set", "baselines=", "--set", "standardize=false",
            "--set", "resample=50", "--set", "h_freq=20", "--set", "model_channels=ECG",
            "--set", "skip_missing_runs=true",  # slp01b, slp02b not written
            "--data-dir", str(root), "--quiet", "--out", str(out), *SMALL]
    assert main(argv) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["class_names"] == ["W", "Light", "Deep", "REM"]
    assert m["unscored_dropped"] == {"MT": 4}  # one movement-time epoch per record, dropped and counted
    from jeeg.report import markdown_table

    assert markdown_table(m).endswith("unscored epochs dropped: MT 4")
    assert m["n_trials"] == 4 * 11
    assert (out / "hypnogram.png").is_file()
    # Subject-wise folds: no record's epochs on both sides.
    for r in m["folds"]:
        assert r["n_test"] == 11
