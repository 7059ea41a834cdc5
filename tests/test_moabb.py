"""jeeg.EEGClassifier inside a MOABB evaluation, offline.

MOABB's ``FakeDataset`` generates its recordings in memory, so nothing is downloaded: 3 subjects,
imagined left vs right hand, 20 trials each at 64 Hz, read through ``LeftRightImagery`` (8-30 Hz;
MOABB's arrays are in µV, as jeeg's, by each dataset's ``unit_factor``). ``CrossSubjectEvaluation`` clones each pipeline per held-out subject and
scores it with ROC AUC, as in a published MOABB benchmark.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

moabb = pytest.importorskip("moabb", reason="MOABB is the optional extra jeeg[moabb]")
from moabb.datasets.fake import FakeDataset  # noqa: E402
from moabb.evaluations import CrossSubjectEvaluation  # noqa: E402
from moabb.paradigms import LeftRightImagery  # noqa: E402
from pyriemann.estimation import Covariances  # noqa: E402
from pyriemann.spatialfilters import CSP  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402

from jeeg import EEGClassifier  # noqa: E402


def test_cross_subject_evaluation_scores_jeeg_beside_csp_lda(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    moabb.set_log_level("error")
    dataset = FakeDataset(["left_hand", "right_hand"], n_subjects=3, n_sessions=1, n_runs=1, n_events=20,
                          sfreq=64, duration=60, seed=0)
    paradigm = LeftRightImagery(fmin=8, fmax=30)
    X, y, meta = paradigm.get_data(dataset, subjects=[1])
    assert X.shape == (20, 3, 193) and sorted(set(y)) == ["left_hand", "right_hand"]
    pipelines = {
        "CSP+LDA": make_pipeline(Covariances("oas"), CSP(nfilter=2), LinearDiscriminantAnalysis()),
        "EEGNet (jeeg)": EEGClassifier("eegnet", sfreq=64.0, max_epochs=3, batch_size=16, patience=3),
    }
    evaluation = CrossSubjectEvaluation(paradigm, datasets=[dataset], overwrite=True,
                                        hdf5_path=str(tmp_path / "results"), random_state=0)
    res = evaluation.process(pipelines)
    assert sorted(res["pipeline"].unique()) == ["CSP+LDA", "EEGNet (jeeg)"]
    for name, rows in res.groupby("pipeline"):
        assert sorted(rows["subject"].astype(int)) == [1, 2, 3], name
        assert rows["score"].between(0.0, 1.0).all() and np.isfinite(rows["score"]).all(), name
        assert (rows["samples"] == 40).all() and (rows["n_classes"] == 2).all(), name


def test_jeeg_cv_runs_a_moabb_dataset(tmp_path, monkeypatch, capsys):
    """``jeeg cv --set dataset=moabb:FakeDataset``: MOABB's paradigm reads the trials (µV), jeeg's
    scheme, baselines and statistics run on them, and scores.csv is MOABB's results table."""
    from moabb.analysis.meta_analysis import compute_dataset_statistics

    from jeeg.cli import main
    from jeeg.data import dataset_spec, load_dataset
    from jeeg.data.eegmmidb import Preprocessing

    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    spec = dataset_spec("moabb:FakeDataset")
    assert spec.defaults["subjects"] == tuple(range(1, 11)) and spec.defaults["tmax"] == 3.0
    pre = Preprocessing(l_freq=8.0, h_freq=30.0, tmin=0.0, tmax=2.0, resample=64.0)
    ds = load_dataset("moabb:FakeDataset", [1, 2], "MotorImagery", preprocessing=pre)
    X, y, meta = MotorImagery_data(pre)
    assert 5.0 < ds.X.std() < 50.0  # µV: FakeDataset draws 20 µV noise, filtered here
    np.testing.assert_allclose(ds.X, X, rtol=1e-5, atol=1e-4)  # MOABB's arrays are µV too
    assert list(ds.class_names) == ["fake1", "fake2", "fake3"] and ds.sfreq == 64.0
    assert [ds.class_names[c] for c in ds.y] == list(y) and list(ds.subjects) == [1, 2]
    assert (ds.subject == meta["subject"].to_numpy()).all()
    # a subject's 2 sessions x 2 runs become jeeg's runs 1-4, in MOABB's order
    assert set(ds.run) == {1, 2, 3, 4} and ds.info["runs"]["2/1/1"] == 4
    pairs = list(zip(meta["session"].astype(str), meta["run"].astype(str)))
    assert [ds.info["runs"][f"{s}/{se}/{r}"] for s, (se, r) in zip(meta["subject"], pairs)] == list(ds.run)

    out = tmp_path / "run"
    argv = ["cv", "--set", "dataset=moabb:FakeDataset", "--set", "subjects=1,2,3", "--scheme", "loso",
            "--set", "max_epochs=1", "--set", "baselines=csp_lda", "--set", "resample=80", "--out", str(out)]
    assert main(argv) == 0
    assert "moabb:FakeDataset" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"] == "moabb:FakeDataset" and m["models"] == ["stff_da", "csp_lda"]
    assert m["data"]["sfreq"] == 80.0 and m["data"]["class_names"] == ["fake1", "fake2", "fake3"]
    assert len(m["folds"]) == 6  # 3 held-out subjects x 2 models
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 6 and set(scores["dataset"]) == {"moabb:FakeDataset:MotorImagery"}
    stats = compute_dataset_statistics(scores)
    assert set(stats["pipe1"]) == {"STFF-DA", "CSP+LDA"} and (stats["nsub"] == 3).all()


