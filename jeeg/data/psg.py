"""Polysomnography (PSG) readers for sleep staging: EDF/EDF+ (Sleep-EDF, MASS) and WFDB (PhysioNet slpdb).

Every reader cuts a whole night into scored epochs the way the EEG→ECG distillation work does
(Joshi et al., arXiv 2112.07252 / 2211.13125, code github.com/acrophase/Sleep_Staging_KD @ e40bcef,
``Dataset_split/*.py``):

* one 30-s window per scored epoch, starting at the stage annotation's onset (an annotation of
  duration k·30 s gives k epochs; WFDB stage annotations have no duration and give one epoch each);
* R&K 20-s scoring (MASS SS2/SS4/SS5, ``epoch_len=20``): the window is the 20-s epoch ± 5 s of
  context (``tmin = -5``), and the first and last epochs of the night are dropped;
* each window is min-max scaled to [0, 1] per channel, **then** FFT-resampled with
  :func:`scipy.signal.resample` to 200 Hz (6000 samples), as in the reference code. FFT resampling
  rings, so after resampling the values overshoot [0, 1] a little; only the samples that coincide
  with the original ones (e.g. every 2nd sample when 100 Hz → 200 Hz) keep the exact range;
* stage labels are mapped to a class scheme (:data:`SCHEMES`); unscored epochs (``?``, ``MT``,
  ``M``) are dropped and counted in ``info["unscored"]``.

Stage spellings accepted (:data:`STAGE_LABELS`): R&K ``W 1 2 3 4 R`` and AASM ``W N1 N2 N3 R``,
each alone (slpdb) or after ``"Sleep stage "`` (Sleep-EDF, MASS), and the unscored ``? MT M`` and
``"Movement time"``. Any other label is an error naming the file, the label and its onset.

Data here: only slpdb's headers, stage annotations (``rdann`` text) and RR intervals are on disk
(``shared/data/slpdb``, see its README §2); Sleep-EDF and MASS signals are not available, so the EDF
and WFDB signal readers are tested on small recordings written in those formats by the tests.
MASS is licence-restricted and never downloaded; Sleep-EDF and slpdb are on PhysioNet (ODC-By 1.0).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import scipy.signal

from jeeg.data.dataset import EpochsDataset
from jeeg.errors import ConfigError, DataError, MissingDataError

WINDOW_S = 30.0  #: s, length of every example window (the 30-s epoch, or a 20-s epoch ± 5 s).
UNSCORED: tuple[str, ...] = ("?", "MT", "M")  #: canonical codes of epochs that carry no stage
RK_STAGES: tuple[str, ...] = ("W", "1", "2", "3", "4", "R", *UNSCORED)
AASM_STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "R", "?")
#: Every accepted annotation text → canonical code (R&K ``1``..``4``, AASM ``N1``..``N3``, ``W``, ``R``, unscored).
STAGE_LABELS: dict[str, str] = {
    **{c: c for c in (*RK_STAGES, *AASM_STAGES)},
    **{f"Sleep stage {c}": c for c in (*RK_STAGES, *AASM_STAGES)},
    "Movement time": "MT",
}
#: Class scheme → (class names, canonical code → class index). §4 uses "4class" and "3class".
SCHEMES: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {
    "4class": (("W", "Light", "Deep", "REM"),
               {"W": 0, "1": 1, "2": 1, "N1": 1, "N2": 1, "3": 2, "4": 2, "N3": 2, "R": 3}),
    "3class": (("W", "NREM", "REM"),
               {"W": 0, "1": 1, "2": 1, "3": 1, "4": 1, "N1": 1, "N2": 1, "N3": 1, "R": 2}),
    "5class": (("W", "N1", "N2", "N3", "REM"),
               {"W": 0, "1": 1, "N1": 1, "2": 2, "N2": 2, "3": 3, "4": 3, "N3": 3, "R": 4}),
}  # fmt: skip
_VOLT = {"V": 1e6, "mV": 1e3, "uV": 1.0, "µV": 1.0, "μV": 1.0, "nV": 1e-3}  # unit → factor to µV

#: A channel request: a name, or (positive, negative) names whose difference is wanted.
ChannelSpec = str | tuple[str, str]


# ------------------------------------------------------------------------------------ stages
def stage_code(label: str, *, source: str = "", onset: float | None = None) -> str:
    """Canonical code (see :data:`STAGE_LABELS`) of a stage annotation text.

    Raises
    ------
    DataError
        Unknown label; the message names ``source`` (file), the label and ``onset`` (s).
    """
    code = STAGE_LABELS.get(str(label).strip())
    if code is None:
        at = f" at onset {onset:g} s" if onset is not None else ""
        raise DataError(
            f"{source or 'annotations'}: unknown sleep-stage label {label!r}{at}; known labels are R&K "
            f"{' '.join(RK_STAGES)}, AASM {' '.join(AASM_STAGES)} (alone or after 'Sleep stage ') and "
            f"'Movement time'. Pass non-stage annotation texts in `ignore`, or fix the hypnogram"
        )
    return code


def _scheme(stages: str) -> tuple[tuple[str, ...], dict[str, int]]:
    if stages not in SCHEMES:
        raise ConfigError(f"unknown stage scheme {stages!r}; use one of {', '.join(map(repr, SCHEMES))}")
    return SCHEMES[stages]


def map_stages(codes: Sequence[str], stages: str = "4class") -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Class indices of canonical stage ``codes`` (shape (n,)) under scheme ``stages``.

    Returns
    -------
    y : ndarray, int32, shape (n,)
        Class index, -1 for unscored epochs.
    keep : ndarray of bool, shape (n,)
        False for unscored epochs (``?``, ``MT``, ``M``).
    unscored : dict
        Count of each unscored code found, e.g. ``{"?": 3, "MT": 1}``.

    Raises
    ------
    ConfigError
        Unknown scheme. DataError: a code that is neither a stage nor unscored.
    """
    _, table = _scheme(stages)
    bad = sorted({c for c in codes if c not in table and c not in UNSCORED})
    if bad:
        raise DataError(f"not canonical stage codes: {bad}; convert annotation texts with stage_code() first")
    y = np.array([table.get(c, -1) for c in codes], dtype=np.int32)
    return y, y >= 0, {c: n for c, n in Counter(c for c in codes if c in UNSCORED).items()}


