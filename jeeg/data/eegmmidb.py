"""PhysioNet EEG Motor Movement/Imagery Dataset (EEGMMIDB, "eegbci") as :class:`EpochsDataset`.

109 subjects, 64-channel EEG at 160 Hz recorded with BCI2000 (Schalk et al. 2004, IEEE TBME
51(6):1034-1043), distributed by PhysioNet (Goldberger et al. 2000, Circulation 101(23):e215-e220).
Runs 3-14 hold cued trials: annotation T1/T2 marks the cue. T0 marks the rest between cues; only
the control task ``run_type_rest`` uses it (rest periods labelled by the kind of run they are in).

Files are read from MNE's layout ``<data_dir>/MNE-eegbci-data/files/eegmmidb/1.0.0/SNNN/SNNNRrr.edf``.
Nothing is downloaded unless ``download=True``. Each (subject, run) is checked (EDF size, channels,
finite samples), filtered, epoched and cached as ``.npz`` keyed by a sha256 of everything it depends on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import mne
import numpy as np

from jeeg.data.dataset import EpochsDataset
from jeeg.data.spec import DataShape, DatasetSpec, n_samples
from jeeg.errors import ConfigError, DataError, MissingDataError

EEGBCI_SUBDIR = Path("MNE-eegbci-data") / "files" / "eegmmidb" / "1.0.0"
N_SUBJECTS = 109
CACHE_VERSION = 1
SOURCE = (
    "Schalk et al. 2004, BCI2000, IEEE TBME 51(6):1034-1043; "
    "Goldberger et al. 2000, PhysioNet, Circulation 101(23):e215-e220"
)
# The 64 EEG channels in the order of the files, spelled as after mne.datasets.eegbci.standardize.
CHANNELS: tuple[str, ...] = tuple(
    "FC5 FC3 FC1 FCz FC2 FC4 FC6 C5 C3 C1 Cz C2 C4 C6 CP5 CP3 CP1 CPz CP2 CP4 CP6 Fp1 Fpz Fp2 AF7 AF3 "
    "AFz AF4 AF8 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FT8 T7 T8 T9 T10 TP7 TP8 P7 P5 P3 P1 Pz P2 P4 P6 P8 "
    "PO7 PO3 POz PO4 PO8 O1 Oz O2 Iz".split()
)


@dataclass(frozen=True)
class Task:
    """A decoding task: its runs, its class names and, per run, the cue annotation -> class map."""

    runs: tuple[int, ...]
    classes: tuple[str, ...]
    events: dict[int, dict[str, str]]


def _task(classes: tuple[str, ...], *groups: tuple[tuple[int, ...], dict[str, str], str]) -> Task:
    """Task from (runs, T1/T2 -> action, class-name suffix) groups."""
    events = {r: {k: a + sfx for k, a in m.items()} for runs, m, sfx in groups for r in runs}
    return Task(runs=tuple(sorted(events)), classes=classes, events=events)


_LR, _FF = {"T1": "left_fist", "T2": "right_fist"}, {"T1": "both_fists", "T2": "both_feet"}
_ACTIONS = ("left_fist", "right_fist", "both_fists", "both_feet")


#: Task name -> :class:`Task`. Runs 3/7/11 executed and 4/8/12 imagined left (T1) / right (T2) fist;
#: runs 5/9/13 executed and 6/10/14 imagined both fists (T1) / both feet (T2) (Schalk et al. 2004).
TASKS: dict[str, Task] = {
    "left_right_executed": _task(("left_fist", "right_fist"), ((3, 7, 11), _LR, "")),
    "left_right_imagined": _task(("left_fist", "right_fist"), ((4, 8, 12), _LR, "")),
    "fists_feet_executed": _task(("both_fists", "both_feet"), ((5, 9, 13), _FF, "")),
    "fists_feet_imagined": _task(("both_fists", "both_feet"), ((6, 10, 14), _FF, "")),
    "multi_action": _task(
        tuple(f"{a}_executed" for a in _ACTIONS) + tuple(f"{a}_imagined" for a in _ACTIONS),
        ((3, 7, 11), _LR, "_executed"),
        ((5, 9, 13), _FF, "_executed"),
        ((4, 8, 12), _LR, "_imagined"),
        ((6, 10, 14), _FF, "_imagined"),
    ),
    # A control, not a decoding task: the rest periods (T0) of each run, labelled by the run's kind.
    # Rest holds no cue, so accuracy above chance here measures what separates runs rather than
    # movements (drift, fatigue, the subject's set for the run), which ``multi_action`` can exploit
    # because its classes come from different runs (experiments/eegmmidb_run_confound.py).
    "run_type_rest": _task(
        ("left_right_executed", "fists_feet_executed", "left_right_imagined", "fists_feet_imagined"),
        ((3, 7, 11), {"T0": "left_right_executed"}, ""),
        ((5, 9, 13), {"T0": "fists_feet_executed"}, ""),
        ((4, 8, 12), {"T0": "left_right_imagined"}, ""),
        ((6, 10, 14), {"T0": "fists_feet_imagined"}, ""),
    ),
}


def _num(name: str, value, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"Preprocessing.{name} must be a number{' or None' if optional else ''}; got {value!r}")
    if not math.isfinite(float(value)):
        raise ConfigError(f"Preprocessing.{name} must be finite; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Preprocessing:
    """Per-run preprocessing applied before epoching.

    Attributes
    ----------
    l_freq, h_freq : float or None
        FIR band-pass edges in Hz (``raw.filter(l_freq, h_freq, method="fir", fir_design="firwin")``
        on the continuous run); None leaves that side open. Defaults 4-40 Hz.
    tmin, tmax : float
        Epoch window ``[tmin, tmax)`` in s relative to the cue; ``n_times = round((tmax - tmin) * sfreq)``
        (640 at 160 Hz for the default 0-4 s).
    resample : float or None
        New sampling frequency in Hz (``raw.resample`` after filtering); None keeps the file's.
    channels : tuple of str or None
        Channel subset in standard 10-05 names (e.g. ``("C3", "Cz", "C4")``); None keeps all 64.

    Raises
    ------
    ConfigError
        On non-numeric or non-positive frequencies, ``l_freq >= h_freq``, ``h_freq`` at or above the
        Nyquist frequency of ``resample``, ``tmax <= tmin``, or a malformed channel list.
    """

    l_freq: float | None = 4.0
    h_freq: float | None = 40.0
    tmin: float = 0.0
    tmax: float = 4.0
    resample: float | None = None
    channels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("l_freq", "h_freq", "tmin", "tmax", "resample"):
            object.__setattr__(self, name, _num(name, getattr(self, name), optional=name not in ("tmin", "tmax")))
        for name in ("l_freq", "h_freq", "resample"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"Preprocessing.{name} must be > 0 Hz (or None); got {getattr(self, name)}")
        if self.l_freq is not None and self.h_freq is not None and self.l_freq >= self.h_freq:
            raise ConfigError(f"Preprocessing.l_freq ({self.l_freq} Hz) must be below h_freq ({self.h_freq} Hz)")
        if self.resample is not None and self.h_freq is not None and self.h_freq >= self.resample / 2:
            raise ConfigError(
                f"Preprocessing.h_freq ({self.h_freq} Hz) must be below the Nyquist frequency "
                f"({self.resample / 2} Hz) of resample={self.resample} Hz"
            )
        if self.tmax <= self.tmin:
            raise ConfigError(f"Preprocessing.tmax ({self.tmax} s) must be greater than tmin ({self.tmin} s)")
        if self.channels is not None:
            chans = (self.channels,) if isinstance(self.channels, str) else tuple(self.channels)
            if not chans or not all(isinstance(c, str) for c in chans) or len(set(chans)) != len(chans):
                raise ConfigError(f"Preprocessing.channels must be distinct channel names; got {self.channels!r}")
            object.__setattr__(self, "channels", chans)

    def to_dict(self) -> dict:
        """Settings as a JSON-serialisable dict with a fixed key order (used in cache keys)."""
        d = asdict(self)
        d["channels"] = None if self.channels is None else list(self.channels)
        return d


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Folder that holds (or will hold) ``MNE-eegbci-data/``, as MNE's eegbci loader lays it out.

    Parameters
    ----------
    data_dir : path-like, optional
        Used if given; else ``$MNE_DATA``, else MNE's ``MNE_DATA`` config value, else ``~/mne_data``.

    Returns
    -------
    Path
        Absolute, user-expanded folder (it need not exist).
    """
    if data_dir is None:
        data_dir = os.environ.get("MNE_DATA") or mne.get_config("MNE_DATA") or "~/mne_data"
    return Path(data_dir).expanduser().absolute()


