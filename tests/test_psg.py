"""PSG readers for sleep staging (jeeg.data.psg).

* Real files: the MIT-BIH polysomnographic database (slpdb) headers, stage annotations (``rdann``
  text) and RR intervals in ``../shared/data/slpdb`` (no ``.dat`` signals there). Expected counts were
  made independently with awk over the ``.an`` files (first token of the Aux column).
* Signals: Sleep-EDF / MASS style EDF files written here with ``mne.export.export_raw`` (PSG) and
  ``edfio`` (annotation-only EDF+ hypnograms, as Sleep-EDF's ``*-Hypnogram.edf`` and MASS's
  ``* Base.edf``), and a WFDB record written with ``wfdb.wrsamp`` / ``wfdb.wrann`` in slpdb's layout.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import mne
import numpy as np
import pytest
import wfdb
from edfio import Edf, EdfAnnotation, Recording

from jeeg.data.psg import (
    map_stages,
    read_psg_edf,
    read_rdann_stages,
    read_rr,
    read_slpdb_header,
    read_wfdb_psg,
    stage_code,
)
from jeeg.errors import ConfigError, DataError, MissingDataError

# wfdb 4.3 calls pandas with inplace=True, which pandas 3 deprecates (not jeeg's doing)
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

SLPDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "slpdb"
START = dt.datetime(2020, 1, 1, 22, 0, 0)


@pytest.fixture(scope="module")
def slpdb() -> Path:
    if not SLPDB.is_dir():
        if os.environ.get("JEEG_REQUIRE_DATA") == "1":
            pytest.fail(f"slpdb annotations required (JEEG_REQUIRE_DATA=1) but {SLPDB} is absent")
        pytest.skip(f"real slpdb annotations not found: {SLPDB} is absent (place ../shared beside the repo)")
    return SLPDB


# ------------------------------------------------------------------------------------ real slpdb files
# record -> epochs per stage, counted with awk over <record>.an (first token of the Aux column)
SLPDB_COUNTS = {
    "slp01a": {"W": 7, "1": 1, "2": 105, "3": 47, "4": 66, "R": 13, "MT": 1},
    "slp32": {"W": 394, "1": 27, "2": 159, "3": 43, "4": 17},
    "slp37": {"W": 75, "1": 21, "2": 591, "R": 11},
    "slp67x": {"W": 72, "1": 41, "2": 40, "3": 1},
}
SLPDB_TOTAL = {"W": 3115, "1": 1815, "2": 3887, "3": 483, "4": 181, "R": 700, "MT": 12, "M": 4}


def test_slpdb_stage_counts(slpdb):
    for record, counts in SLPDB_COUNTS.items():
        assert read_rdann_stages(slpdb / f"{record}.an").counts() == counts, record
    total: dict[str, int] = {}
    names = sorted(p.stem for p in slpdb.glob("*.an"))
    assert len(names) == 18
    for name in names:
        ann = read_rdann_stages(slpdb / f"{name}.an")
        for k, v in ann.counts().items():
            total[k] = total.get(k, 0) + v
        # one annotation per 30-s epoch at 250 Hz; the elapsed time agrees with the sample number
        np.testing.assert_allclose(ann.onset, ann.sample / 250.0, atol=1e-3)
        assert set(np.diff(ann.sample)) <= {7499, 7500}
    assert total == SLPDB_TOTAL and sum(total.values()) == 10197


def test_slpdb_annotation_details(slpdb):
    ann = read_rdann_stages(slpdb / "slp01a.an")
    assert ann.record == "slp01a" and len(ann.stage) == 240
    assert ann.sample[:3].tolist() == [1, 7500, 15000]
    assert ann.onset[0] == pytest.approx(0.004) and ann.onset[-1] == pytest.approx(7170.0)
    assert ann.stage[:4].tolist() == ["4", "4", "4", "4"] and ann.aux[0] == "LA LA" and ann.aux[3] == "L L L"
    y, keep, unscored = map_stages(ann.stage, "4class")
    assert unscored == {"MT": 1} and keep.sum() == 239
    assert np.bincount(y[keep], minlength=4).tolist() == [7, 1 + 105, 47 + 66, 13]
    y3, _, _ = map_stages(ann.stage, "3class")
    assert np.bincount(y3[keep], minlength=3).tolist() == [7, 219, 13]


def test_slpdb_headers(slpdb):
    h = read_slpdb_header(slpdb / "slp01a.hea")
    assert (h.record, h.fs, h.n_samples, h.duration_s) == ("slp01a", 250.0, 1800000, 7200.0)
    assert h.sig_name == ("ECG", "BP", "EEG (C4-A1)", "Resp (sum)")
    assert h.units == ("mV", "mmHg", "mV", "l") and h.base_date == "1989-01-19" and h.base_time == "23:07:00"
    # wfdb.rdheader rejects slp32's 2-digit year (20/7/89): the fallback parse reads it
    h32 = read_slpdb_header(slpdb / "slp32")
    assert (h32.fs, h32.n_samples, h32.base_date, h32.base_time) == (250.0, 4800000, "1989-07-20", "01:05:30")
    assert h32.sig_name[2] == "EEG (C4-A1)" and h32.sig_name[-1] == "EMG" and len(h32.units) == 7
    leads = {}
    for p in sorted(slpdb.glob("*.hea")):
        h = read_slpdb_header(p)
        assert h.fs == 250.0
        eeg = [s for s in h.sig_name if s.startswith("EEG")]
        assert len(eeg) == 1, p
        leads[eeg[0]] = leads.get(eeg[0], 0) + 1
    assert leads == {"EEG (C3-O1)": 11, "EEG (C4-A1)": 5, "EEG (O2-A1)": 2}  # as the data README says


def test_slpdb_rr(slpdb):
    rr = read_rr(slpdb / "slp01a.rr")
    assert rr.record == "slp01a" and len(rr.rr) == 7806
    np.testing.assert_allclose(rr.rr[:5], [0.076, 0.860, 0.892, 0.920, 0.896])
    np.testing.assert_allclose(rr.time[:4], [0.0, 0.076, 0.936, 1.828])
    assert rr.beat[0] == "[0]" and set(rr.beat[1:].tolist()) == {"N"} and set(rr.next_beat.tolist()) == {"N"}
    # each interval ends where the next begins, and the series covers the 2-h record
    np.testing.assert_allclose(rr.time[1:], rr.time[:-1] + rr.rr[:-1], atol=1.5e-3)
    assert rr.time[-1] + rr.rr[-1] == pytest.approx(7199.744, abs=1e-3)
    v = read_rr(slpdb / "slp14.rr")  # ectopic beats: 24 intervals start at a V beat (awk count)
    assert len(v.rr) == 22920 and int((v.beat == "V").sum()) == 24 and v.rr.min() > 0


def test_rdann_errors(slpdb, tmp_path):
    text = (slpdb / "slp01a.an").read_text().splitlines()
    text[3] = text[3].replace("\t4 L", "\tN5 L")
    (tmp_path / "bad.an").write_text("\n".join(text))
    with pytest.raises(DataError, match=r"bad\.an.*'N5'.*onset 60 s"):
        read_rdann_stages(tmp_path / "bad.an")
    (tmp_path / "rr.an").write_text((slpdb / "slp01a.rr").read_text())
    with pytest.raises(DataError, match="rdann"):
        read_rdann_stages(tmp_path / "rr.an")
    with pytest.raises(MissingDataError, match="nope.an"):
        read_rdann_stages(tmp_path / "nope.an")


# ------------------------------------------------------------------------------------ stage maps
def test_stage_code_spellings():
    assert [stage_code(t) for t in ("Sleep stage W", "Sleep stage 4", "Sleep stage N3", "Movement time", "R")] == [
        "W", "4", "N3", "MT", "R",
    ]  # fmt: skip
    y, keep, unscored = map_stages(["W", "N1", "2", "N3", "4", "R", "?", "M"], "4class")
    assert y.tolist() == [0, 1, 1, 2, 2, 3, -1, -1] and keep.sum() == 6 and unscored == {"?": 1, "M": 1}
    assert map_stages(["W", "N1", "3", "R"], "3class")[0].tolist() == [0, 1, 1, 2]
    assert map_stages(["W", "1", "N2", "3", "4", "R"], "5class")[0].tolist() == [0, 1, 2, 3, 3, 4]
    with pytest.raises(DataError, match=r"hyp\.edf.*'Sleep stage 5'.*onset 90 s"):
        stage_code("Sleep stage 5", source="hyp.edf", onset=90.0)
    with pytest.raises(ConfigError, match="6class"):
        map_stages(["W"], "6class")


# ------------------------------------------------------------------------------------ EDF fixtures
def _write_psg(path: Path, names, data_uv: np.ndarray, sfreq: float, start=START) -> None:
    types = ["ecg" if n.startswith("ECG") else "eeg" for n in names]
    raw = mne.io.RawArray(data_uv * 1e-6, mne.create_info(list(names), sfreq, types), verbose="error")
    raw.set_meas_date(start.replace(tzinfo=dt.UTC))
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")


def _write_hypnogram(path: Path, annotations, start=START) -> None:
    Edf(
        [], annotations=[EdfAnnotation(o, d, t) for o, d, t in annotations],
        recording=Recording(startdate=start.date()), starttime=start.time(),
    ).write(path)  # fmt: skip


def _signals(n_chans: int, sfreq: float, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sfreq)) / sfreq
    base = [50 * np.sin(2 * np.pi * (3 + 4 * c) * t) + 20 * rng.standard_normal(t.size) for c in range(n_chans)]
    return np.array(base) + 100 * np.arange(n_chans)[:, None]  # µV, distinct offsets


SLEEP_EDF_NAMES = ("EEG Fpz-Cz", "EEG Pz-Oz", "ECG")
SLEEP_EDF_HYP = [  # Sleep-EDF spellings; the last '?' runs past the 360-s signal, as in real hypnograms
    (0, 60, "Sleep stage W"), (60, 30, "Sleep stage 1"), (90, 60, "Sleep stage 2"), (150, 30, "Sleep stage 3"),
    (180, 30, "Sleep stage 4"), (210, 30, "Movement time"), (240, 60, "Sleep stage R"), (300, 30, "Sleep stage ?"),
    (330, 630, "Sleep stage ?"),
]  # fmt: skip


@pytest.fixture(scope="module")
def sleep_edf(tmp_path_factory):
    d = tmp_path_factory.mktemp("sleep-edf")
    data = _signals(3, 100.0, 360.0)
    _write_psg(d / "SC4001E0-PSG.edf", SLEEP_EDF_NAMES, data, 100.0)
    _write_hypnogram(d / "SC4001EC-Hypnogram.edf", SLEEP_EDF_HYP)
    return d / "SC4001E0-PSG.edf", d / "SC4001EC-Hypnogram.edf", data


def test_read_psg_edf_sleep_edf(sleep_edf):
    psg, hyp, data = sleep_edf
    ds = read_psg_edf(psg, hyp, ["EEG Fpz-Cz", "ECG"], subject=4, run=1)
    assert ds.X.shape == (9, 2, 6000) and ds.X.dtype == np.float32 and ds.sfreq == 200.0
    assert ds.ch_names == ("EEG Fpz-Cz", "ECG") and ds.class_names == ("W", "Light", "Deep", "REM")
    assert ds.y.tolist() == [0, 0, 1, 1, 1, 2, 2, 3, 3]
    assert ds.onset.tolist() == [0, 30, 60, 90, 120, 150, 180, 240, 270]
    assert ds.trial.tolist() == [0, 1, 2, 3, 4, 5, 6, 8, 9]  # epoch index in the night (7: MT, 10+: ?)
    assert set(ds.task.tolist()) == {"sleep_4class"} and set(ds.subject.tolist()) == {4} and ds.tmin == 0.0
    assert ds.info["unscored"] == {"MT": 1, "?": 22} and ds.info["n_unscored"] == 23
    assert ds.info["n_epochs_annotated"] == 32 and ds.info["record"] == "SC4001E0-PSG"
    # min-max scaled per epoch and channel, then FFT-resampled 100 -> 200 Hz: the original samples (every
    # 2nd) keep exactly [0, 1]; the interpolated ones ring a little outside it
    orig = ds.X[:, :, ::2]
    np.testing.assert_allclose(orig.min(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(orig.max(axis=-1), 1.0, atol=1e-6)
    ds3 = read_psg_edf(psg, hyp, ["EEG Fpz-Cz"], stages="3class", sfreq=100.0)
    assert ds3.y.tolist() == [0, 0, 1, 1, 1, 1, 1, 2, 2] and ds3.class_names == ("W", "NREM", "REM")
    assert ds3.X.shape == (9, 1, 3000) and set(ds3.task.tolist()) == {"sleep_3class"}
    np.testing.assert_allclose(ds3.X.min(axis=-1), 0.0, atol=1e-6)  # no resampling: exactly [0, 1]
    np.testing.assert_allclose(ds3.X.max(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(ds3.X[:, 0], ds.X[:, 0, ::2], atol=1e-5)
    # unscaled at the native rate: the µV samples of each window
    raw = read_psg_edf(psg, hyp, ["EEG Pz-Oz", "ECG"], scale=None, sfreq=100.0)
    quant = np.ptp(data, axis=1).max() / 65535 + 1e-3
    for i, onset in enumerate(raw.onset):
        s = int(onset * 100)
        np.testing.assert_allclose(raw.X[i], data[1:, s : s + 3000], atol=quant)
    assert raw.info["units"] == {"EEG Pz-Oz": "µV", "ECG": "µV"} and raw.info["scale"] is None


def test_read_psg_edf_bipolar_and_mass(tmp_path):
    """MASS style: C3-A2 from 'EEG C3-CLE' - 'EEG A2-CLE', 256 Hz, AASM labels, Base.edf starting 10 s later."""
    names = ("EEG C3-CLE", "EEG A2-CLE", "ECG ECGI")
    data = _signals(3, 256.0, 240.0, seed=1)
    psg, base = tmp_path / "01-01-0001 PSG.edf", tmp_path / "01-01-0001 Base.edf"
    _write_psg(psg, names, data, 256.0)
    stages = ["Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R",
              "Sleep stage ?", "Sleep stage N2"]  # fmt: skip
    _write_hypnogram(base, [(5 + 30 * i, 30, s) for i, s in enumerate(stages)], start=START + dt.timedelta(seconds=10))
    chans = {"C3-A2": ("EEG C3-CLE", "EEG A2-CLE"), "ECG": "ECG ECGI"}
    ds = read_psg_edf(psg, base, chans, scale=None, sfreq=256.0, dataset="mass")
    assert ds.ch_names == ("C3-A2", "ECG") and ds.X.shape == (6, 2, 7680)
    assert ds.onset.tolist() == [15, 45, 75, 105, 135, 195]  # 5 s after a start 10 s later than the PSG
    assert ds.y.tolist() == [0, 1, 1, 2, 3, 1] and ds.info["unscored"] == {"?": 1}
    assert ds.info["channels"] == {"C3-A2": ["EEG C3-CLE", "EEG A2-CLE"], "ECG": "ECG ECGI"}
    quant = 2 * np.ptp(data, axis=1).max() / 65535 + 1e-3
    for i, onset in enumerate(ds.onset):
        s = round(onset * 256)
        np.testing.assert_allclose(ds.X[i, 0], data[0, s : s + 7680] - data[1, s : s + 7680], atol=quant)
        np.testing.assert_allclose(ds.X[i, 1], data[2, s : s + 7680], atol=quant)
    # the same derivation spelled "A-B" with the full channel names; scaled + resampled to 6000 samples
    ab = read_psg_edf(psg, base, ["EEG C3-CLE-EEG A2-CLE"], stages="5class")
    assert ab.ch_names == ("EEG C3-CLE-EEG A2-CLE",) and ab.X.shape == (6, 1, 6000)
    assert ab.y.tolist() == [0, 1, 2, 3, 4, 2] and ab.info["dataset"] == "edf"


def test_read_psg_edf_rk_20s(tmp_path):
    """R&K 20-s scoring: 30-s windows = epoch +- 5 s, first and last epochs dropped."""
    data = _signals(2, 100.0, 200.0, seed=2)
    psg, hyp = tmp_path / "rk PSG.edf", tmp_path / "rk Base.edf"
    _write_psg(psg, ("EEG C3-CLE", "ECG ECGI"), data, 100.0)
    labels = ["W", "1", "2", "3", "4", "?", "R", "2", "W"]
    _write_hypnogram(hyp, [(10 + 20 * i, 20, f"Sleep stage {s}") for i, s in enumerate(labels)])
    ds = read_psg_edf(psg, hyp, ["EEG C3-CLE"], epoch_len=20.0, scale=None, sfreq=100.0)
    assert ds.tmin == -5.0 and ds.X.shape == (6, 1, 3000) and ds.info["n_edge_dropped"] == 2
    assert ds.onset.tolist() == [30, 50, 70, 90, 130, 150] and ds.y.tolist() == [1, 1, 2, 2, 3, 1]
    assert ds.trial.tolist() == [1, 2, 3, 4, 6, 7] and ds.info["unscored"] == {"?": 1}
    quant = np.ptp(data).max() / 65535 + 1e-3
    np.testing.assert_allclose(ds.X[0, 0], data[0, 2500:5500], atol=quant)  # 25..55 s around the 30..50 s epoch


def test_read_psg_edf_embedded_annotations(tmp_path):
    """hypnogram_path=None: stages from the PSG's own EDF+ annotations."""
    info = mne.create_info(["EEG Fpz-Cz", "ECG"], 100.0, ["eeg", "ecg"])
    raw = mne.io.RawArray(_signals(2, 100.0, 120.0) * 1e-6, info, verbose="error")
    raw.set_meas_date(START.replace(tzinfo=dt.UTC))
    raw.set_annotations(mne.Annotations([0, 30, 60], [30, 30, 60], ["Sleep stage W", "Sleep stage N2", "Sleep stage R"]))
    mne.export.export_raw(tmp_path / "embedded.edf", raw, fmt="edf", verbose="error")
    ds = read_psg_edf(tmp_path / "embedded.edf", None, ["EEG Fpz-Cz"], stages="3class")
    assert ds.y.tolist() == [0, 1, 2, 2] and ds.onset.tolist() == [0, 30, 60, 90] and ds.X.shape == (4, 1, 6000)


