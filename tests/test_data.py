"""EEGMMIDB loading on the real PhysioNet recordings (S001-S017): counts, shapes, errors, cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pytest

from jeeg.data import (
    DATASETS,
    TASKS,
    EpochsDataset,
    Preprocessing,
    eegmmidb,
    load_dataset,
    load_eegmmidb,
    resolve_data_dir,
    standardize_trials,
)
from jeeg.errors import ConfigError, DataError, MissingDataError

# Trials per class (T1, T2), literal; equal to the T1/T2 annotation counts of the EDF files
# (runs 4/8/12 imagined, 3/7/11 executed). No cue window (0-4 s) runs past a recording's end.
IMAGINED = {
    1: (23, 22), 2: (23, 22), 3: (23, 22), 4: (23, 22), 5: (21, 24), 6: (24, 21), 7: (23, 22),
    8: (22, 23), 9: (24, 21), 10: (24, 21), 11: (23, 22), 12: (21, 24), 13: (23, 22), 14: (22, 23),
    15: (23, 22), 16: (22, 23), 17: (23, 22),
}  # fmt: skip
EXECUTED = {
    1: (23, 22), 2: (23, 22), 3: (22, 23), 4: (22, 23), 5: (23, 22), 6: (22, 23), 7: (23, 22),
    8: (22, 23), 9: (23, 22), 10: (24, 21), 11: (22, 23), 12: (24, 21), 13: (24, 21), 14: (22, 23),
    15: (22, 23), 16: (23, 22), 17: (23, 22),
}  # fmt: skip
MULTI_S001 = {
    "left_fist_executed": 23, "right_fist_executed": 22, "both_fists_executed": 23, "both_feet_executed": 22,
    "left_fist_imagined": 23, "right_fist_imagined": 22, "both_fists_imagined": 21, "both_feet_imagined": 24,
}  # fmt: skip


@pytest.fixture(autouse=True)
def _no_download(monkeypatch):
    """Any call to MNE's downloader is a test failure (nothing may touch the network)."""

    def fail(*args, **kwargs):
        raise AssertionError(f"mne.datasets.eegbci.load_data called with {args} {kwargs}")

    monkeypatch.setattr(mne.datasets.eegbci, "load_data", fail)


