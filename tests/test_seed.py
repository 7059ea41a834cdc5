"""SEED / SEED-IV readers on small generated files in the official structure.

SEED and SEED-IV are licence-restricted (BCMI lab, by application) and not available here, so every
file is written by this module with ``scipy.io.savemat`` in the official layout: file names
``<subject>_<YYYYMMDD>.mat``, variables ``<initials>_eegN`` (62 x n_samples, float64, 200 Hz) and
``de_LDS<N>`` etc. (62 x n_windows x 5), SEED's ``label.mat`` (``label``, 1 x 15 of -1/0/1), SEED-IV's
session folders 1/2/3. Trials last 1-3 s (+1 sample, as the real 47001-sample trials).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pytest
import scipy.io

from jeeg.data import seed
from jeeg.data.dataset import EpochsDataset
from jeeg.data.seed import (
    SEED_CHANNELS,
    SEED_IV_LABELS,
    load_seed_features,
    load_seed_raw,
    seed_protocol_folds,
    seed_protocol_split,
)
from jeeg.errors import ConfigError, DataError, MissingDataError, SplitError

SEED_LABEL = [1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]  # SEED label.mat, as published
# subject -> (initials, dates of sessions 1..3); SEED dates/initials of subjects 1 and 10 as in the release
SEED_FILES = {1: ("djc", ("20131027", "20131030", "20131107")), 10: ("ww", ("20131130", "20131204", "20131211"))}
SEED_IV_FILES = {1: ("cz", ("20160518", "20161125", "20161126")), 2: ("ha", ("20150915", "20150920", "20151012"))}
ALL_FEATURES = ("de_movingAve", "de_LDS", "psd_movingAve", "psd_LDS")
ASYM = {"dasm": 27, "rasm": 27, "asm": 54, "dcau": 23}  # SEED only: rows are electrode pairs


def _seconds(s: int, k: int, n: int) -> int:
    return 1 + (s + k + n) % 3


def write_dataset(root: Path, dataset: str, kind: str, files=None, seconds=_seconds, seed_: int = 0) -> dict:
    """Write ``kind`` ("raw" or "features") files of ``dataset`` under ``root``; return {(s, k, n): array}."""
    rng = np.random.default_rng(seed_)
    files = files or (SEED_FILES if dataset == "seed" else SEED_IV_FILES)
    n_trials = 15 if dataset == "seed" else 24
    top = {
        ("seed", "raw"): "Preprocessed_EEG", ("seed", "features"): "ExtractedFeatures",
        ("seed_iv", "raw"): "eeg_raw_data", ("seed_iv", "features"): "eeg_feature_smooth",
    }[dataset, kind]  # fmt: skip
    folder = root / top
    arrays = {}
    for s, (initials, dates) in files.items():
        for k, date in enumerate(dates, start=1):
            where = folder if dataset == "seed" else folder / str(k)
            where.mkdir(parents=True, exist_ok=True)
            mat = {}
            for n in range(1, n_trials + 1):
                sec = seconds(s, k, n)
                if kind == "raw":
                    arrays[s, k, n] = mat[f"{initials}_eeg{n}"] = 40.0 * rng.standard_normal((62, 200 * sec + 1))
                    continue
                for i, feat in enumerate(ALL_FEATURES):
                    arr = 15.0 + i + rng.standard_normal((62, sec, 5))
                    mat[f"{feat}{n}"] = arr
                    if feat == "de_LDS":
                        arrays[s, k, n] = arr
                if dataset == "seed":
                    for name, rows in ASYM.items():
                        for smooth in ("movingAve", "LDS"):
                            mat[f"{name}_{smooth}{n}"] = rng.standard_normal((rows, sec, 5))
            scipy.io.savemat(where / f"{s}_{date}.mat", mat)
    if dataset == "seed":
        scipy.io.savemat(folder / "label.mat", {"label": np.array([SEED_LABEL], dtype=np.float64)})
        (folder / "readme.txt").write_text("generated for jeeg tests\n")
    return arrays


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SEED")
    return root, write_dataset(root, "seed", "raw"), write_dataset(root, "seed", "features", seed_=1)


@pytest.fixture(scope="module")
def seed_iv_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SEED_IV")
    return root, write_dataset(root, "seed_iv", "raw", seed_=2), write_dataset(root, "seed_iv", "features", seed_=3)


def _small(tmp_path: Path, dataset="seed", kind="raw", subjects=(1,)) -> Path:
    """A fresh 1-s-per-trial copy for tests that damage files."""
    src = SEED_FILES if dataset == "seed" else SEED_IV_FILES
    write_dataset(tmp_path, dataset, kind, files={s: src[s] for s in subjects}, seconds=lambda *a: 1)
    return tmp_path


def _rewrite(path: Path, edit) -> None:
    mat = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    edit(mat)
    scipy.io.savemat(path, mat)


# ------------------------------------------------------------------------------------ constants
def test_channels_are_seed_order_in_10_05_spelling():
    torcheeg = (
        "FP1 FPZ FP2 AF3 AF4 F7 F5 F3 F1 FZ F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8 T7 C5 C3 C1 CZ C2 C4 C6 "
        "T8 TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8 P7 P5 P3 P1 PZ P2 P4 P6 P8 PO7 PO5 PO3 POZ PO4 PO6 PO8 CB1 O1 OZ O2 CB2"
    ).split()  # TorchEEG SEED_CHANNEL_LIST
    assert len(SEED_CHANNELS) == 62 == len(set(SEED_CHANNELS))
    assert [c.upper() for c in SEED_CHANNELS] == torcheeg
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    montage = set(mne.channels.make_standard_montage(name).ch_names)
    assert [c for c in SEED_CHANNELS if c not in montage] == ["CB1", "CB2"]


def test_seed_iv_labels_have_six_trials_per_class_in_every_session():
    for k in (1, 2, 3):
        assert len(SEED_IV_LABELS[k]) == 24
        assert np.bincount(SEED_IV_LABELS[k]).tolist() == [6, 6, 6, 6]


# ------------------------------------------------------------------------------------ features
def test_seed_features_values_labels_sessions(seed_root):
    root, _, feats = seed_root
    ft = load_seed_features(root)
    n = sum(_seconds(s, k, t) for s in (1, 10) for k in (1, 2, 3) for t in range(1, 16))
    assert len(ft) == n and ft.X.shape == (n, 62, 5) and ft.X.dtype == np.float32
    assert ft.class_names == ("negative", "neutral", "positive") and ft.ch_names == SEED_CHANNELS
    assert ft.bands == ("delta", "theta", "alpha", "beta", "gamma") and ft.window_s == 1.0
    assert ft.feature == "de_LDS" and ft.info["subjects"] == [1, 10] and ft.info["sessions"] == [1, 2, 3]
    assert ft.info["files"]["S10"] == {"1": "10_20131130.mat", "2": "10_20131204.mat", "3": "10_20131211.mat"}
    assert ft.info["data_dir"] == str(root / "ExtractedFeatures")
    assert np.unique(ft.subject).tolist() == [1, 10] and ft.subject[0] == 1  # numeric, not "10_" < "1_"
    for s in (1, 10):
        for k in (1, 2, 3):
            for t in range(1, 16):
                rows = np.flatnonzero((ft.subject == s) & (ft.session == k) & (ft.trial == t))
                np.testing.assert_array_equal(ft.X[rows], feats[s, k, t].transpose(1, 0, 2).astype(np.float32))
                assert ft.window[rows].tolist() == list(range(_seconds(s, k, t)))
                assert set(ft.y[rows].tolist()) == {SEED_LABEL[t - 1] + 1}
    order = np.lexsort((ft.window, ft.trial, ft.session, ft.subject))
    np.testing.assert_array_equal(order, np.arange(n))
    other = load_seed_features(root, feature="psd_movingAve", subjects=10, sessions=[3])
    assert set(other.subject.tolist()) == {10} and set(other.session.tolist()) == {3}
    assert 16.0 < float(other.X.mean()) < 18.0  # psd_movingAve was written as 17 + noise, de_LDS as 16 + noise
    sub = ft.subset(ft.trial == 2)
    assert len(sub) == sum(_seconds(s, k, 2) for s in (1, 10) for k in (1, 2, 3)) and set(sub.y.tolist()) == {1}


def test_seed_iv_features_labels_and_4s_windows(seed_iv_root):
    root, _, feats = seed_iv_root
    ft = load_seed_features(root, dataset="seed_iv", sessions=(2, 3))
    assert ft.window_s == 4.0 and ft.class_names == ("neutral", "sad", "fear", "happy")
    assert ft.info["files"]["S02"] == {"2": "2_20150920.mat", "3": "2_20151012.mat"}
    for s in (1, 2):
        for k in (2, 3):
            for t in range(1, 25):
                rows = np.flatnonzero((ft.subject == s) & (ft.session == k) & (ft.trial == t))
                np.testing.assert_array_equal(ft.X[rows], feats[s, k, t].transpose(1, 0, 2).astype(np.float32))
                assert set(ft.y[rows].tolist()) == {SEED_IV_LABELS[k][t - 1]}


def test_seed_feature_folder_variants(seed_root, tmp_path):
    root = seed_root[0]
    direct = load_seed_features(root / "ExtractedFeatures", subjects=[1])
    nested = tmp_path / "SEED" / "SEED_EEG"
    nested.mkdir(parents=True)
    shutil.copytree(root / "ExtractedFeatures", nested / "ExtractedFeatures_4s")
    four = load_seed_features(tmp_path, subjects=[1])
    assert four.window_s == 4.0 and four.info["data_dir"] == str(nested / "ExtractedFeatures_4s")
    np.testing.assert_array_equal(four.X, direct.X)
    assert load_seed_features(tmp_path, subjects=[1], features_dir="ExtractedFeatures_4s").window_s == 4.0
    with pytest.raises(MissingDataError, match="ExtractedFeatures_1s"):
        load_seed_features(tmp_path, features_dir="ExtractedFeatures_1s")


# ------------------------------------------------------------------------------------ raw
def test_seed_raw_windows_values_metadata(seed_root):
    root, raws, _ = seed_root
    ds = load_seed_raw(root, subjects=[10, 1], sessions=[1, 3])
    assert isinstance(ds, EpochsDataset)
    n = sum(_seconds(s, k, t) for s in (1, 10) for k in (1, 3) for t in range(1, 16))
    assert ds.X.shape == (n, 62, 200) and ds.X.dtype == np.float32 and ds.y.dtype == np.int32
    assert ds.sfreq == 200.0 and ds.ch_names == SEED_CHANNELS and ds.tmin == 0.0
    assert ds.class_names == ("negative", "neutral", "positive") and set(ds.task.tolist()) == {"emotion"}
    assert ds.info["n_samples_dropped"] == 2 * 2 * 15 and ds.info["window_s"] == 1.0
    assert sorted(set(ds.run.tolist())) == [1, 3] and ds.subjects == [1, 10]
    for s in (1, 10):
        for k in (1, 3):
            for t in range(1, 16):
                rows = np.flatnonzero((ds.subject == s) & (ds.run == k) & (ds.trial == t))
                w = _seconds(s, k, t)
                ref = raws[s, k, t][:, : 200 * w].reshape(62, w, 200).transpose(1, 0, 2).astype(np.float32)
                np.testing.assert_array_equal(ds.X[rows], ref)
                np.testing.assert_array_equal(ds.onset[rows], np.arange(w, dtype=float))
                assert set(ds.y[rows].tolist()) == {SEED_LABEL[t - 1] + 1}
    half = load_seed_raw(root, subjects=1, sessions=2, window=0.5)
    assert half.X.shape == (2 * sum(_seconds(1, 2, t) for t in range(1, 16)), 62, 100)
    np.testing.assert_array_equal(half.X[1], raws[1, 2, 1][:, 100:200].astype(np.float32))
    assert half.onset[:2].tolist() == [0.0, 0.5]


def test_seed_iv_raw(seed_iv_root):
    root, raws, _ = seed_iv_root
    ds = load_seed_raw(root / "eeg_raw_data", dataset="seed_iv", subjects=2, window=2.0)
    for k in (1, 2, 3):
        for t in range(1, 25):
            rows = np.flatnonzero((ds.run == k) & (ds.trial == t))
            w = _seconds(2, k, t) // 2
            assert len(rows) == w and set(ds.y[rows].tolist()) <= {SEED_IV_LABELS[k][t - 1]}
            if w:
                np.testing.assert_array_equal(ds.X[rows[0]], raws[2, k, t][:, :400].astype(np.float32))
    assert ds.class_names == ("neutral", "sad", "fear", "happy") and ds.X.shape[1:] == (62, 400)
    assert ds.info["files"]["S02"]["1"] == "2_20150915.mat"


# ------------------------------------------------------------------------------------ protocol
def test_protocol_split_counts(seed_root, seed_iv_root):
    ft = load_seed_features(seed_root[0])
    train, test = seed_protocol_split(ft.trial, ft.session)
    assert (train ^ test).all()
    for s in (1, 10):
        for k in (1, 2, 3):
            rows = (ft.subject == s) & (ft.session == k)
            assert np.unique(ft.trial[rows & train]).tolist() == list(range(1, 10))
            assert np.unique(ft.trial[rows & test]).tolist() == list(range(10, 16))
    iv = load_seed_features(seed_iv_root[0], dataset="seed_iv")
    train, test = seed_protocol_split(iv.trial, dataset="seed_iv")
    rows = (iv.subject == 1) & (iv.session == 3)
    assert len(np.unique(iv.trial[rows & train])) == 16 and len(np.unique(iv.trial[rows & test])) == 8
    folds = seed_protocol_folds(iv.subject, iv.session, iv.trial, dataset="seed_iv", y=iv.y)
    assert [f.name for f in folds] == [f"S0{s}-session{k}" for s in (1, 2) for k in (1, 2, 3)]
    for f in folds:
        assert f.val.size == 0 and f.test_subjects == (f.subject,) and not f.cross_subject
        assert set(iv.trial[f.train].tolist()) == set(range(1, 17))
        assert set(iv.trial[f.test].tolist()) == set(range(17, 25))
        rows = np.flatnonzero((iv.subject == f.subject) & (iv.session == f.index + 1))
        np.testing.assert_array_equal(np.union1d(f.train, f.test), rows)


def test_protocol_split_errors():
    assert seed_protocol_split(np.array([1, 9, 10, 15]))[0].tolist() == [True, True, False, False]
    assert seed_protocol_split([16, 17], dataset="seed_iv")[1].tolist() == [False, True]
    with pytest.raises(SplitError, match=r"\[0, 16\].*outside 1\.\.15.*0-based"):
        seed_protocol_split(np.array([0, 3, 16]))
    with pytest.raises(SplitError, match=r"\[25\] outside 1\.\.24"):
        seed_protocol_split([24, 25], dataset="seed_iv")
    with pytest.raises(SplitError, match="integer"):
        seed_protocol_split(np.array([1.0, 2.0]))
    with pytest.raises(SplitError, match=r"session numbers \[4\]"):
        seed_protocol_split([1, 2], session=[1, 4])
    with pytest.raises(SplitError, match="shape"):
        seed_protocol_split([1, 2], session=[1])
    with pytest.raises(ConfigError, match="unknown dataset 'deap'"):
        seed_protocol_split([1], dataset="deap")
    with pytest.raises(SplitError, match="S01-session2.*no test rows"):
        seed_protocol_folds([1, 1, 1], [1, 1, 2], [1, 12, 3])


# ------------------------------------------------------------------------------------ errors
def test_missing_root_and_layout(tmp_path):
    expected = r"does not exist.*bcmi\.sjtu\.edu\.cn.*never downloads.*Preprocessed_EEG"
    with pytest.raises(MissingDataError, match=expected):
        load_seed_raw(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    with pytest.raises(MissingDataError, match=r"has no Preprocessed_EEG folder \(it holds: other\).*application"):
        load_seed_raw(tmp_path)
    expected = r"no eeg_feature_smooth folder.*seed-iv\.html.*eeg_feature_smooth/\{1,2,3\}"
    with pytest.raises(MissingDataError, match=expected):
        load_seed_features(tmp_path, dataset="seed_iv")
    with pytest.raises(MissingDataError, match="ExtractedFeatures or ExtractedFeatures_1s or ExtractedFeatures_4s"):
        load_seed_features(tmp_path)


def test_missing_label_mat_and_bad_label(tmp_path):
    root = _small(tmp_path)
    label = root / "Preprocessed_EEG" / "label.mat"
    scipy.io.savemat(label, {"labels": np.zeros((1, 15))})
    with pytest.raises(DataError, match=r"label\.mat: no variable 'label' \(variables: \['labels'\]\)"):
        load_seed_raw(root)
    scipy.io.savemat(label, {"label": np.array([[1, 0, 2] * 5])})
    with pytest.raises(DataError, match="15 values in -1/0/1"):
        load_seed_raw(root)
    label.unlink()
    with pytest.raises(MissingDataError, match=r"Preprocessed_EEG/label\.mat not found.*'label', 1 x 15"):
        load_seed_raw(root)


def test_missing_trial_key_and_wrong_channel_count(tmp_path):
    root = _small(tmp_path)
    path = root / "Preprocessed_EEG" / "1_20131030.mat"
    _rewrite(path, lambda m: m.pop("djc_eeg7"))
    with pytest.raises(DataError, match=r"1_20131030\.mat: variable\(s\) \['djc_eeg7'\] missing \(subject 1, sess"):
        load_seed_raw(root)
    _rewrite(path, lambda m: m.update(djc_eeg7=np.zeros((61, 201))))
    with pytest.raises(DataError, match=r"1_20131030\.mat: variable djc_eeg7 has shape \(61, 201\); expected \(62 ch"):
        load_seed_raw(root)
    _rewrite(path, lambda m: m.update(djc_eeg7=np.zeros((62, 201)), djc_eeg16=np.zeros((62, 201))))
    with pytest.raises(DataError, match=r"\['djc_eeg16'\] beyond the 15 trials"):
        load_seed_raw(root)
    _rewrite(path, lambda m: (m.pop("djc_eeg16"), m.update(xx_eeg3=m.pop("djc_eeg3"))))
    with pytest.raises(DataError, match=r"initials \['djc', 'xx'\]"):
        load_seed_raw(root)
    _rewrite(path, lambda m: m.update(djc_eeg3=m.pop("xx_eeg3")))
    bad = np.zeros((62, 201))
    bad[5, 120] = np.nan
    _rewrite(path, lambda m: m.update(djc_eeg9=bad))
    with pytest.raises(DataError, match=r"djc_eeg9 has non-finite values.*channel F7 at sample 120"):
        load_seed_raw(root)
    assert len(load_seed_raw(root, sessions=[1, 3])) == 2 * 15


def test_feature_file_errors(tmp_path):
    root = _small(tmp_path, kind="features")
    path = root / "ExtractedFeatures" / "1_20131107.mat"
    _rewrite(path, lambda m: m.pop("de_LDS3"))
    with pytest.raises(DataError, match=r"1_20131107\.mat: variable\(s\) \['de_LDS3'\] missing \(subject 1, session 3"):
        load_seed_features(root)
    assert len(load_seed_features(root, feature="de_movingAve")) == 3 * 15
    _rewrite(path, lambda m: m.update(de_LDS3=np.zeros((62, 5, 7))))
    with pytest.raises(DataError, match=r"de_LDS3 has shape \(62, 5, 7\); expected \(62 channels, n_windows, 5 bands"):
        load_seed_features(root)
    with pytest.raises(ConfigError, match="unknown feature 'dasm_LDS'.*electrode pairs"):
        load_seed_features(root, feature="dasm_LDS")
    with pytest.raises(ConfigError, match="features_dir"):
        load_seed_features(root, dataset="seed_iv", features_dir="ExtractedFeatures")


def test_file_naming_and_session_errors(tmp_path):
    root = _small(tmp_path)
    folder = root / "Preprocessed_EEG"
    (folder / "1_20131107.mat").rename(folder / "dujingcheng_20131107.mat")
    with pytest.raises(DataError, match=r"dujingcheng_20131107\.mat: not a <subject>_<YYYYMMDD>\.mat.*renamed"):
        load_seed_raw(root)
    (folder / "dujingcheng_20131107.mat").unlink()
    with pytest.raises(DataError, match=r"subject 1 has 2 file\(s\).*1_20131027\.mat, 1_20131030\.mat.*all 3 files"):
        load_seed_raw(root)
    with pytest.raises(MissingDataError, match=r"no file under .*Preprocessed_EEG for subject 4\."):
        load_seed_raw(root, subjects=[4])
    shutil.copyfile(folder / "1_20131030.mat", folder / "1_20131399.mat")
    with pytest.raises(DataError, match="'20131399' in the file name is not a date"):
        load_seed_raw(root)


def test_seed_iv_session_folder_errors(tmp_path):
    root = _small(tmp_path, dataset="seed_iv")
    shutil.rmtree(root / "eeg_raw_data" / "3")
    with pytest.raises(MissingDataError, match=r"session folder\(s\) .*eeg_raw_data/3 not found"):
        load_seed_raw(root, dataset="seed_iv")
    assert set(load_seed_raw(root, dataset="seed_iv", sessions=[1, 2]).run.tolist()) == {1, 2}
    (root / "eeg_raw_data" / "2" / "1_20161125.mat").unlink()
    with pytest.raises(MissingDataError, match="subject 1 session 2"):
        load_seed_raw(root, dataset="seed_iv", sessions=[1, 2])


def test_argument_errors(seed_root):
    root = seed_root[0]
    with pytest.raises(ConfigError, match=r"subjects \[16\] out of range"):
        load_seed_raw(root, subjects=[1, 16])
    with pytest.raises(ConfigError, match=r"sessions \[0\] out of range"):
        load_seed_features(root, sessions=0)
    with pytest.raises(ConfigError, match="subjects must be"):
        load_seed_raw(root, subjects=["1"])
    with pytest.raises(ConfigError, match="unknown dataset 'seed5'"):
        load_seed_raw(root, dataset="seed5")
    for bad in (0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ConfigError, match="window"):
            load_seed_raw(root, window=bad)
    with pytest.raises(ConfigError, match="holds no sample"):
        load_seed_raw(root, window=0.001)
    with pytest.raises(DataError, match="no 5.0 s window fits"):
        load_seed_raw(root, subjects=1, sessions=1, window=5.0)


def test_public_api_listed():
    assert set(seed.__all__) >= {"SEED_CHANNELS", "load_seed_features", "load_seed_raw", "seed_protocol_split"}