def edf_path(root: Path, subject: int, run: int) -> Path:
    """``root/MNE-eegbci-data/files/eegmmidb/1.0.0/SNNN/SNNNRrr.edf``, one run's EDF (160 Hz, 64 EEG
    channels; Schalk et al. 2004 via PhysioNet), ``root`` as from :func:`resolve_data_dir`."""
    return root / EEGBCI_SUBDIR / f"S{subject:03d}" / f"S{subject:03d}R{run:02d}.edf"


@functools.cache
def _montage() -> mne.channels.DigMontage:
    """MNE's template 10-05 montage ("standard_1005", renamed "colin27_1005" in MNE 1.13)."""
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    return mne.channels.make_standard_montage(name)


# ------------------------------------------------------------------------------------- checks
def _check_edf_size(path: Path) -> None:
    """Raise DataError if the EDF header is unreadable or the file is shorter than it declares."""
    actual = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        try:
            n_records, ns = int(head[236:244].decode("ascii")), int(head[252:256].decode("ascii"))
            f.seek(256 + ns * 216)  # signal header fields before "n samples": 16+80+8*5+80 bytes each
            samples = [int(f.read(8).decode("ascii")) for _ in range(ns)]
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not a valid EDF file (unreadable header: {e}); re-download it") from e
    expected = 256 + 256 * ns + n_records * sum(samples) * 2
    if n_records >= 0 and actual < expected:
        raise DataError(
            f"{path}: EDF file is truncated: its header declares {expected} bytes "
            f"({n_records} records) but the file has {actual} bytes; delete it and re-download it "
            f"(load with download=True / --download, or ../shared/data/prepare.sh)"
        )