def test_read_psg_edf_errors(sleep_edf, tmp_path):
    psg, hyp, _ = sleep_edf
    with pytest.raises(DataError, match=r"SC4001E0-PSG\.edf.*'EEG C4-A1'.*present: EEG Fpz-Cz, EEG Pz-Oz, ECG"):
        read_psg_edf(psg, hyp, ["EEG C4-A1"])
    with pytest.raises(DataError, match=r"'EEG A1'.*present"):
        read_psg_edf(psg, hyp, {"C4-A1": ("EEG Fpz-Cz", "EEG A1")})
    with pytest.raises(DataError, match=r"'EEG' matches several channels"):
        read_psg_edf(psg, hyp, ["EEG"])
    assert read_psg_edf(psg, hyp, ["ECG"], sfreq=100.0).ch_names == ("ECG",)
    past = tmp_path / "past-Hypnogram.edf"
    _write_hypnogram(past, [(0, 300, "Sleep stage W"), (300, 90, "Sleep stage 2")])
    with pytest.raises(DataError, match=r"past-Hypnogram\.edf.*onset 300 s.*lasts 360 s"):
        read_psg_edf(psg, past, ["ECG"])
    unknown = tmp_path / "unknown-Hypnogram.edf"
    _write_hypnogram(unknown, [(0, 60, "Sleep stage W"), (60, 30, "Sleep stage X")])
    with pytest.raises(DataError, match=r"unknown-Hypnogram\.edf.*'Sleep stage X'.*onset 60 s"):
        read_psg_edf(psg, unknown, ["ECG"])
    assert len(read_psg_edf(psg, unknown, ["ECG"], ignore=["Sleep stage X"], sfreq=100.0)) == 2
    odd = tmp_path / "odd-Hypnogram.edf"
    _write_hypnogram(odd, [(0, 45, "Sleep stage W")])
    with pytest.raises(DataError, match=r"45 s, not a multiple"):
        read_psg_edf(psg, odd, ["ECG"])
    with pytest.raises(MissingDataError, match="nothing.edf"):
        read_psg_edf(tmp_path / "nothing.edf", hyp, ["ECG"])
    for bad in ({"stages": "2class"}, {"scale": "zscore"}, {"epoch_len": 25.0}, {"sfreq": 0}):
        with pytest.raises(ConfigError):
            read_psg_edf(psg, hyp, ["ECG"], **bad)