# ------------------------------------------------------------------------------------ channels
def _resolve(channels, present: Sequence[str], source: str) -> list[tuple[str, str, str | None]]:
    """[(output name, positive channel, negative channel or None)] for the requested channels.

    Each request is an exact channel name; else a signal-type prefix naming exactly one channel
    (``"EEG"`` → ``"EEG (C4-A1)"``); else ``"A-B"`` where A and B are channel names (bipolar
    derivation A − B); a mapping gives output names to names or (A, B) pairs."""
    items = list(channels.items()) if isinstance(channels, Mapping) else [(None, c) for c in channels]
    if isinstance(channels, str) or not items:
        raise ConfigError(f"channels must be a non-empty list of names or a mapping; got {channels!r}")
    have = list(present)
    listing = ", ".join(have)
    out = []
    for name, spec in items:
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            pos, neg = (str(s) for s in spec)
        elif isinstance(spec, str):
            pos, neg = spec, None
        else:
            raise ConfigError(f"channel request {spec!r} must be a name or a (positive, negative) pair of names")
        for ch in (pos, neg):
            if ch is not None and ch not in have and neg is not None:
                raise DataError(f"{source}: channel {ch!r} (of {pos}-{neg}) not in the recording; present: {listing}")
        if neg is None and pos not in have:
            typed = [c for c in have if c.startswith(pos + " ")]
            splits = [(pos[:i], pos[i + 1 :]) for i, ch in enumerate(pos) if ch == "-"]
            pairs = [(a, b) for a, b in splits if a in have and b in have]
            if len(typed) == 1:
                pos = typed[0]
            elif len(typed) > 1:
                raise DataError(f"{source}: {pos!r} matches several channels {typed}; name one exactly")
            elif len(pairs) == 1:
                pos, neg = pairs[0]
            else:
                raise DataError(
                    f"{source}: channel {spec!r} not in the recording (nor a bipolar 'A-B' of two of its channels); "
                    f"present: {listing}. For a derivation of differently named channels pass a mapping, e.g. "
                    f"{{'C3-A2': ('EEG C3-CLE', 'EEG A2-CLE')}}"
                )
        out.append((name or (spec if isinstance(spec, str) else f"{pos}-{neg}"), pos, neg))
    return out


