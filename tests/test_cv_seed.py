"""``jeeg cv`` on SEED and SEED-IV (``dataset=seed|seed_iv``), on generated files in the official formats.

SEED and SEED-IV are licence-restricted and not available here: :func:`test_seed.write_dataset` writes
the official layout (``Preprocessed_EEG/<subject>_<YYYYMMDD>.mat`` with ``label.mat``; SEED-IV
``eeg_raw_data/<session>/...``) for 3 subjects with short clips (2 s and 1 s, +1 sample). The runs
train EEGNet for one epoch beside the DE + LR baseline; the fold structure, the SST-EmotionNet maps on
the SEED layout and the up-front errors are checked without training.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter

import numpy as np
import pytest
from test_seed import SEED_LABEL, write_dataset

from jeeg.cli import main
from jeeg.config import CVConfig, make_config
from jeeg.cv import load_for_config
from jeeg.data.seed import SEED_CHANNELS, SEED_IV_LABELS
from jeeg.errors import ConfigError
from jeeg.features import trial_differential_entropy
from jeeg.folds import make_task_folds
from jeeg.representations import model_inputs

SEED_FILES = {1: ("djc", ("20131027", "20131030", "20131107")), 2: ("jl", ("20131105", "20131108", "20131115")),
              10: ("ww", ("20131130", "20131204", "20131211"))}
SEED_IV_FILES = {1: ("cz", ("20160518", "20161125", "20161126")), 2: ("ha", ("20150915", "20150920", "20151012")),
                 3: ("hql", ("20150919", "20151018", "20151101"))}
SEED_CLASSES = ["negative", "neutral", "positive"]
SEED_IV_CLASSES = ["neutral", "sad", "fear", "happy"]
TINY = ["--model", "eegnet", "--max-epochs", "1", "--set", "batch_size=16", "--set", "checkpoint_every=0", "--quiet"]


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory):
    """SEED: subjects 1, 2, 10; every clip 2 s + 1 sample (2 windows of 1 s)."""
    root = tmp_path_factory.mktemp("SEED")
    write_dataset(root, "seed", "raw", files=SEED_FILES, seconds=lambda *a: 2)
    return root


@pytest.fixture(scope="module")
def seed_iv_root(tmp_path_factory):
    """SEED-IV: subjects 1-3; every clip 1 s + 1 sample (1 window)."""
    root = tmp_path_factory.mktemp("SEED_IV")
    write_dataset(root, "seed_iv", "raw", files=SEED_IV_FILES, seconds=lambda *a: 1, seed_=5)
    return root


def _read(out):
    m = json.loads((out / "metrics.json").read_text())
    with open(out / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    return m, rows


# ------------------------------------------------------------------------------------ runs
def test_seed_published_protocol_from_the_command_line(seed_root, tmp_path):
    out = tmp_path / "seed"
    assert main(["cv", "--set", "dataset=seed", "--data-dir", str(seed_root), "--subjects", "1,2,10", "--out", str(out),
                 *TINY]) == 0
    cfg = json.loads((out / "config.json").read_text())["config"]
    # SEED's defaults: task, scheme, no further filtering, 1-s windows, the DE baseline.
    assert cfg["task"] == ["emotion"] and cfg["scheme"] == "seed_protocol" and cfg["baselines"] == ["de_lr"]
    assert cfg["l_freq"] is cfg["h_freq"] is cfg["resample"] is None and (cfg["tmin"], cfg["tmax"]) == (0.0, 1.0)
    m, rows = _read(out)
    assert m["dataset"] == "seed" and m["models"] == ["eegnet", "de_lr"] and m["class_names"] == SEED_CLASSES
    assert m["n_trials"] == 3 * 3 * 15 * 2 and m["data"]["sfreq"] == 200.0 and m["data"]["n_times"] == 200
    names = [f"S{s:02d}-session{k}" for s in (1, 2, 10) for k in (1, 2, 3)]
    for model in m["models"]:
        recs = [r for r in m["folds"] if r["model"] == model]
        assert [r["fold"] for r in recs] == names and [r["subject"] for r in recs] == [1, 1, 1, 2, 2, 2, 10, 10, 10]
        # clips 1-9 fit (6 train + 1 whole validation clip per class), clips 10-15 test; 2 windows a clip
        assert all((r["n_train"], r["n_val"], r["n_test"]) == (12, 6, 12) for r in recs)
        assert m["aggregate"]["emotion"][model]["over_subjects"]["accuracy"]["n"] == 3
        mine = [r for r in rows if r["model"] == model]
        assert len(mine) == 9 * 12
        windows = Counter((r["subject"], r["run"], r["trial"]) for r in mine)
        assert windows == {(str(s), str(k), str(t)): 2 for s in (1, 2, 10) for k in (1, 2, 3) for t in range(10, 16)}
        for r in mine:
            assert r["fold"] == f"S{int(r['subject']):02d}-session{r['run']}"
            assert r["y_true"] == SEED_CLASSES[SEED_LABEL[int(r["trial"]) - 1] + 1] and r["y_pred"] in SEED_CLASSES
            assert abs(sum(float(r[f"p_{c}"]) for c in SEED_CLASSES) - 1) < 1e-5


def test_seed_iv_leave_one_subject_out_from_the_command_line(seed_iv_root, tmp_path):
    out = tmp_path / "seed_iv"
    assert main(["cv", "--set", "dataset=seed_iv", "--data-dir", str(seed_iv_root), "--subjects", "1-3",
                 "--scheme", "loso", "--out", str(out), *TINY]) == 0
    m, rows = _read(out)
    assert m["dataset"] == "seed_iv" and m["class_names"] == SEED_IV_CLASSES and m["n_trials"] == 3 * 3 * 24
    for model in ("eegnet", "de_lr"):
        recs = [r for r in m["folds"] if r["model"] == model]
        assert [(r["fold"], r["test_subjects"]) for r in recs] == [(f"loso-S00{s}", [s]) for s in (1, 2, 3)]
        # one validation subject, one training subject, all 72 windows of the test subject
        assert all((r["n_train"], r["n_val"], r["n_test"]) == (72, 72, 72) for r in recs)
        mine = [r for r in rows if r["model"] == model]
        assert Counter(r["subject"] for r in mine) == {"1": 72, "2": 72, "3": 72}
        for r in mine:
            assert r["y_true"] == SEED_IV_CLASSES[SEED_IV_LABELS[int(r["run"])][int(r["trial"]) - 1]]


# ------------------------------------------------------------------------------------ folds
def _cfg(root, **kw):
    return make_config({"dataset": "seed", "data_dir": str(root), "subjects": [1, 2, 10], **kw})


def _clips(ds, idx):
    return {(int(ds.subject[i]), int(ds.run[i]), int(ds.trial[i])) for i in idx}


def test_folds_keep_each_clip_on_one_side(seed_root):
    cfg = _cfg(seed_root)
    ds = load_for_config(cfg)
    assert ds.X.shape == (270, 62, 200) and ds.ch_names == SEED_CHANNELS and ds.info["window_s"] == 1.0
    folds = make_task_folds(ds, cfg)
    assert len(folds) == 9
    for tf in folds:
        s, k = tf.fold.subject, tf.fold.index + 1
        train, val, test = (_clips(ds, p) for p in (tf.train, tf.val, tf.test))
        assert {c[2] for c in test} == set(range(10, 16)) and train | val == {(s, k, t) for t in range(1, 10)}
        assert not train & val and len(val) == 3  # whole clips, one per class
        assert sorted(ds.y[tf.val].tolist()) == [0, 0, 1, 1, 2, 2]
    assert len({tuple(sorted(c[2] for c in _clips(ds, tf.val))) for tf in folds}) > 1  # drawn per subject, session
    again = make_task_folds(ds, cfg)
    assert all(np.array_equal(a.val, b.val) for a, b in zip(folds, again))
    # protocol=paper: every training clip trains and the test clips choose the epoch (as published)
    paper = make_task_folds(ds, cfg.replace(protocol="paper"))
    for tf in paper:
        assert {c[2] for c in _clips(ds, tf.train)} == set(range(1, 10)) and np.array_equal(tf.val, tf.test)
    # Cross-session: each session tested once; validation clips whole, from the training sessions.
    blocks = make_task_folds(ds, cfg.replace(scheme="within_subject_run_blocks", n_folds=3))
    assert [tf.fold.name for tf in blocks] == [f"S{s:03d}-f{k}" for s in (1, 2, 10) for k in (0, 1, 2)]
    for tf in blocks:
        test_sessions = {c[1] for c in _clips(ds, tf.test)}
        train, val = _clips(ds, tf.train), _clips(ds, tf.val)
        assert test_sessions == {tf.fold.index + 1} and len(_clips(ds, tf.test)) == 15
        assert not train & val and val and not {c[1] for c in train | val} & test_sessions
        for clip in val:  # both windows of a validation clip are in validation
            assert sum(_clips(ds, [i]) == {clip} for i in tf.val) == 2
    groups = make_task_folds(ds, cfg.replace(scheme="subject_group_kfold", n_folds=3))
    assert sorted(tf.fold.test_subjects for tf in groups) == [(1,), (2,), (10,)]


def test_sst_grid_maps_on_the_seed_layout(seed_root):
    cfg = _cfg(seed_root, representation="sst_grid")
    assert cfg.representation_kwargs == {"layout": "seed"}  # MNE's montages have no CB1/CB2
    assert _cfg(seed_root, representation="sst_grid", representation_kwargs={"montage": "x"}).representation_kwargs == {
        "montage": "x"}
    rng = np.random.default_rng(0)
    X = 30.0 * rng.standard_normal((4, 62, 200)).astype(np.float32)
    maps = model_inputs("sst_grid", X, 200.0, SEED_CHANNELS, standardize=True, layout="seed", grid_shape=(9, 9))
    assert maps.shape == (4, 30, 9, 9)
    de = trial_differential_entropy(X, 200.0)
    de = (de - de.mean(1, keepdims=True)) / (de.std(1, keepdims=True) + 1e-6)
    cb1 = SEED_CHANNELS.index("CB1")  # row 8, column 2 of SST-EmotionNet's SEED grid
    np.testing.assert_allclose(maps[:, :5, 8, 2], de[:, cb1], atol=1e-4)
    assert np.abs(maps[:, :5, 8, 2]).max() > 0.1
    with pytest.raises(ConfigError, match="CB1"):
        model_inputs("sst_grid", X, 200.0, SEED_CHANNELS, standardize=True)


# ------------------------------------------------------------------------------------ errors
def test_config_defaults_and_explicit_keys(seed_root):
    cfg = make_config({"dataset": "seed_iv", "data_dir": str(seed_root)})
    assert cfg.task == ("emotion",) and cfg.subjects == tuple(range(1, 16)) and cfg.scheme == "seed_protocol"
    assert cfg.baselines == ("de_lr",) and cfg.l_freq is None and cfg.tmax == 1.0
    cfg = make_config({"dataset": "seed", "data_dir": "d", "scheme": "loso", "tmax": 2, "baselines": "de_lr,logvar_lr"})
    assert cfg.scheme == "loso" and cfg.tmax == 2.0 and cfg.baselines == ("de_lr", "logvar_lr")
    plain = make_config({})  # EEGMMIDB keeps its defaults
    assert plain.task == CVConfig.task and plain.scheme == CVConfig.scheme and plain.l_freq == CVConfig.l_freq


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "left_right_imagined"],
         r"task \['left_right_imagined'\] is not a task of dataset='seed'; its tasks: emotion"),
        (["--scheme", "within_subject_stratified"],
         r"scheme='within_subject_stratified' is not a split scheme for dataset='seed'; use one of seed_protocol, "
         r"within_subject_run_blocks, loso, subject_group_kfold\. Window-wise"),
        (["--scheme", "within_subject_run_blocks"], r"n_folds=5: within_subject_run_blocks deals the 3 session.*n_folds=2\.\.3"),
        (["--scheme", "loso", "--subjects", "1,2"], "scheme=loso needs at least 3 subjects"),
        (["--subjects", "1,16"], r"subjects \[16\] out of range"),
        (["--set", "runs=2,4"], r"runs \(the sessions of SEED / SEED-IV\) \[4\] out of range"),
        (["--set", "l_freq=4"], r"l_freq=4\.0: jeeg reads SEED's EEG as the authors preprocessed it.*set l_freq=none"),
        (["--set", "tmin=-0.5"], "tmin=-0.5: SEED trials are cut into windows"),
        (["--set", "channels=Fp1,Cx9"], r"channels \['Cx9'\] are not SEED channels"),
        (["--download"], r"download: SEED cannot be downloaded.*bcmi\.sjtu\.edu\.cn"),
        (["--set", "dataset=deap"], "dataset='deap' is unknown; datasets: eegmmidb, slpdb, sleep_edf, seed, seed_iv"),
        (["--set", "dataset=eegmmidb", "--task", "left_right_imagined", "--scheme", "seed_protocol"],
         r"scheme='seed_protocol' is not a split scheme for dataset='eegmmidb' \(seed_protocol is the protocol of"),
        (["--set", "dataset=eegmmidb", "--task", "emotion"], r"task \['emotion'\] is not a task of dataset='eegmmidb'"),
    ],
)
def test_wrong_combinations_fail_before_anything_is_written(seed_root, tmp_path, capsys, args, message):
    out = tmp_path / "run"
    argv = ["cv", "--set", "dataset=seed", "--data-dir", str(seed_root), *args, "--out", str(out), "--quiet"]
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_missing_data_dir(tmp_path, capsys):
    argv = ["cv", "--set", "dataset=seed_iv", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 2
    assert re.search(r"dataset='seed_iv' reads your copy of SEED-IV: set data_dir=DIR \(--data-dir\)", capsys.readouterr().err)
    assert not (tmp_path / "run").exists()
    assert main([*argv, "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert re.search(r"SEED-IV folder .*nowhere does not exist.*never downloads it", capsys.readouterr().err)


def test_validation_groups_and_protocol_arguments():
    from jeeg.data.seed import seed_protocol_folds
    from jeeg.errors import SplitError
    from jeeg.splits import within_subject_run_blocks

    y = np.array([0, 0, 1, 1, 0, 0, 1, 1] * 3)
    subject, run = np.ones(24, int), np.repeat([1, 2, 3], 8)
    groups = np.arange(24) // 2  # pairs of one class
    folds = within_subject_run_blocks(y, subject, run=run, n_folds=3, val_fraction=0.3, groups=groups)
    for f in folds:
        assert f.val.size == 4 and set(groups[f.val]).isdisjoint(groups[f.train])  # 1 pair per class
    with pytest.raises(SplitError, match=r"validation groups \[0\] hold trials of several classes"):
        within_subject_run_blocks(np.r_[0, 1, y[2:]], subject, run=run, n_folds=3, groups=groups)
    with pytest.raises(ConfigError, match="pass y"):
        seed_protocol_folds([1, 1], [1, 1], [1, 12], val_fraction=0.2)
    with pytest.raises(ConfigError, match=r"val_fraction must be in \[0, 1\)"):
        seed_protocol_folds([1, 1], [1, 1], [1, 12], y=[0, 0], val_fraction=1.0)