# ------------------------------------------------------------------------------------ WFDB
WFDB_STAGES = ["W", "1 H", "2", "3 OA", "4", "R", "MT", "M", "R", "2 LA"]


@pytest.fixture(scope="module")
def wfdb_record(tmp_path_factory):
    """slpdb-like record slp99b: ECG, BP, EEG (C4-A1), Resp at 250 Hz (mV / mmHg / l), 5 min, 10 epochs."""
    d = tmp_path_factory.mktemp("wfdb")
    rng = np.random.default_rng(3)
    t = np.arange(75000) / 250.0
    sig = np.stack([
        0.8 * np.sin(2 * np.pi * 1.1 * t), 90 + 20 * np.sin(2 * np.pi * 1.1 * t),
        0.05 * np.sin(2 * np.pi * 10 * t) + 0.01 * rng.standard_normal(t.size), np.sin(2 * np.pi * 0.25 * t),
    ], axis=1)  # fmt: skip
    wfdb.wrsamp(
        "slp99b", fs=250, units=["mV", "mmHg", "mV", "l"], sig_name=["ECG", "BP", "EEG (C4-A1)", "Resp (sum)"],
        p_signal=sig, fmt=["16"] * 4, write_dir=str(d),
    )  # fmt: skip
    samples = np.array([1] + [7500 * i for i in range(1, 10)])
    wfdb.wrann("slp99b", "st", samples, symbol=['"'] * 10, aux_note=WFDB_STAGES, write_dir=str(d))
    return d / "slp99b", sig