def _derive(data: np.ndarray, names: Sequence[str], plan) -> np.ndarray:
    idx = {n: i for i, n in enumerate(names)}
    return np.stack([data[idx[p]] - (data[idx[n]] if n else 0.0) for _, p, n in plan])


# ------------------------------------------------------------------------------------ epoching
def _check_options(stages, sfreq, scale, epoch_len) -> None:
    _scheme(stages)
    if isinstance(sfreq, bool) or not isinstance(sfreq, (int, float)) or not math.isfinite(sfreq) or sfreq <= 0:
        raise ConfigError(f"sfreq must be a positive number of Hz; got {sfreq!r}")
    if scale not in ("minmax", None):
        raise ConfigError(f"scale must be 'minmax' or None; got {scale!r}")
    if epoch_len not in (30.0, 20.0):
        raise ConfigError(f"epoch_len must be 30 (AASM / 30-s R&K) or 20 (20-s R&K scoring, MASS); got {epoch_len!r}")


def _epochs_from_durations(ann, epoch_len: float, source: str, ignore) -> list[tuple[float, str, float]]:
    """[(epoch onset s, canonical code, annotation onset s)] from (onset, duration, text) triples."""
    out = []
    for onset, dur, text in ann:
        if text in ignore:
            continue
        code = stage_code(text, source=source, onset=onset)
        k = dur / epoch_len
        if code in UNSCORED:
            k = max(1, math.floor(k + 1e-6))
        elif dur <= 0:
            k = 1
        elif abs(k - round(k)) * epoch_len > 0.01:
            raise DataError(
                f"{source}: stage {text!r} at onset {onset:g} s lasts {dur:g} s, not a multiple of the "
                f"{epoch_len:g}-s epoch; pass the scoring epoch length as epoch_len"
            )
        out += [(onset + j * epoch_len, code, onset) for j in range(max(1, round(k)))]
    return out