@pytest.fixture(scope="module")
def lr_all(eegmmidb_root, tmp_path_factory) -> EpochsDataset:
    """Both left/right tasks (imagined first) of all 17 subjects, loaded together."""
    cache = tmp_path_factory.mktemp("lr-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mne.datasets.eegbci, "load_data", lambda *a, **k: pytest.fail("download attempted"))
        return load_eegmmidb(
            range(1, 18), ["left_right_imagined", "left_right_executed"], data_dir=eegmmidb_root, cache_dir=cache
        )


def _layout(tmp_path: Path, real_root: Path, files: list[tuple[int, int]]) -> Path:
    """Copy real EDFs ``[(subject, run), ...]`` into a fresh MNE-layout root under ``tmp_path``."""
    root = tmp_path / "mne_data"
    for s, r in files:
        dst = eegmmidb.edf_path(root, s, r)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(eegmmidb.edf_path(real_root, s, r), dst)
    return root


def _drop_edf_signal(path: Path, label: str) -> None:
    """Rewrite an EDF in place without signal ``label`` (header fields and data-record samples)."""
    b = path.read_bytes()
    ns, n_rec = int(b[252:256]), int(b[236:244])
    fields, off = [], 256
    for width in (16, 80, 8, 8, 8, 8, 8, 80, 8, 32):  # per-signal header fields, stored field by field
        fields.append([b[off + i * width : off + (i + 1) * width] for i in range(ns)])
        off += width * ns
    k = [f.decode().strip() for f in fields[0]].index(label)
    samples = [int(x) for x in fields[8]]
    data = np.frombuffer(b[off : off + n_rec * sum(samples) * 2], "<i2").reshape(n_rec, sum(samples))
    start = sum(samples[:k])
    keep = np.r_[0:start, start + samples[k] : sum(samples)]
    head = bytearray(b[:256])
    head[184:192] = f"{256 * ns:<8}".encode()  # 256 + 256 * (ns - 1)
    head[252:256] = f"{ns - 1:<4}".encode()
    sig = b"".join(b"".join(f[:k] + f[k + 1 :]) for f in fields)
    path.write_bytes(bytes(head) + sig + data[:, keep].tobytes())


# ----------------------------------------------------------------------------- definitions
def test_tasks_and_classes():
    assert TASKS["left_right_executed"].runs == (3, 7, 11)
    assert TASKS["left_right_imagined"].runs == (4, 8, 12)
    assert TASKS["fists_feet_executed"].runs == (5, 9, 13)
    assert TASKS["fists_feet_imagined"].runs == (6, 10, 14)
    assert TASKS["multi_action"].runs == tuple(range(3, 15))
    assert TASKS["left_right_imagined"].classes == TASKS["left_right_executed"].classes == ("left_fist", "right_fist")
    assert TASKS["fists_feet_imagined"].classes == TASKS["fists_feet_executed"].classes == ("both_fists", "both_feet")
    assert TASKS["left_right_imagined"].events[8] == {"T1": "left_fist", "T2": "right_fist"}
    assert TASKS["fists_feet_executed"].events[13] == {"T1": "both_fists", "T2": "both_feet"}
    assert TASKS["multi_action"].classes == tuple(MULTI_S001)
    assert TASKS["multi_action"].events[6] == {"T1": "both_fists_imagined", "T2": "both_feet_imagined"}
    assert DATASETS["eegmmidb"] is load_eegmmidb and callable(standardize_trials)
    assert set(DATASETS) == {"eegmmidb", "slpdb", "sleep_edf", "seed", "seed_iv"}


def test_preprocessing_validation_and_dict():
    p = Preprocessing(l_freq=8, h_freq=30, channels=["C3", "Cz"])
    assert p.channels == ("C3", "Cz") and isinstance(p.l_freq, float)
    assert p.to_dict() == {"l_freq": 8.0, "h_freq": 30.0, "tmin": 0.0, "tmax": 4.0, "resample": None,
                           "channels": ["C3", "Cz"]}  # fmt: skip
    assert Preprocessing().to_dict() == Preprocessing().to_dict() and Preprocessing(l_freq=None, h_freq=None)
    bad = [
        dict(l_freq=40, h_freq=4), dict(l_freq=10, h_freq=10), dict(h_freq=50, resample=100),
        dict(tmin=2, tmax=1), dict(tmax=0), dict(l_freq=-1), dict(h_freq="40"), dict(resample=0),
        dict(tmin=float("nan")), dict(channels=()), dict(channels=("C3", "C3")), dict(channels=(3,)),
    ]  # fmt: skip
    for kw in bad:
        with pytest.raises(ConfigError):
            Preprocessing(**kw)


def test_resolve_data_dir(monkeypatch, tmp_path):
    assert resolve_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("MNE_DATA")
    monkeypatch.setattr(mne, "get_config", lambda key, *a, **k: str(tmp_path / "cfg") if key == "MNE_DATA" else None)
    assert resolve_data_dir() == tmp_path / "cfg"
    monkeypatch.setattr(mne, "get_config", lambda *a, **k: None)
    assert resolve_data_dir() == Path.home() / "mne_data"


# ----------------------------------------------------------------------------- real data
def test_counts_all_subjects(lr_all):
    counts = lr_all.class_counts()
    assert lr_all.class_names == ("left_fist", "right_fist")
    for table, task in ((IMAGINED, "left_right_imagined"), (EXECUTED, "left_right_executed")):
        got = {s: (counts[(s, task)]["left_fist"], counts[(s, task)]["right_fist"]) for s in range(1, 18)}
        assert got == table, task
    assert len(lr_all) == sum(map(sum, IMAGINED.values())) + sum(map(sum, EXECUTED.values())) == 1530
    assert lr_all.info["n_dropped"] == 0 and lr_all.info["n_read"] == 102


def test_shapes_units_and_order(lr_all):
    ds = lr_all
    assert ds.X.shape == (1530, 64, 640) and ds.X.dtype == np.float32
    assert ds.sfreq == 160.0 and ds.tmin == 0.0 and ds.n_times == 640
    assert len(ds.ch_names) == 64 and {"FC5", "Cz", "C3", "C4", "Fp1", "Iz"} <= set(ds.ch_names)
    assert ds.ch_names == eegmmidb.CHANNELS
    std = ds.X.std(axis=(1, 2))
    assert np.isfinite(ds.X).all() and 1.0 < std.min() and std.max() < 200.0  # µV, not V
    for arr, dtype in ((ds.y, np.int32), (ds.subject, np.int32), (ds.run, np.int32), (ds.trial, np.int32)):
        assert arr.dtype == dtype
    assert ds.onset.dtype == np.float64 and ds.subjects == list(range(1, 18))
    assert ds.tasks == ["left_right_imagined", "left_right_executed"]
    # ordered by subject, task (as given), run, onset; trial = index within its run
    task_rank = (ds.task == "left_right_executed").astype(int)
    key = np.lexsort((ds.onset, ds.run, task_rank, ds.subject))
    assert (key == np.arange(len(ds))).all()
    s1r4 = (ds.subject == 1) & (ds.run == 4)
    assert (ds.trial[s1r4] == np.arange(15)).all() and ds.onset[s1r4][0] == pytest.approx(4.2)
    assert set(np.unique(ds.run[ds.task == "left_right_imagined"])) == {4, 8, 12}


def test_multi_action_s001(eegmmidb_root, cache_dir):
    ds = load_eegmmidb(1, "multi_action", data_dir=eegmmidb_root, cache_dir=cache_dir)
    assert ds.n_classes == 8 and ds.class_names == tuple(MULTI_S001)
    assert ds.class_counts() == {(1, "multi_action"): MULTI_S001}
    assert ds.X.shape == (180, 64, 640) and sorted(set(ds.run.tolist())) == list(range(3, 15))


def test_run_type_rest_labels_rest_periods_by_run_kind(eegmmidb_root, cache_dir):
    # The control task of experiments/eegmmidb_run_confound.py: T0 rest periods, labelled by run kind.
    prep = Preprocessing(tmin=1.0, tmax=4.0)
    rest = load_eegmmidb(1, "run_type_rest", runs=[3, 6], data_dir=eegmmidb_root, cache_dir=cache_dir, preprocessing=prep)
    cue = load_eegmmidb(1, "multi_action", runs=[3, 6], data_dir=eegmmidb_root, cache_dir=cache_dir, preprocessing=prep)
    assert rest.X.shape == (30, 64, 480) and rest.class_names == TASKS["run_type_rest"].classes
    names = np.asarray(rest.class_names)[rest.y]
    assert set(names[rest.run == 3]) == {"left_right_executed"} and set(names[rest.run == 6]) == {"fists_feet_imagined"}
    for r in (3, 6):  # rests and cues alternate, 4.2 s apart: every rest window ends before the next cue
        t0, t12 = rest.onset[rest.run == r], cue.onset[cue.run == r]
        assert len(t0) == len(t12) == 15 and t0[0] == 0.0
        assert np.allclose(t12 - t0, 4.2, atol=0.05) and (t0 + 4.0 <= t12).all()
    assert not np.allclose(rest.X[:15], cue.X[:15])


def test_fists_feet_loads_where_present(eegmmidb_root, cache_dir):
    ds = load_eegmmidb([4], ["fists_feet_imagined", "fists_feet_executed"], runs=[6, 10, 14],
                       data_dir=eegmmidb_root, cache_dir=cache_dir)  # fmt: skip
    assert ds.class_names == ("both_fists", "both_feet") and len(ds) == 45 and ds.tasks == ["fists_feet_imagined"]


# ----------------------------------------------------------------------------- config errors
def test_missing_runs_listed_without_download(eegmmidb_root, cache_dir):
    with pytest.raises(MissingDataError) as e:
        load_eegmmidb([1, 2, 5], "fists_feet_executed", data_dir=eegmmidb_root, cache_dir=cache_dir)
    msg = str(e.value)
    assert "S002: runs 5, 9, 13" in msg and "S002R05.edf" in msg and "S005: runs 5, 9, 13" in msg
    assert "S001" not in msg and "6 EEGMMIDB run(s)" in msg
    assert str(eegmmidb_root / eegmmidb.EEGBCI_SUBDIR) in msg and "--download" in msg and "prepare.sh" in msg
    assert isinstance(e.value, FileNotFoundError)
    with pytest.raises(MissingDataError, match=r"S004: runs 5, 9, 13"):  # S004 has imagined runs only
        load_eegmmidb(4, "fists_feet_executed", data_dir=eegmmidb_root, cache_dir=cache_dir)


def test_multi_action_on_the_subjects_whose_present_runs_cover_it(eegmmidb_root, cache_dir):
    # S003 lacks runs 13, 14 and S007 runs 10, 13, 14: skipped, every one of the 8 classes remains.
    ds = load_eegmmidb([3, 7], "multi_action", data_dir=eegmmidb_root, cache_dir=cache_dir, skip_missing_runs=True)
    assert ds.info["skipped_runs"] == {"S003": [13, 14], "S007": [10, 13, 14]}
    assert len(ds.class_names) == 8
    for s, n_runs in ((3, 10), (7, 9)):
        sub = ds.subject == s
        assert sorted(set(ds.run[sub].tolist())) == sorted(set(range(3, 15)) - set(ds.info["skipped_runs"][f"S{s:03d}"]))
        assert len(np.unique(ds.y[sub])) == 8 and sub.sum() == 15 * n_runs
    # S004 has imagined fists/feet runs only: the executed fists/feet classes would be empty.
    with pytest.raises(MissingDataError, match=r"S004 has no run of class\(es\) \['both_fists_executed', 'both_feet_executed'\]"):
        load_eegmmidb(4, "multi_action", data_dir=eegmmidb_root, cache_dir=cache_dir, skip_missing_runs=True)


def test_download_fetches_only_missing_runs(eegmmidb_root, tmp_path, monkeypatch):
    root = _layout(tmp_path, eegmmidb_root, [(1, 4)])
    calls = []

    def fake_load_data(subject, runs, path, update_path, verbose=None):
        calls.append((subject, list(runs), Path(path), update_path))
        _layout(tmp_path, eegmmidb_root, [(subject, r) for r in runs])

    monkeypatch.setattr(mne.datasets.eegbci, "load_data", fake_load_data)
    ds = load_eegmmidb(1, "left_right_imagined", runs=[4, 8], data_dir=root, download=True, cache_dir=False)
    assert calls == [(1, [8], root, False)] and len(ds) == 30


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(subjects=0), "subject.*0.*1..109"),
        (dict(subjects=110), "subject.*110"),
        (dict(subjects=[]), "subjects"),
        (dict(runs=[15]), "run 15"),
        (dict(runs=[0]), "run 0"),
        (dict(runs=[3]), "run 3 is not part of task.*left_right_imagined.*4, 8, 12"),
        (dict(runs=[1]), "run 1 is not part"),
        (dict(task="left_right"), "unknown EEGMMIDB task.*known tasks"),
        (dict(task=["left_right_imagined", "fists_feet_imagined"]), "different class lists.*separate"),
        (dict(task=["multi_action", "left_right_executed"]), "different class lists"),
        (dict(preprocessing=Preprocessing(channels=("C3", "Cx9"))), "channel.*Cx9"),
    ],
)
def test_config_errors(eegmmidb_root, cache_dir, kw, match):
    args = dict(subjects=1, task="left_right_imagined") | kw
    with pytest.raises(ConfigError, match=match):
        load_eegmmidb(args.pop("subjects"), args.pop("task"), data_dir=eegmmidb_root, cache_dir=cache_dir, **args)