def _check_finite(data: np.ndarray, ch_names, sfreq: float, path) -> None:
    """Raise DataError naming file, channel and time (s) of the first NaN/Inf sample.

    ``data`` has shape (n_chans, n_times); ``ch_names`` names its rows; ``sfreq`` in Hz."""
    bad = ~np.isfinite(data)
    if bad.any():
        t = int(np.argmax(bad.any(axis=0)))
        chans = [ch_names[i] for i in np.flatnonzero(bad[:, t])]
        raise DataError(
            f"{path}: non-finite sample (NaN/Inf) in channel {chans[0]} at t={t / sfreq:.4f} s "
            f"({int(bad.any(axis=1).sum())} channel(s) affected, first at that time: {', '.join(chans)})"
        )


# ------------------------------------------------------------------------------------- one run
def _epoch_run(path: Path, events_map: dict[str, str], prep: Preprocessing, channels: tuple[str, ...]) -> dict:
    """Read, check, filter and epoch one run. Returns X (n_trials, n_chans, n_times) float32 µV,
    labels (class names), onset (s), sfreq (Hz), tmin (s), ch_names and n_dropped."""
    _check_edf_size(path)
    try:
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        mne.datasets.eegbci.standardize(raw)
    except Exception as e:  # noqa: BLE001 - any reader failure is a data problem with this file
        raise DataError(f"{path}: MNE could not read this EDF file ({type(e).__name__}: {e}); re-download it") from e
    if missing := [c for c in channels if c not in raw.ch_names]:
        raise DataError(f"{path}: channel(s) missing from the file: {', '.join(missing)}")
    raw.pick(list(channels), verbose="error")
    raw.reorder_channels(list(channels))
    _check_finite(raw.get_data(), raw.ch_names, raw.info["sfreq"], path)
    raw.set_montage(_montage(), verbose="error")
    if prep.h_freq is not None and prep.h_freq >= raw.info["sfreq"] / 2:
        raise ConfigError(
            f"Preprocessing.h_freq ({prep.h_freq} Hz) must be below the Nyquist frequency "
            f"({raw.info['sfreq'] / 2} Hz) of {path}"
        )
    if prep.l_freq is not None or prep.h_freq is not None:
        raw.filter(prep.l_freq, prep.h_freq, method="fir", fir_design="firwin", verbose="error")
    if prep.resample is not None:
        raw.resample(prep.resample, verbose="error")
    sfreq = float(raw.info["sfreq"])
    n_times, start = round((prep.tmax - prep.tmin) * sfreq), round(prep.tmin * sfreq)
    if n_times < 1:
        raise ConfigError(f"epoch window {prep.tmin}-{prep.tmax} s holds no sample at {sfreq} Hz")
    codes = {desc: i + 1 for i, desc in enumerate(sorted(events_map))}
    try:
        events, _ = mne.events_from_annotations(raw, event_id=codes, verbose="error")
    except ValueError as e:
        raise DataError(f"{path}: no {'/'.join(sorted(codes))} cue annotations in this run") from e
    rel = events[:, 0] - raw.first_samp
    inside = (rel + start >= 0) & (rel + start + n_times <= raw.n_times)
    events = events[inside]
    X = np.zeros((0, len(channels), n_times))
    if len(events):
        epochs = mne.Epochs(
            raw, events, codes, tmin=start / sfreq, tmax=(start + n_times - 1) / sfreq,
            baseline=None, preload=True, reject_by_annotation=False, verbose="error",
        )  # fmt: skip
        X = epochs.get_data(copy=False)[:, :, :n_times]
    if X.shape != (len(events), len(channels), n_times):
        raise DataError(f"{path}: epoching gave shape {X.shape}, expected {(len(events), len(channels), n_times)}")
    names = {code: events_map[desc] for desc, code in codes.items()}
    return {
        "X": (X * 1e6).astype(np.float32),
        "labels": np.array([names[c] for c in events[:, 2]], dtype=str),
        "onset": (events[:, 0] - raw.first_samp) / sfreq,
        "sfreq": np.float64(sfreq),
        "tmin": np.float64(start / sfreq),
        "ch_names": np.array(channels, dtype=str),
        "n_dropped": np.int64((~inside).sum()),
    }


