"""jeeg.EEGClassifier inside a MOABB evaluation, offline.

MOABB's ``FakeDataset`` generates its recordings in memory, so nothing is downloaded: 3 subjects,
imagined left vs right hand, 20 trials each at 64 Hz, read through ``LeftRightImagery`` (8-30 Hz,
MOABB's arrays in V). ``CrossSubjectEvaluation`` clones each pipeline per held-out subject and
scores it with ROC AUC, as in a published MOABB benchmark.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

moabb = pytest.importorskip("moabb", reason="MOABB is the optional extra jeeg[moabb]")
from moabb.datasets.fake import FakeDataset  # noqa: E402
from moabb.evaluations import CrossSubjectEvaluation  # noqa: E402
from moabb.paradigms import LeftRightImagery  # noqa: E402
from pyriemann.estimation import Covariances  # noqa: E402
from pyriemann.spatialfilters import CSP  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from jeeg import EEGClassifier  # noqa: E402


def volts_to_microvolts(X: np.ndarray) -> np.ndarray:
    """MOABB's arrays are in V; jeeg's inputs are in µV."""
    return 1e6 * X


def test_cross_subject_evaluation_scores_jeeg_beside_csp_lda(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    moabb.set_log_level("error")
    dataset = FakeDataset(["left_hand", "right_hand"], n_subjects=3, n_sessions=1, n_runs=1, n_events=20,
                          sfreq=64, duration=60, seed=0)
    paradigm = LeftRightImagery(fmin=8, fmax=30)
    X, y, meta = paradigm.get_data(dataset, subjects=[1])
    assert X.shape == (20, 3, 193) and sorted(set(y)) == ["left_hand", "right_hand"]
    volts_to_uv = FunctionTransformer(volts_to_microvolts)
    pipelines = {
        "CSP+LDA": make_pipeline(Covariances("oas"), CSP(nfilter=2), LinearDiscriminantAnalysis()),
        "EEGNet (jeeg)": make_pipeline(volts_to_uv, EEGClassifier("eegnet", sfreq=64.0, max_epochs=3,
                                                                  batch_size=16, patience=3)),
    }
    evaluation = CrossSubjectEvaluation(paradigm, datasets=[dataset], overwrite=True,
                                        hdf5_path=str(tmp_path / "results"), random_state=0)
    res = evaluation.process(pipelines)
    assert sorted(res["pipeline"].unique()) == ["CSP+LDA", "EEGNet (jeeg)"]
    for name, rows in res.groupby("pipeline"):
        assert sorted(rows["subject"].astype(int)) == [1, 2, 3], name
        assert rows["score"].between(0.0, 1.0).all() and np.isfinite(rows["score"]).all(), name
        assert (rows["samples"] == 40).all() and (rows["n_classes"] == 2).all(), name