def test_load_dataset_dispatch(eegmmidb_root, cache_dir):
    ds = load_dataset("eegmmidb", 2, "left_right_imagined", runs=[4], data_dir=eegmmidb_root, cache_dir=cache_dir)
    assert len(ds) == 15 and ds.subjects == [2]
    with pytest.raises(ConfigError, match="unknown dataset 'bci_iv'.*eegmmidb"):
        load_dataset("bci_iv", 1, "left_right_imagined")


# ----------------------------------------------------------------------------- broken files
def test_truncated_edf(eegmmidb_root, tmp_path):
    root = _layout(tmp_path, eegmmidb_root, [(1, 4)])
    path = eegmmidb.edf_path(root, 1, 4)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(DataError, match="truncated") as e:
        load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=root, cache_dir=False)
    assert str(path) in str(e.value) and str(size) in str(e.value) and str(size // 2) in str(e.value)
    assert "re-download" in str(e.value)
    path.write_bytes(b"not an edf" * 10)
    with pytest.raises(DataError, match="not a valid EDF"):
        load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=root, cache_dir=False)


def test_reader_failure_is_wrapped(eegmmidb_root, tmp_path, monkeypatch):
    root = _layout(tmp_path, eegmmidb_root, [(1, 4)])

    def broken(*a, **k):
        raise RuntimeError("bad annotation block")

    monkeypatch.setattr(mne.io, "read_raw_edf", broken)
    with pytest.raises(DataError, match="S001R04.edf.*bad annotation block"):
        load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=root, cache_dir=False)