def test_read_wfdb_psg(wfdb_record):
    rec, sig = wfdb_record
    ds = read_wfdb_psg(rec, ["EEG", "ECG"])
    assert ds.ch_names == ("EEG", "ECG") and ds.X.shape == (8, 2, 6000) and ds.sfreq == 200.0
    assert ds.info["channels"] == {"EEG": "EEG (C4-A1)", "ECG": "ECG"}  # the actual lead behind "EEG"
    assert ds.y.tolist() == [0, 1, 1, 2, 2, 3, 3, 1] and ds.trial.tolist() == [0, 1, 2, 3, 4, 5, 8, 9]
    np.testing.assert_allclose(ds.onset, [0.004, 30, 60, 90, 120, 150, 240, 270])
    assert set(ds.subject.tolist()) == {99} and set(ds.run.tolist()) == {2}  # slp99b: subject 99, night b
    assert ds.info["unscored"] == {"MT": 1, "M": 1} and ds.info["record"] == "slp99b"
    assert float(ds.X.min()) < 0.05 and float(ds.X.max()) > 0.95  # scaled (ringing aside)
    ds3 = read_wfdb_psg(rec, ["ECG"], stages="3class", sfreq=250.0)
    assert ds3.y.tolist() == [0, 1, 1, 1, 1, 2, 2, 1] and ds3.X.shape == (8, 1, 7500)
    np.testing.assert_allclose(ds3.X.min(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(ds3.X.max(axis=-1), 1.0, atol=1e-6)
    raw = read_wfdb_psg(rec, ["EEG (C4-A1)", "BP", "EEG (C4-A1)-ECG"], scale=None, sfreq=250.0, subject=7)
    assert raw.info["units"] == {"EEG (C4-A1)": "µV", "BP": "mmHg", "EEG (C4-A1)-ECG": "µV"}
    assert set(raw.subject.tolist()) == {7}
    s = 15000  # third kept epoch (60 s)
    np.testing.assert_allclose(raw.X[2, 0], sig[s : s + 7500, 2] * 1000, atol=0.02)  # mV -> µV
    np.testing.assert_allclose(raw.X[2, 1], sig[s : s + 7500, 1], atol=0.01)  # mmHg as is
    np.testing.assert_allclose(raw.X[2, 2], (sig[s : s + 7500, 2] - sig[s : s + 7500, 0]) * 1000, atol=0.1)


def test_read_wfdb_psg_errors(wfdb_record, tmp_path):
    rec, _ = wfdb_record
    with pytest.raises(DataError, match=r"slp99b\.hea.*'EOG'.*present: ECG, BP, EEG \(C4-A1\), Resp \(sum\)"):
        read_wfdb_psg(rec, ["EOG"])
    shutil.copy(rec.with_suffix(".dat"), tmp_path / "slp98.dat")
    (tmp_path / "slp98.hea").write_text(rec.with_suffix(".hea").read_text().replace("slp99b", "slp98"))
    wfdb.wrann("slp98", "st", np.array([1, 7500, 75000]), symbol=['"'] * 3, aux_note=["W", "2", "R"],
               write_dir=str(tmp_path))  # fmt: skip
    with pytest.raises(DataError, match=r"slp98\.st.*onset 300 s.*lasts 300 s"):
        read_wfdb_psg(tmp_path / "slp98", ["ECG"])
    wfdb.wrann("slp98", "st", np.array([1, 7500]), symbol=['"'] * 2, aux_note=["W", "N5 OA"], write_dir=str(tmp_path))
    with pytest.raises(DataError, match=r"slp98\.st.*'N5'.*onset 30 s"):
        read_wfdb_psg(tmp_path / "slp98", ["ECG"])
    (tmp_path / "slp98.dat").unlink()
    with pytest.raises(MissingDataError, match="slp98"):
        read_wfdb_psg(tmp_path / "slp98", ["ECG"])
    with pytest.raises(MissingDataError, match=r"slp97\.hea"):
        read_wfdb_psg(tmp_path / "slp97", ["ECG"])