# ------------------------------------------------------------------------------------- cache
def _cache_path(cache_dir: Path, edf: Path, events_map: dict, prep: Preprocessing) -> Path:
    """``cache_dir/eegmmidb_SnnnRnn_<sha256>.npz``; the hash covers everything the epochs depend on."""
    st, subject, run = edf.stat(), int(edf.stem[1:4]), int(edf.stem[5:7])
    key = {
        "version": CACHE_VERSION, "dataset": "eegmmidb", "subject": subject, "run": run,
        "events": events_map, "preprocessing": prep.to_dict(),
        "edf_size": st.st_size, "edf_mtime_ns": st.st_mtime_ns, "mne": mne.__version__,
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir / f"eegmmidb_S{subject:03d}R{run:02d}_{digest[:32]}.npz"


_CACHE_KEYS = ("X", "labels", "onset", "sfreq", "tmin", "ch_names", "n_dropped")


def _read_cache(path: Path) -> dict | None:
    """The cached arrays, or None if absent or unreadable (a corrupt file is then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in _CACHE_KEYS}
        ok = out["X"].ndim == 3 and len(out["X"]) == len(out["labels"]) == len(out["onset"])
        return out if ok else None
    except Exception:  # noqa: BLE001 - missing, truncated or foreign file: rebuild
        return None


def _write_cache(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------- loader
def _as_ints(values, what: str) -> list[int]:
    values = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ConfigError(f"{what} must be a non-empty list of integers; got {values!r}")
    return sorted({int(v) for v in values})


def _resolve_tasks(task: str | Iterable[str]) -> list[str]:
    names = list(dict.fromkeys([task] if isinstance(task, str) else task))
    unknown = [t for t in names if t not in TASKS]
    if not names or unknown:
        raise ConfigError(f"unknown EEGMMIDB task(s) {unknown or names!r}; known tasks: {', '.join(TASKS)}")
    classes = {t: TASKS[t].classes for t in names}
    if len(set(classes.values())) > 1:
        listing = "; ".join(f"{t}: {', '.join(c)}" for t, c in classes.items())
        raise ConfigError(
            f"tasks {', '.join(names)} have different class lists ({listing}); only tasks with identical "
            f"classes can be loaded together: load them in separate runs"
        )
    return names


def _ensure_present(root: Path, pairs: list[tuple[int, int]], download: bool, say) -> None:
    """Raise MissingDataError listing every absent (subject, run), or download them if allowed."""
    missing: dict[int, list[int]] = {}
    for s, r in pairs:
        if not edf_path(root, s, r).is_file():
            missing.setdefault(s, []).append(r)
    if missing and not download:
        lines = "\n".join(
            f"  S{s:03d}: runs {', '.join(map(str, rs))} ({', '.join(f'S{s:03d}R{r:02d}.edf' for r in rs)})"
            for s, rs in missing.items()
        )
        raise MissingDataError(
            f"{sum(map(len, missing.values()))} EEGMMIDB run(s) not found under {root / EEGBCI_SUBDIR}:\n"
            f"{lines}\nPass download=True (CLI: --download) to fetch them from PhysioNet, or put the EDF "
            f"files there (e.g. with ../shared/data/prepare.sh {root})."
        )
    for s, rs in missing.items():  # download=True: only now may MNE's downloader run
        say(f"S{s:03d}: downloading runs {rs} into {root}")
        try:
            mne.datasets.eegbci.load_data(s, rs, path=root, update_path=False, verbose="error")
        except Exception as e:  # noqa: BLE001
            raise MissingDataError(f"downloading EEGMMIDB S{s:03d} runs {rs} into {root} failed: {e}") from e
        if still := [r for r in rs if not edf_path(root, s, r).is_file()]:
            raise MissingDataError(f"download of S{s:03d} runs {still} left no file under {root / EEGBCI_SUBDIR}")


def _run_arrays(path: Path, events_map, prep: Preprocessing, channels, cache: Path | None, say) -> tuple[dict, bool]:
    """One run's epoch arrays from the cache, else from the EDF (then cached). Returns (arrays, read)."""
    cpath = _cache_path(cache, path, events_map, prep) if cache else None
    arrays = _read_cache(cpath) if cpath else None
    if arrays is not None:
        say(f"{path.stem}: cached {cpath.name}")
        return arrays, False
    say(f"{path.stem}: reading {path}")
    arrays = _epoch_run(path, events_map, prep, channels)
    if cpath:
        try:
            _write_cache(cpath, arrays)
        except OSError as e:
            warnings.warn(f"could not write epochs cache {cpath}: {e}", stacklevel=3)
    return arrays, True


def check_request(subjects, task, runs=None, preprocessing: Preprocessing = Preprocessing()):
    """The checks :func:`load_eegmmidb` makes before it looks for any file (also run by
    :func:`jeeg.validate.validate` before ``jeeg cv`` reads data).

    Returns
    -------
    tuple
        ``(task names, subjects as ints, {task: its runs}, channel names)``.

    Raises
    ------
    ConfigError
        Unknown task or subject, a run outside 1..14 or not in the tasks, tasks with different
        classes, an unknown channel name.
    """
    names = _resolve_tasks(task)
    subjects = _as_ints(subjects, "subjects")
    if bad := [s for s in subjects if not 1 <= s <= N_SUBJECTS]:
        raise ConfigError(f"unknown EEGMMIDB subject(s) {bad}: subjects are numbered 1..{N_SUBJECTS}")
    plan = {t: TASKS[t].runs for t in names}
    if runs is not None:
        wanted = _as_ints(runs, "runs")
        for r in wanted:
            if not 1 <= r <= 14:
                raise ConfigError(f"run {r} does not exist: EEGMMIDB runs are numbered 1..14")
            if not any(r in rs for rs in plan.values()):
                owners = "; ".join(f"{t}: runs {', '.join(map(str, rs))}" for t, rs in plan.items())
                raise ConfigError(f"run {r} is not part of task(s) {', '.join(names)} ({owners})")
        plan = {t: tuple(r for r in rs if r in wanted) for t, rs in plan.items()}
    channels = CHANNELS if preprocessing.channels is None else preprocessing.channels
    if unknown := [c for c in channels if c not in CHANNELS]:
        raise ConfigError(f"unknown EEGMMIDB channel(s) {unknown}; valid names: {', '.join(CHANNELS)}")
    return names, subjects, plan, channels


def load_eegmmidb(
    subjects: int | Iterable[int],
    task: str | Iterable[str],
    *,
    runs: Iterable[int] | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    skip_missing_runs: bool = False,
    preprocessing: Preprocessing = Preprocessing(),
    cache_dir: str | os.PathLike | None | bool = None,
    progress: Callable[[str], None] | None = None,
) -> EpochsDataset:
    """Load EEGMMIDB cued trials of one or more tasks as an :class:`EpochsDataset`.

    Data: PhysioNet EEG Motor Movement/Imagery Dataset v1.0.0 (Schalk et al. 2004, BCI2000, IEEE
    TBME 51(6):1034-1043; Goldberger et al. 2000, PhysioNet, Circulation 101(23):e215-e220).

    Parameters
    ----------
    subjects : int or iterable of int
        Subject numbers in 1..109; trials are ordered by subject (ascending), task (as given), run, onset.
    task : str or iterable of str
        Names from :data:`TASKS`. Several tasks must share the same class list (e.g. both left/right tasks).
    runs : iterable of int, optional
        Restrict to these runs; each must belong to one of the tasks.
    data_dir : path-like, optional
        Folder holding ``MNE-eegbci-data/`` (see :func:`resolve_data_dir`).
    download : bool
        Fetch missing runs with ``mne.datasets.eegbci.load_data``; if False (default) nothing is downloaded.
    skip_missing_runs : bool
        With ``download=False``: leave out runs absent from ``data_dir`` instead of raising, as
        long as every subject keeps at least one run of every class of each task (e.g. the
        8-class ``multi_action`` task on subjects with some fists/feet runs only). The skipped
        runs are listed in ``info["skipped_runs"]``.
    preprocessing : Preprocessing
        Band-pass (Hz), epoch window (s), resampling (Hz) and channel subset.
    cache_dir : path-like, None or False
        Epoch cache folder; None = ``$JEEG_CACHE_DIR`` or ``~/.cache/jeeg/epochs``; False disables caching.
    progress : callable(str), optional
        Receives one status message per run.

    Returns
    -------
    EpochsDataset
        ``X`` float32 µV of shape (n_trials, n_chans, n_times) with n_chans = 64 (or ``len(channels)``)
        and n_times = round((tmax - tmin) * sfreq), e.g. 640 at 160 Hz; ``sfreq`` in Hz. Cues whose
        window runs outside the recording are dropped and counted in ``info["n_dropped"]``.

    Raises
    ------
    ConfigError
        Unknown task or subject, a run outside 1..14 or not in the tasks, tasks with different
        classes, an unknown channel name, ``h_freq`` at or above a file's Nyquist frequency.
    MissingDataError
        Runs absent from ``data_dir`` and ``download`` is False (lists every missing subject/run),
        or the download failed; with ``skip_missing_runs``, a subject left without any run of a
        class (named).
    DataError
        A truncated or unreadable EDF, missing channels, NaN/Inf samples, or files whose sampling
        frequencies differ (after ``resample``); the message names the file (and channel).
    """
    say = progress or (lambda msg: None)
    names, subjects, plan, channels = check_request(subjects, task, runs, preprocessing)
    root = resolve_data_dir(data_dir)
    skipped: dict[str, list[int]] = {}
    if skip_missing_runs and not download:
        plan_of = {s: {t: tuple(r for r in rs if edf_path(root, s, r).is_file()) for t, rs in plan.items()} for s in subjects}
        for s in subjects:
            if gone := sorted({r for t, rs in plan.items() for r in rs} - {r for rs in plan_of[s].values() for r in rs}):
                skipped[f"S{s:03d}"] = gone
            for t, rs in plan_of[s].items():
                covered = {c for r in rs for c in TASKS[t].events[r].values()}
                if lost := [c for c in TASKS[t].classes if c not in covered]:
                    raise MissingDataError(
                        f"S{s:03d} has no run of class(es) {lost} of task {t} under {root / EEGBCI_SUBDIR} "
                        f"(absent runs: {', '.join(map(str, skipped.get(f'S{s:03d}', [])))}); leave the subject out "
                        "or fetch its runs with --download")
    else:
        plan_of = {s: plan for s in subjects}
    _ensure_present(root, [(s, r) for s in subjects for rs in plan_of[s].values() for r in rs], download, say)
    if cache_dir is None:
        cache_dir = os.environ.get("JEEG_CACHE_DIR") or Path.home() / ".cache" / "jeeg" / "epochs"
    cache = None if cache_dir is False else Path(cache_dir).expanduser()
    classes, parts, n_dropped, n_read, first = TASKS[names[0]].classes, [], {}, 0, None
    for s, t, r in ((s, t, r) for s in subjects for t in names for r in plan_of[s][t]):
        path = edf_path(root, s, r)
        arrays, was_read = _run_arrays(path, TASKS[t].events[r], preprocessing, channels, cache, say)
        n_read += was_read
        sfreq = float(arrays["sfreq"])
        first = first or (path, sfreq)
        if sfreq != first[1]:
            raise DataError(
                f"{path}: sampling frequency {sfreq} Hz differs from {first[1]} Hz of {first[0]}; "
                f"set Preprocessing(resample=...) to load them together"
            )
        n = len(arrays["X"])
        n_dropped[f"S{s:03d}R{r:02d}"] = int(arrays["n_dropped"])
        y = np.array([classes.index(str(c)) for c in arrays["labels"]], dtype=np.int32)
        parts.append(EpochsDataset(
            X=arrays["X"], y=y, subject=np.full(n, s, np.int32), run=np.full(n, r, np.int32),
            trial=np.arange(n, dtype=np.int32), task=np.full(n, t),
            onset=arrays["onset"].astype(np.float64), class_names=classes, sfreq=sfreq,
            ch_names=tuple(str(c) for c in arrays["ch_names"]), tmin=float(arrays["tmin"]),
        ))  # fmt: skip
    info = {
        "dataset": "eegmmidb", "source": SOURCE, "tasks": names, "subjects": subjects,
        "runs": {t: list(rs) for t, rs in plan.items()}, "skipped_runs": skipped, "preprocessing": preprocessing.to_dict(),
        "data_dir": str(root), "cache_dir": str(cache) if cache else None, "n_read": n_read,
        "n_dropped": sum(n_dropped.values()), "n_dropped_per_run": n_dropped,
    }  # fmt: skip
    return replace(EpochsDataset.concatenate(parts), info=info)


# ------------------------------------------------------------------------------ dataset spec
def _edf_sfreq(data_dir, subjects, plan) -> float | None:
    """Sampling frequency in Hz from the header of the first run file of the first subject, if
    that file is on disk (EEGMMIDB: 160 Hz, a few subjects 128 Hz); None otherwise."""
    runs = [r for rs in plan.values() for r in rs]
    if not subjects or not runs:
        return None
    path = edf_path(resolve_data_dir(data_dir), subjects[0], runs[0])
    if not path.is_file():
        return None
    try:
        return float(mne.io.read_raw_edf(path, preload=False, verbose="error").info["sfreq"])
    except Exception:  # noqa: BLE001 - an unreadable header is reported (named) by the loader
        return None


def cv_shape(cfg) -> DataShape:
    """The trials a ``jeeg cv`` config asks of EEGMMIDB, from the config and at most one EDF header:
    64 channels or ``channels``; ``sfreq`` = ``resample``, else the first EDF's header (160 Hz when
    no file is on disk yet); ``n_times = round((tmax - tmin) * sfreq)``.

    Raises
    ------
    ConfigError
        :func:`check_request`'s (unknown subject, run or channel); a window longer than any
        recording; ``h_freq`` at or above the files' Nyquist frequency.
    """
    pre = cfg.preprocessing()
    names, subjects, plan, channels = check_request(list(cfg.subjects), list(cfg.task),
                                                    list(cfg.runs) if cfg.runs is not None else None, pre)
    file_sfreq = _edf_sfreq(cfg.data_dir, subjects, plan) or 160.0
    if pre.h_freq is not None and pre.h_freq >= file_sfreq / 2:
        raise ConfigError(f"h_freq={pre.h_freq} Hz is at or above the Nyquist frequency ({file_sfreq / 2:g} Hz) of "
                          "the EEGMMIDB recordings; lower h_freq or set it to none")
    sfreq = pre.resample or file_sfreq
    return DataShape(len(channels), n_samples((pre.tmax - pre.tmin) * sfreq, cfg), sfreq,
                     len(TASKS[names[0]].classes), tuple(channels))


#: PhysioNet EEGMMIDB (Schalk et al. 2004, IEEE TBME 51(6):1034-1043; Goldberger et al. 2000).
SPEC = DatasetSpec("eegmmidb", tuple(TASKS), load_eegmmidb, cv_shape)
