"""jeeg.cross_validate: ``jeeg cv`` on trials in memory (an ``mne.EpochsArray`` here), without a
config file or a dataset name. Synthetic trials; nothing is read from disk."""

from __future__ import annotations

import json
import re

import mne
import numpy as np
import pytest

from jeeg import ConfigError, EpochsDataset, cross_validate
from jeeg.data import dataset_spec, register_dataset
from jeeg.data.spec import memory_spec

SFREQ, N_CHANS, N_TIMES, N_SUBJECTS = 80.0, 6, 80, 4


@pytest.fixture(scope="module")
def epochs():
    rng = np.random.default_rng(1)
    codes = np.tile([1, 2], 10 * N_SUBJECTS)
    X = 10e-6 * rng.standard_normal((len(codes), N_CHANS, N_TIMES))  # V, as MNE keeps EEG
    X[codes == 2, :2] *= 3.0  # class "right": more power on the first two channels (CSP finds it)
    info = mne.create_info([f"E{i}" for i in range(N_CHANS)], SFREQ, "eeg")
    events = np.c_[np.arange(len(codes)) * 100, np.zeros(len(codes), int), codes]
    ep = mne.EpochsArray(X, info, events, tmin=0.5, event_id={"left": 1, "right": 2}, verbose=False)
    return ep, np.repeat(np.arange(1, N_SUBJECTS + 1), 20)


def test_cross_subject_table_from_epochs(epochs, tmp_path):
    ep, subject = epochs
    out = tmp_path / "run"
    m = cross_validate(ep, out, subject=subject, model="eegnet", scheme="loso", max_epochs=1, batch_size=16,
                       baselines=["csp_lda"], alignment="euclidean")
    assert m["dataset"] == "memory" and m["models"] == ["eegnet", "csp_lda"] and m["class_names"] == ["left", "right"]
    assert m["data"]["sfreq"] == SFREQ and m["data"]["tmin"] == 0.5 and m["data"]["n_times"] == N_TIMES
    assert len(m["folds"]) == 2 * N_SUBJECTS  # one held-out subject per fold, two models
    csp = m["aggregate"]["task"]["csp_lda"]["over_subjects"]["balanced_accuracy"]
    assert csp["n"] == N_SUBJECTS and csp["mean"] > 0.85  # the power difference is there to be found
    assert m["statistics"]["task"]["tests"][0]["n_subjects"] == N_SUBJECTS
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["dataset"] == "memory" and saved["l_freq"] is None and saved["tmax"] == pytest.approx(1.5)
    for name in ("metrics.json", "predictions.csv", "scores.csv", "learning_curves.png"):
        assert (out / name).stat().st_size > 0
    with pytest.raises(ConfigError, match="already holds results"):
        cross_validate(ep, out, subject=subject, scheme="loso", max_epochs=1)


@pytest.mark.parametrize(("keys", "message"), [
    ({"l_freq": 8.0}, "l_freq: the memory trials are used as they are"),
    ({"tmax": 1.0}, "tmin/tmax (0.5, 1.0 s; the trials span 0.5..1.5 s)"),
    ({"subjects": [1, 9]}, "subjects [9]: the memory trials hold subjects [1, 2, 3, 4]"),
    ({"dataset": "eegmmidb"}, "the data are the dataset"),
    ({"model": "eegnett"}, "did you mean 'eegnet'"),
])
def test_bad_keys_are_refused_before_anything_is_written(epochs, tmp_path, keys, message):
    ep, subject = epochs
    with pytest.raises(ConfigError, match=re.escape(message)):
        cross_validate(ep, tmp_path / "run", subject=subject, scheme="loso", **keys)
    assert not (tmp_path / "run").exists()


def test_a_registered_dataset_is_a_dataset_of_the_process(epochs):
    ep, subject = epochs
    ds = EpochsDataset.from_epochs(ep, subject=subject)
    spec = register_dataset(memory_spec(ds, "my_lab"))
    assert dataset_spec("my_lab") is spec and spec.defaults["subjects"] == (1, 2, 3, 4)
    assert spec.shape(None) == (N_CHANS, N_TIMES, SFREQ, 2, tuple(ep.ch_names))
    assert len(spec.load([2, 3], "task")) == 40
    with pytest.raises(ConfigError, match="one of jeeg's datasets"):
        register_dataset(memory_spec(ds, "eegmmidb"))