def _build(data, fs, units, plan, epochs, *, stages, sfreq, scale, epoch_len, source, subject, run, info):
    """EpochsDataset from continuous ``data`` (n_chans, n_samples) at ``fs`` Hz and the epoch list."""
    class_names, _ = _scheme(stages)
    epochs = sorted(epochs)
    codes = [c for _, c, _ in epochs]
    counts = dict(Counter(codes))
    y, keep, unscored = map_stages(codes, stages)
    trial = np.arange(len(epochs), dtype=np.int32)
    context = (WINDOW_S - epoch_len) / 2
    n_edge = 0
    if context > 0 and len(epochs):  # R&K 20 s: the first and last epochs have no full context
        edge = np.zeros(len(epochs), bool)
        edge[[0, -1]] = True
        n_edge = int((edge & keep).sum())
        keep &= ~edge
    n_in, n_out = round(WINDOW_S * fs), round(WINDOW_S * sfreq)
    length = data.shape[1] / fs
    rows = np.flatnonzero(keep)
    starts = np.array([round((epochs[i][0] - context) * fs) for i in rows], dtype=np.int64)
    for i, s in zip(rows, starts):
        if s < 0 or s + n_in > data.shape[1]:
            onset, code, ann_onset = epochs[i]
            raise DataError(
                f"{source}: stage {code!r} annotated at onset {ann_onset:g} s (epoch {onset:g} s, window "
                f"{onset - context:g}..{onset - context + WINDOW_S:g} s) runs past the signal, which lasts "
                f"{length:g} s; the hypnogram does not belong to this recording or the signal is truncated"
            )
    X = np.empty((len(rows), data.shape[0], n_out), np.float32)
    for a in range(0, len(rows), 256):
        w = np.stack([data[:, s : s + n_in] for s in starts[a : a + 256]]).astype(np.float64)
        finite = np.isfinite(w).all(axis=(1, 2))
        if not finite.all():
            bad = epochs[rows[a + int(np.flatnonzero(~finite)[0])]][0]
            raise DataError(f"{source}: non-finite samples in the epoch at {bad:g} s; repair or exclude it")
        if scale == "minmax":
            lo, hi = w.min(axis=-1, keepdims=True), w.max(axis=-1, keepdims=True)
            w = (w - lo) / np.where(hi > lo, hi - lo, 1.0)
        X[a : a + len(w)] = scipy.signal.resample(w, n_out, axis=-1) if n_out != n_in else w
    info = info | {
        "stages": stages, "epoch_len": epoch_len, "window_s": WINDOW_S, "scale": scale, "sfreq_native": fs,
        "units": units,
        "channels": {o: [p, n] if n else p for o, p, n in plan}, "n_epochs_annotated": len(epochs),
        "stage_counts": counts, "unscored": unscored, "n_unscored": sum(unscored.values()),
        "n_edge_dropped": n_edge, "signal_s": length,
    }  # fmt: skip
    n = len(rows)
    return EpochsDataset(
        X=X, y=y[rows], subject=np.full(n, subject, np.int32), run=np.full(n, run, np.int32), trial=trial[rows],
        task=np.full(n, f"sleep_{stages}"), onset=np.array([epochs[i][0] for i in rows], np.float64),
        class_names=class_names, sfreq=float(sfreq), ch_names=tuple(o for o, _, _ in plan), tmin=-context, info=info,
    )  # fmt: skip