def test_missing_channel(eegmmidb_root, tmp_path):
    root = _layout(tmp_path, eegmmidb_root, [(1, 4)])
    path = eegmmidb.edf_path(root, 1, 4)
    _drop_edf_signal(path, "Cz..")
    assert mne.io.read_raw_edf(path, verbose="error").info["nchan"] == 63  # the file itself is valid
    with pytest.raises(DataError, match="channel.*missing.*Cz") as e:
        load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=root, cache_dir=False)
    assert str(path) in str(e.value)
    sub = load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=root, cache_dir=False,
                        preprocessing=Preprocessing(channels=("C3", "C4")))  # fmt: skip
    assert sub.X.shape == (15, 2, 640)


def test_check_finite_direct():
    data = np.zeros((3, 500))
    eegmmidb._check_finite(data, ["C3", "Cz", "C4"], 160.0, "x.edf")
    data[2, 300], data[1, 320] = np.inf, np.nan
    with pytest.raises(DataError, match=r"x\.edf.*channel C4 at t=1\.8750 s.*2 channel"):
        eegmmidb._check_finite(data, ["C3", "Cz", "C4"], 160.0, "x.edf")


def test_nan_samples_through_loader(eegmmidb_root, tmp_path, monkeypatch):
    root = _layout(tmp_path, eegmmidb_root, [(1, 4)])
    real = mne.io.read_raw_edf

    def with_nan(*a, **k):
        raw = real(*a, **k)
        raw._data[10, 320] = np.nan  # row 10 is Cz, 2.0 s into the run
        return raw

    monkeypatch.setattr(mne.io, "read_raw_edf", with_nan)
    with pytest.raises(DataError, match=r"S001R04\.edf.*channel Cz at t=2\.0000 s"):
        load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=root, cache_dir=False)