def MotorImagery_data(pre):
    from moabb.paradigms import MotorImagery

    return MotorImagery(fmin=pre.l_freq, fmax=pre.h_freq, tmin=pre.tmin, tmax=pre.tmax,
                        resample=pre.resample).get_data(FakeDataset(seed=0), subjects=[1, 2])


@pytest.mark.parametrize(("key", "value", "message"), [
    ("dataset", "moabb:FakeDatset", "did you mean 'moabb:FakeDataset'"),
    ("task", "LeftRightImagery", "events fake1, fake2, fake3"),
    ("task", "P300", "not a task of dataset='moabb:FakeDataset'"),
    ("subjects", "1,2,11", "subjects [11] are not subjects of MOABB dataset FakeDataset"),
    ("runs", "1", "MOABB datasets are read whole"),
    ("data_dir", "/data", "set MNE_DATA"),
])
def test_moabb_requests_refused_before_reading(key, value, message, tmp_path, monkeypatch):
    from jeeg.config import make_config
    from jeeg.errors import ConfigError
    from jeeg.validate import validate

    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    values = {"dataset": "moabb:FakeDataset", "subjects": [1, 2, 3], "scheme": "loso", key: value}
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(make_config(values))


@pytest.mark.slow
def test_physionet_mi_through_moabb_matches_jeegs_eegmmidb_reader(eegmmidb_root, monkeypatch):
    """MOABB's PhysionetMI and jeeg's own EEGMMIDB reader on the same files (subject 1, imagined
    left/right fist, runs 4, 8, 12, 8-30 Hz, 0-3 s after the cue): the same 45 trials in the same
    order with the same labels, the same 64 channels in the same order, both in µV at 160 Hz.

    Where they differ, by design: MOABB's window keeps the sample at ``tmax`` (481 samples, jeeg's
    ``[tmin, tmax)`` has 480), and MOABB band-passes with MNE's IIR filter (4th-order Butterworth,
    forward and backward) where jeeg uses MNE's FIR (firwin); the filtered trials correlate at
    0.97, not 1."""
    from jeeg.data import load_dataset
    from jeeg.data.eegmmidb import Preprocessing

    monkeypatch.setenv("MNE_DATA", str(eegmmidb_root))
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")  # the files are there: no prefetch retries
    pre = Preprocessing(l_freq=8.0, h_freq=30.0, tmin=0.0, tmax=3.0)
    mo = load_dataset("moabb:PhysionetMI", [1], "LeftRightImagery", preprocessing=pre)
    je = load_dataset("eegmmidb", [1], "left_right_imagined", data_dir=eegmmidb_root, preprocessing=pre)
    assert len(mo) == len(je) == 45 and mo.sfreq == je.sfreq == 160.0 and mo.tmin == je.tmin == 0.0
    assert mo.ch_names == je.ch_names and len(mo.ch_names) == 64
    assert list(mo.class_names) == ["left_hand", "right_hand"] and list(je.class_names) == ["left_fist", "right_fist"]
    assert (mo.y == je.y).all()  # trial for trial, in the files' order
    assert mo.n_times == 481 and je.n_times == 480
    a, b = mo.X[:, :, :480].ravel(), je.X.ravel()
    assert 0.95 < np.corrcoef(a, b)[0, 1] < 0.999  # the same trials, filtered differently
    assert 0.8 < a.std() / b.std() < 1.25  # both µV
    # MOABB's three runs are jeeg's runs 4, 8 and 12 in order
    assert [int(r) for r in np.unique(je.run)] == [4, 8, 12] and list(np.unique(mo.run)) == [1, 2, 3]
    assert all(len(set(je.run[mo.run == r])) == 1 for r in (1, 2, 3))