def _file(path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingDataError(f"{what} {path} not found; check the path (jeeg never downloads PSG recordings)")
    return path


# ------------------------------------------------------------------------------------ EDF
def _edf_start(path: Path) -> datetime:
    """Start date and time in the EDF header (bytes 168-183, ``dd.mm.yyhh.mm.ss``; yy 85-99 → 19yy)."""
    with open(path, "rb") as f:
        f.seek(168)
        text = f.read(16).decode("ascii", "replace")
    try:
        d, m, y = (int(v) for v in text[:8].split("."))
        hh, mm, ss = (int(v) for v in text[8:].split("."))
        return datetime(y + (1900 if y >= 85 else 2000), m, d, hh, mm, ss)
    except ValueError:
        raise DataError(f"{path}: unreadable EDF start date/time {text!r}; the file is not a valid EDF") from None


def read_psg_edf(
    psg_path, hypnogram_path, channels: Sequence[ChannelSpec] | Mapping[str, ChannelSpec], *,
    stages: str = "4class", sfreq: float = 200.0, scale: str | None = "minmax", epoch_len: float = 30.0,
    subject: int = 1, run: int = 1, ignore: Sequence[str] = (), dataset: str = "edf",
) -> EpochsDataset:  # fmt: skip
    """Scored 30-s epochs of a PSG EDF/EDF+ with its hypnogram (Sleep-EDF, MASS), via MNE.

    Sleep-EDF (Kemp et al. 2000, PhysioNet ``sleep-edfx``): ``*-PSG.edf`` + ``*-Hypnogram.edf``
    (EDF+ annotations ``Sleep stage W/1/2/3/4/R/?``, ``Movement time``, durations k·30 s). MASS
    (O'Reilly et al. 2014, licence-restricted): ``* PSG.edf`` + ``* Base.edf`` (``Sleep stage N1`` …
    in SS1/SS3, R&K 20-s epochs in SS2/SS4/SS5: pass ``epoch_len=20``). MASS ECG is inverted in the
    files; §4 multiplies it by -1 (do that on ``X`` if wanted).

    Parameters
    ----------
    psg_path, hypnogram_path : path-like
        Signal EDF and annotation EDF+; ``hypnogram_path=None`` reads the annotations of ``psg_path``.
        Annotation onsets are shifted by the difference of the two files' header start times (s).
    channels : list or mapping
        Output channels, each an exact channel name; a signal-type prefix that names exactly one
        channel (``"ECG"``); ``"A-B"`` where A and B are channel names (A − B, computed only when
        ``"A-B"`` is not itself a channel); or, in a mapping ``{output name: spec}``, a pair
        ``(A, B)`` for A − B, e.g. ``{"C3-A2": ("EEG C3-CLE", "EEG A2-CLE"), "ECG": "ECG ECGI"}``.
        ``ch_names`` are the requests (or mapping keys), so nights with different leads behind
        ``"EEG"`` concatenate; ``info["channels"]`` gives the channel(s) actually read.
    stages : {"4class", "3class", "5class"}
        Class scheme (:data:`SCHEMES`). ``task`` is ``"sleep_<stages>"``.
    sfreq : float
        Output rate in Hz; each 30-s window becomes ``round(30 * sfreq)`` samples (6000 at 200 Hz).
    scale : {"minmax", None}
        Per window and channel min-max scaling to [0, 1] before resampling; None keeps µV (voltage
        channels; others in their file unit, see ``info["units"]``).
    epoch_len : {30.0, 20.0}
        Scoring epoch length in s; 20 gives 30-s windows = epoch ± 5 s (``tmin = -5``) and drops the
        first and last epochs (counted in ``info["n_edge_dropped"]``).
    subject, run : int
        Stored in every row (subject number, night).
    ignore : sequence of str
        Annotation texts that are not stages (e.g. arousal events) and are skipped.
    dataset : str
        Name stored in ``info["dataset"]``.

    Returns
    -------
    EpochsDataset
        ``X`` float32 (n_epochs, n_chans, round(30 * sfreq)); ``y`` class index; ``trial`` = epoch
        index in the night (0-based, over all annotated epochs); ``onset`` = epoch onset in s from the
        start of the PSG; ``info``: dataset, record, files, stage counts, unscored counts, options.

    Raises
    ------
    MissingDataError
        A file not found. ConfigError: bad ``stages``/``sfreq``/``scale``/``epoch_len``/``channels``.
    DataError
        Unreadable EDF; a channel absent (names file, channel and the channels present); an unknown
        stage label (file, label, onset); a scored duration not a multiple of ``epoch_len``; a scored
        epoch past the end of the signal (file, onset, signal length); non-finite samples; no
        annotations. Unscored epochs past the end are only counted.
    """
    import mne

    _check_options(stages, sfreq, scale, epoch_len)
    psg = _file(psg_path, "PSG file")
    hyp = _file(hypnogram_path, "hypnogram file") if hypnogram_path is not None else psg
    try:
        raw = mne.io.read_raw_edf(psg, preload=False, verbose="error")
        ann = mne.read_annotations(hyp) if hyp != psg else raw.annotations
    except Exception as exc:  # MNE raises many types for a bad file
        raise DataError(f"cannot read {psg} / {hyp} as EDF: {exc}; check that the files are EDF/EDF+") from exc
    plan = _resolve(channels, raw.ch_names, str(psg))
    need = list(dict.fromkeys(c for _, p, n in plan for c in (p, n) if c))
    orig = getattr(raw, "_orig_units", {})
    factor = np.array([1e6 if orig.get(c, "V") in _VOLT else 1.0 for c in need])[:, None]
    data = _derive(raw.get_data(picks=need) * factor, need, plan)
    units = {o: "µV" if orig.get(p, "V") in _VOLT else orig.get(p, "?") for o, p, _ in plan}
    shift = (_edf_start(hyp) - _edf_start(psg)).total_seconds() if hyp != psg else 0.0
    triples = [(float(o) + shift, float(d), str(t)) for o, d, t in zip(ann.onset, ann.duration, ann.description)]
    epochs = _epochs_from_durations(triples, epoch_len, str(hyp), set(ignore))
    if not epochs:
        raise DataError(f"{hyp}: no sleep-stage annotations; pass the hypnogram file as hypnogram_path")
    info = {"dataset": dataset, "record": psg.stem, "files": [str(psg), str(hyp)]}
    return _build(
        data, float(raw.info["sfreq"]), units, plan, epochs, stages=stages, sfreq=sfreq, scale=scale,
        epoch_len=epoch_len, source=str(hyp), subject=subject, run=run, info=info,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ WFDB
@dataclass(frozen=True)
class WFDBHeader:
    """A WFDB record header (``.hea``): record name, ``fs`` (Hz), ``n_samples`` per signal, signal
    names (``"EEG (C4-A1)"``), units, start time/date (ISO strings or None) and comment lines."""

    record: str
    fs: float
    n_samples: int
    sig_name: tuple[str, ...]
    units: tuple[str, ...]
    base_time: str | None
    base_date: str | None
    comments: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


def read_slpdb_header(path) -> WFDBHeader:
    """Read a WFDB header (``.hea``; the ``.dat`` need not exist) with :func:`wfdb.rdheader`.

    Falls back to a plain parse when wfdb rejects it (slpdb ``slp32.hea`` writes its date
    ``20/7/89`` with a 2-digit year, read as 19yy). MIT-BIH polysomnographic database: Ichimaru &
    Moody 1999, PhysioNet ``slpdb`` (250 Hz; ECG, BP, one EEG lead, respiration, …).

    Raises
    ------
    MissingDataError
        No such ``.hea``. DataError: a header neither wfdb nor the fallback can parse (names the file).
    """
    import wfdb

    path = _file(Path(str(path).removesuffix(".hea") + ".hea"), "WFDB header")
    try:
        h = wfdb.rdheader(str(path.with_suffix("")))
        return WFDBHeader(
            h.record_name, float(h.fs), int(h.sig_len), tuple(h.sig_name), tuple(h.units),
            h.base_time.isoformat() if h.base_time else None, h.base_date.isoformat() if h.base_date else None,
            tuple(h.comments or ()),
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - any wfdb failure: fall back to a plain parse
        first_error = exc
    lines = path.read_text(encoding="latin-1").splitlines()
    comments = tuple(ln.lstrip("#").strip() for ln in lines if ln.startswith("#"))
    rows = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    try:
        rec = rows[0]
        n_sig = int(rec[1])
        date = None
        if len(rec) > 5:
            d, m, y = (int(v) for v in rec[5].split("/"))
            date = f"{y + 1900 if y < 100 else y:04d}-{m:02d}-{d:02d}"
        sigs = rows[1 : 1 + n_sig]
        units = tuple(s[2].split("/", 1)[1] if "/" in s[2] else "mV" for s in sigs)
        return WFDBHeader(
            rec[0], float(rec[2].split("/")[0]), int(rec[3]), tuple(" ".join(s[8:]) for s in sigs), units,
            ":".join(f"{float(v):02g}" for v in rec[4].split(":")) if len(rec) > 4 else None, date, comments,
        )  # fmt: skip
    except (IndexError, ValueError) as exc:
        raise DataError(f"{path}: not a readable WFDB header ({first_error}; {exc})") from exc


_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)$")


def _seconds(text: str, source: str, line: int) -> float:
    m = _TIME.match(text.strip())
    if not m:
        raise DataError(f"{source}, line {line}: {text!r} is not an elapsed time [h:]mm:ss.sss")
    parts = [float(p) for p in m.groups() if p is not None]
    return sum(v * 60**i for i, v in enumerate(reversed(parts)))


@dataclass(frozen=True)
class StageAnnotations:
    """Per-epoch sleep-stage annotations of one record.

    ``onset`` float64 (n,) s from the record start; ``sample`` int64 (n,); ``stage`` (n,) canonical
    code (:data:`STAGE_LABELS`); ``aux`` (n,) the rest of the Aux text (slpdb: apnea codes)."""

    record: str
    onset: np.ndarray
    sample: np.ndarray
    stage: np.ndarray
    aux: np.ndarray

    def counts(self) -> dict[str, int]:
        """Epochs per canonical stage code."""
        return dict(Counter(self.stage.tolist()))


def read_rdann_stages(path) -> StageAnnotations:
    """Sleep stages from ``rdann`` text output (slpdb ``.an``: ``Elapsed time  Sample #  Type  Sub
    Chan  Num<TAB>Aux``; the stage is the first token of Aux, one annotation per 30-s epoch).

    Raises
    ------
    MissingDataError
        No such file. DataError: a line that is not rdann output, an empty Aux, or an unknown stage
        (names the file, the label and its onset).
    """
    path = _file(path, "rdann annotation file")
    lines = path.read_text(encoding="latin-1").splitlines()
    if not lines or not lines[0].startswith("Elapsed time"):
        raise DataError(f"{path}: no 'Elapsed time  Sample #  Type ...' header; expected `rdann` text output")
    row = re.compile(r"^\s*(\S+)\s+(\d+)\s+\S+\s+-?\d+\s+\d+\s+-?\d+\t?(.*)$")
    onset, sample, stage, aux = [], [], [], []
    for n, ln in enumerate(lines[1:], start=2):
        if not ln.strip():
            continue
        m = row.match(ln)
        if not m:
            raise DataError(f"{path}, line {n}: not an rdann annotation line: {ln!r}")
        t = _seconds(m.group(1), str(path), n)
        tokens = m.group(3).split()
        if not tokens:
            raise DataError(f"{path}, line {n}: no stage in the Aux column at onset {t:g} s")
        onset.append(t)
        sample.append(int(m.group(2)))
        stage.append(stage_code(tokens[0], source=str(path), onset=t))
        aux.append(" ".join(tokens[1:]))
    return StageAnnotations(
        path.stem, np.array(onset, np.float64), np.array(sample, np.int64), np.array(stage, dtype=str),
        np.array(aux, dtype=str),
    )  # fmt: skip


@dataclass(frozen=True)
class RRSeries:
    """Beat-to-beat intervals: ``time`` float64 (n,) s of the interval's first beat, ``rr`` float64
    (n,) s, ``beat`` / ``next_beat`` (n,) annotation codes of its two beats (``N``, ``V``, ``S``, …;
    ``[0]`` marks the record start)."""

    record: str
    time: np.ndarray
    rr: np.ndarray
    beat: np.ndarray
    next_beat: np.ndarray


def read_rr(path) -> RRSeries:
    """RR intervals from ``ann2rr``-style text (slpdb ``.rr``: time, beat, RR s, next beat, next time; tab-separated).

    Raises
    ------
    MissingDataError
        No such file. DataError: a line without 5 tab-separated fields or with unreadable numbers (names file and line).
    """
    path = _file(path, "RR interval file")
    time, rr, beat, nxt = [], [], [], []
    for n, ln in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not ln.strip():
            continue
        f = ln.split("\t")
        try:
            if len(f) != 5:
                raise ValueError(f"{len(f)} fields")
            time.append(_seconds(f[0], str(path), n))
            rr.append(float(f[2]))
        except ValueError as exc:
            raise DataError(f"{path}, line {n}: not 'time<TAB>beat<TAB>rr<TAB>beat<TAB>time' ({exc}): {ln!r}") from None
        beat.append(f[1].strip())
        nxt.append(f[3].strip())
    return RRSeries(path.stem, np.array(time), np.array(rr), np.array(beat, dtype=str), np.array(nxt, dtype=str))


def read_wfdb_psg(
    record_path, channels: Sequence[ChannelSpec] | Mapping[str, ChannelSpec], *,
    stages: str = "4class", sfreq: float = 200.0, scale: str | None = "minmax", epoch_len: float = 30.0,
    extension: str = "st", subject: int | None = None, run: int | None = None, dataset: str = "wfdb",
) -> EpochsDataset:  # fmt: skip
    """Scored epochs of a WFDB PSG record (MIT-BIH polysomnographic layout, PhysioNet slpdb), via ``wfdb``.

    Signals from ``wfdb.rdrecord`` (physical units; mV/V converted to µV), stages from
    ``wfdb.rdann(record, extension)``: one epoch of ``epoch_len`` s per annotation, starting at its
    sample (slpdb's first one is at sample 1), stage = first token of ``aux_note`` (further tokens
    are apnea codes). Parameters, returns and raises as :func:`read_psg_edf`, plus:

    Parameters
    ----------
    record_path : path-like
        Record path without extension (``.../slp01a``); ``.hea``, the signal file and the
        annotation file must be there.
    channels : list or mapping
        As in :func:`read_psg_edf`; signal names look like ``"EEG (C4-A1)"``, ``"ECG"``; ``"EEG"``
        picks the single EEG lead.
    subject, run : int, optional
        Default: from a slpdb record name ``slpNN[a|b]`` (subject NN, run 2 for ``b``, else 1), else 1.

    Raises
    ------
    MissingDataError
        Header, signal (``.dat``) or annotation file absent (``shared/data/slpdb`` has no ``.dat``).
    """
    import wfdb

    _check_options(stages, sfreq, scale, epoch_len)
    base = Path(str(record_path).removesuffix(".hea")).expanduser()
    header = read_slpdb_header(base)
    _file(base.with_name(f"{base.name}.{extension}"), f"stage annotation file (.{extension})")
    plan = _resolve(channels, header.sig_name, str(base) + ".hea")
    need = list(dict.fromkeys(c for _, p, n in plan for c in (p, n) if c))
    try:
        rec = wfdb.rdrecord(str(base), channel_names=need, physical=True)
    except FileNotFoundError as exc:
        raise MissingDataError(
            f"signal file of WFDB record {base} not found ({exc}); the .dat files hold the signals (not in shared/data)"
        ) from exc
    except Exception as exc:
        raise DataError(f"cannot read WFDB record {base}: {exc}") from exc
    factor = np.array([_VOLT.get(u, 1.0) for u in rec.units])[:, None]
    data = _derive(rec.p_signal.T * factor, list(rec.sig_name), plan)
    unit_of = dict(zip(rec.sig_name, rec.units))
    units = {o: "µV" if unit_of[p] in _VOLT else unit_of[p] for o, p, _ in plan}
    ann = wfdb.rdann(str(base), extension)
    src = f"{base}.{extension}"
    epochs = []
    for s, aux in zip(ann.sample, ann.aux_note or [""] * len(ann.sample)):
        onset = float(s) / rec.fs
        tokens = str(aux).replace("\x00", " ").split()
        epochs.append((onset, stage_code(tokens[0] if tokens else "", source=src, onset=onset), onset))
    if not epochs:
        raise DataError(f"{src}: no stage annotations")
    m = re.fullmatch(r"slp(\d+)([a-z]?)", base.name)
    info = {"dataset": dataset, "record": base.name, "files": [f"{base}.hea", src], "header_comments": header.comments}
    return _build(
        data, float(rec.fs), units, plan, epochs, stages=stages, sfreq=sfreq, scale=scale, epoch_len=epoch_len,
        source=src, info=info,
        subject=subject if subject is not None else int(m.group(1)) if m else 1,
        run=run if run is not None else (2 if m and m.group(2) == "b" else 1),
    )  # fmt: skip


__all__ = [
    "AASM_STAGES", "RK_STAGES", "SCHEMES", "STAGE_LABELS", "UNSCORED", "WINDOW_S",
    "RRSeries", "StageAnnotations", "WFDBHeader",
    "map_stages", "read_psg_edf", "read_rdann_stages", "read_rr", "read_slpdb_header", "read_wfdb_psg", "stage_code",
]  # fmt: skip