def test_sfreq_mismatch(eegmmidb_root, tmp_path):
    root = _layout(tmp_path, eegmmidb_root, [(1, 4), (1, 8)])
    path = eegmmidb.edf_path(root, 1, 8)
    b = bytearray(path.read_bytes())
    b[244:252] = b"2       "  # record duration 1 s -> 2 s: 80 Hz instead of 160 Hz
    path.write_bytes(bytes(b))
    with pytest.raises(DataError, match=r"S001R08\.edf.*80\.0 Hz differs from 160\.0 Hz.*resample") as e:
        load_eegmmidb(1, "left_right_imagined", runs=[4, 8], data_dir=root, cache_dir=False,
                      preprocessing=Preprocessing(h_freq=30))  # fmt: skip
    assert "S001R04.edf" in str(e.value)


# ----------------------------------------------------------------------------- cache & preprocessing
def test_cache_roundtrip_reads_no_edf(eegmmidb_root, cache_dir, monkeypatch):
    kw = dict(runs=[4, 8], data_dir=eegmmidb_root, cache_dir=cache_dir)
    msgs = []
    first = load_eegmmidb(3, "left_right_imagined", progress=msgs.append, **kw)
    files = sorted(cache_dir.glob("*.npz"))
    assert len(files) == 2 and all(len(f.stem.split("_")[-1]) == 32 for f in files)
    assert not list(cache_dir.glob("*.tmp")) and any("reading" in m for m in msgs)

    def forbidden(*a, **k):
        raise AssertionError("EDF read despite a warm cache")

    monkeypatch.setattr(mne.io, "read_raw_edf", forbidden)
    msgs.clear()
    second = load_eegmmidb(3, "left_right_imagined", progress=msgs.append, **kw)
    assert second.info["n_read"] == 0 and all("cached" in m for m in msgs) and len(msgs) == 2
    for name in ("X", "y", "subject", "run", "trial", "task", "onset"):
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert first.X.tobytes() == second.X.tobytes()
    assert (first.class_names, first.ch_names, first.sfreq, first.tmin) == (
        second.class_names, second.ch_names, second.sfreq, second.tmin)  # fmt: skip
    monkeypatch.undo()
    monkeypatch.setattr(mne.datasets.eegbci, "load_data", lambda *a, **k: pytest.fail("download"))

    # a changed setting is a new key; a corrupt file is rebuilt; a touched EDF is a new key
    other = load_eegmmidb(3, "left_right_imagined", preprocessing=Preprocessing(h_freq=30), **kw)
    assert other.info["n_read"] == 2 and len(list(cache_dir.glob("*.npz"))) == 4
    files[0].write_bytes(b"garbage")
    again = load_eegmmidb(3, "left_right_imagined", **kw)
    assert again.info["n_read"] == 1 and np.array_equal(again.X, first.X)
    assert np.load(files[0])["X"].shape[0] == 15
    edf = eegmmidb.edf_path(eegmmidb_root, 3, 4)
    key = eegmmidb._cache_path(cache_dir, edf, TASKS["left_right_imagined"].events[4], Preprocessing())
    key_multi = eegmmidb._cache_path(cache_dir, edf, TASKS["multi_action"].events[4], Preprocessing())
    assert key in files and key_multi != key


def test_cache_dir_default_and_disabled(eegmmidb_root, tmp_path, monkeypatch):
    monkeypatch.setenv("JEEG_CACHE_DIR", str(tmp_path / "envcache"))
    ds = load_eegmmidb(5, "left_right_imagined", runs=[12], data_dir=eegmmidb_root)
    assert len(list((tmp_path / "envcache").glob("eegmmidb_S005R12_*.npz"))) == 1
    assert len(ds) == 15
    load_eegmmidb(5, "left_right_imagined", runs=[8], data_dir=eegmmidb_root, cache_dir=False)
    assert len(list((tmp_path / "envcache").glob("*"))) == 1


def test_resample_and_window(eegmmidb_root, cache_dir):
    ds = load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=eegmmidb_root, cache_dir=cache_dir,
                       preprocessing=Preprocessing(h_freq=30, resample=80))  # fmt: skip
    assert ds.X.shape == (15, 64, 320) and ds.sfreq == 80.0 and ds.X.dtype == np.float32
    # a 0-5 s window: the last cue (120.4 s) runs past the end of the 125 s run and is dropped
    ds = load_eegmmidb(1, "left_right_imagined", runs=[4], data_dir=eegmmidb_root, cache_dir=cache_dir,
                       preprocessing=Preprocessing(tmin=-0.5, tmax=5.0))  # fmt: skip
    assert ds.X.shape == (14, 64, 880) and ds.tmin == -0.5 and ds.info["n_dropped"] == 1
    assert ds.info["n_dropped_per_run"] == {"S001R04": 1} and ds.times()[0] == -0.5


def test_channel_subset(eegmmidb_root, cache_dir, lr_all):
    chans = ("C4", "Cz", "C3")
    ds = load_eegmmidb(2, "left_right_executed", data_dir=eegmmidb_root, cache_dir=cache_dir,
                       preprocessing=Preprocessing(channels=chans))  # fmt: skip
    assert ds.ch_names == chans and ds.X.shape == (45, 3, 640)
    full = lr_all.subset((lr_all.subject == 2) & (lr_all.task == "left_right_executed"))
    idx = [full.ch_names.index(c) for c in chans]
    np.testing.assert_allclose(ds.X, full.X[:, idx], rtol=1e-5, atol=1e-4)
