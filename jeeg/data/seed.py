"""SEED and SEED-IV emotion EEG (BCMI lab, Shanghai Jiao Tong University), read from the official files.

* **SEED** (Zheng & Lu 2015, IEEE TAMD 7(3):162-175, doi 10.1109/TAMD.2015.2431497): 15 subjects,
  3 sessions each (about one week apart), 15 film clips per session labelled negative / neutral /
  positive (-1 / 0 / 1 in ``label.mat``), 62-channel ESI NeuroScan EEG.
* **SEED-IV** (Zheng, Liu, Lu, Lu & Cichocki 2019, "EmotionMeter", IEEE Trans. Cybern. 49(3):1110-1122,
  doi 10.1109/TCYB.2018.2797176): 15 subjects, 3 sessions with different clips, 24 clips per
  session labelled neutral / sad / fear / happy (0 / 1 / 2 / 3), same 62-channel cap.

Both are **licence-restricted**: they are obtained from https://bcmi.sjtu.edu.cn/home/seed/ by
application (a signed licence agreement) and are not redistributable. jeeg never downloads them;
you point the readers at your own copy. Because no copy is available to jeeg's developers, the
readers are tested (``tests/test_seed.py``) on small generated files in the official structure
(names, variables, shapes, dtypes), never on the real data.

Official layout, as read here (``root`` is the folder you unpacked; ``root/SEED_EEG`` or
``root/SEED/SEED_EEG`` for SEED and ``root/SEED_IV`` for SEED-IV are also searched, and ``root``
may be the data folder itself)::

    SEED     root/Preprocessed_EEG/label.mat                 'label': 1 x 15, -1/0/1
             root/Preprocessed_EEG/<subject>_<YYYYMMDD>.mat  '<initials>_eeg1'..'_eeg15': 62 x n_samples
             root/ExtractedFeatures/  (or ExtractedFeatures_1s/, ExtractedFeatures_4s/)
                  label.mat, <subject>_<YYYYMMDD>.mat        'de_LDS1'..'de_LDS15' etc: 62 x n_windows x 5
    SEED-IV  root/eeg_raw_data/<1|2|3>/<subject>_<YYYYMMDD>.mat       '<initials>_eeg1'..'_eeg24'
             root/eeg_feature_smooth/<1|2|3>/<subject>_<YYYYMMDD>.mat  'de_LDS1'..'de_LDS24' etc

Verified from public sources (not from the data): folder and file names, variable names and
shapes (float64), 200 Hz for SEED, 62 channels in :data:`SEED_CHANNELS` order, feature keys and
their row counts (de/psd: 62; dasm/rasm: 27; asm: 54; dcau: 23), SEED ``ExtractedFeatures``
windows of 1 s (235 windows for a 47001-sample trial), SEED-IV feature windows of 4 s, and the
SEED-IV session labels. Sources: the BCMI SEED-IV page (bcmi.sjtu.edu.cn/~seed/seed-iv.html), the
SEED readme as quoted in public repositories, TorchEEG ``torcheeg/datasets/module/emotion_recognition/
{seed,seed_iv,seed_feature,seed_iv_feature}.py`` and ``torcheeg/datasets/constants/emotion_recognition/
seed.py``, a public inspection of the SEED files (github.com/fanb129/GLAE ``dataset/SEED.md``) and
public listings of the current SEED release (``SEED_EEG/ExtractedFeatures_1s``, ``_4s``).
**Not verified:** the unit of the EEG samples (the readme does not state it; values span
a few hundred in public inspections, and third-party loaders treat them as µV, as jeeg does); that
SEED-IV's ``eeg_raw_data`` is at 200 Hz (TorchEEG and other loaders read it so; the official page
only says the EEG was downsampled to 200 Hz for feature extraction); the window overlap of
``ExtractedFeatures_4s``.
Older SEED copies name the files by the subject's full name (``dujingcheng_20131027.mat``); the
readers need the numbered naming (``1_20131027.mat``) of the current release and say so.

From ``jeeg cv`` (``--set dataset=seed|seed_iv --set data_dir=DIR``; :func:`load_seed_epochs`,
:func:`check_cv_config`, defaults :data:`CV_DEFAULTS`): the task ``emotion``, one example per window of
the raw EEG (``tmax`` s, default 1 s: SEED's feature windows and SST-EmotionNet's segments), labelled
with its clip's emotion; ``runs`` are the sessions. Schemes (:data:`CV_SCHEMES`): ``seed_protocol``
(default; :func:`seed_protocol_folds`: per subject and session, clips 1-9 train and 10-15 test, SEED-IV
1-16 / 17-24, with ``val_fraction`` of the training clips held out whole to choose the epoch; ``protocol=
paper`` chooses it on the test clips instead, as published results do), ``within_subject_run_blocks``
(cross-session: ``n_folds=3`` leaves one session out; validation clips drawn whole), ``loso`` and
``subject_group_kfold`` (cross-subject). Baseline ``de_lr`` (DE of the window in 5 bands + logistic
regression); models on the z-scored windows (``representation=raw``) or SST-EmotionNet's maps on the SEED
electrode layout (``representation=sst_grid``, ``model=sst_emotionnet``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy.io

from jeeg.data.dataset import EpochsDataset
from jeeg.data.spec import DataShape, DatasetSpec, n_samples
from jeeg.errors import ConfigError, DataError, MissingDataError, SplitError
from jeeg.features import BANDS as _BAND_EDGES

SFREQ = 200.0  #: Hz, both datasets' preprocessed EEG and the rate their features were computed at.
N_SUBJECTS = 15
N_SESSIONS = 3
#: The five bands of the published features, in the order of their last axis (edges in jeeg.features.BANDS).
BANDS: tuple[str, ...] = tuple(_BAND_EDGES)

#: The 62 EEG channels in the order of the files' rows (the dataset's channel-order sheet and TorchEEG's
#: ``SEED_CHANNEL_LIST``; identical for SEED-IV), spelled as in the 10-05 system (the sheet writes them in
#: capitals: FP1, FPZ, ...). CB1/CB2 (cerebellar) are not 10-05 positions.
SEED_CHANNELS: tuple[str, ...] = tuple(
    "Fp1 Fpz Fp2 AF3 AF4 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8 T7 C5 C3 C1 Cz C2 C4 "
    "C6 T8 TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8 P7 P5 P3 P1 Pz P2 P4 P6 P8 PO7 PO5 PO3 POz PO4 PO6 PO8 CB1 O1 "
    "Oz O2 CB2".split()
)
#: SEED classes, indexed by ``label + 1`` (label.mat holds -1 / 0 / 1).
SEED_CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")
#: SEED-IV classes, indexed by the label itself.
SEED_IV_CLASSES: tuple[str, ...] = ("neutral", "sad", "fear", "happy")
#: SEED-IV label of each of the 24 trials of each session (0 neutral, 1 sad, 2 fear, 3 happy), as given in
#: the dataset's ReadMe; copied from TorchEEG ``seed_iv.py`` (which hard-codes them). 6 trials per class.
SEED_IV_LABELS: dict[int, tuple[int, ...]] = {
    1: (1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3),
    2: (2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1),
    3: (1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0),
}
#: Feature variables whose rows are the 62 channels (the asymmetry features dasm/rasm/asm/dcau are not).
FEATURES: tuple[str, ...] = ("de_LDS", "de_movingAve", "psd_LDS", "psd_movingAve")


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    n_trials: int
    n_train: int  # first n_train trials of a session train, the rest test (per-session protocol)
    classes: tuple[str, ...]
    raw_dirs: tuple[str, ...]
    feature_dirs: tuple[str, ...]
    nests: tuple[str, ...]  # folders under root that may hold the data folders
    url: str
    source: str
    layout: str


_SPECS = {
    "seed": _Spec(
        "seed", "SEED", 15, 9, SEED_CLASSES, ("Preprocessed_EEG",),
        ("ExtractedFeatures", "ExtractedFeatures_1s", "ExtractedFeatures_4s"), ("SEED_EEG", "SEED/SEED_EEG"),
        "https://bcmi.sjtu.edu.cn/home/seed/seed.html",
        "Zheng & Lu 2015, IEEE TAMD 7(3):162-175, doi 10.1109/TAMD.2015.2431497",
        "root/Preprocessed_EEG/{label.mat, 1_20131027.mat, ...} (variables <initials>_eeg1..15, 62 x n_samples) "
        "and root/ExtractedFeatures[_1s|_4s]/{label.mat, 1_20131027.mat, ...} (variables de_LDS1..15, ..., "
        "62 x n_windows x 5)",
    ),  # fmt: skip
    "seed_iv": _Spec(
        "seed_iv", "SEED-IV", 24, 16, SEED_IV_CLASSES, ("eeg_raw_data",), ("eeg_feature_smooth",), ("SEED_IV",),
        "https://bcmi.sjtu.edu.cn/home/seed/seed-iv.html",
        "Zheng, Liu, Lu, Lu & Cichocki 2019, IEEE Trans. Cybern. 49(3):1110-1122, doi 10.1109/TCYB.2018.2797176",
        "root/eeg_raw_data/{1,2,3}/1_20160518.mat ... (variables <initials>_eeg1..24, 62 x n_samples) and "
        "root/eeg_feature_smooth/{1,2,3}/1_20160518.mat ... (variables de_LDS1..24, ..., 62 x n_windows x 5)",
    ),  # fmt: skip
}
_FILE = re.compile(r"^(\d+)_(\d{8})\.mat$")


@dataclass(frozen=True, eq=False)
class FeatureTrials:
    """Published SEED / SEED-IV features, one row per feature window.

    Attributes
    ----------
    X : ndarray, float32, shape (n_windows, n_chans=62, n_bands=5)
        Feature values (e.g. differential entropy of the δ θ α β γ bands, see :data:`BANDS`).
    y : ndarray, int32, shape (n_windows,)
        Class index into ``class_names`` of the window's film clip.
    subject, session, trial, window : ndarray, int32, shape (n_windows,)
        Subject (1..15), session (1..3), film clip (1-based, the number in the variable name)
        and the window's index within its clip (0-based, in time order).
    class_names, ch_names, bands : tuple of str
    feature : str
        Variable prefix read, e.g. ``"de_LDS"``.
    window_s : float
        Length of one feature window in s (1 for SEED's ExtractedFeatures[_1s], 4 for
        ExtractedFeatures_4s and SEED-IV).
    info : dict
        Provenance: dataset, source, data folder, files per subject and session (names carry the dates).
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    session: np.ndarray
    trial: np.ndarray
    window: np.ndarray
    class_names: tuple[str, ...]
    ch_names: tuple[str, ...]
    bands: tuple[str, ...]
    feature: str
    window_s: float
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        if self.X.shape[1:] != (len(self.ch_names), len(self.bands)):
            raise DataError(
                f"FeatureTrials.X must be (n_windows, {len(self.ch_names)}, {len(self.bands)}); got {self.X.shape}"
            )
        for name in ("y", "subject", "session", "trial", "window"):
            if getattr(self, name).shape != (n,):
                raise DataError(f"FeatureTrials.{name} must have shape ({n},); got {getattr(self, name).shape}")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, idx: np.ndarray | Sequence[int]) -> "FeatureTrials":
        """Rows ``idx`` (integer indices or a boolean mask) as a new table."""
        idx = np.asarray(idx)
        cut = {k: getattr(self, k)[idx] for k in ("X", "y", "subject", "session", "trial", "window")}
        return replace(self, **cut)


# ------------------------------------------------------------------------------------ arguments
def _spec(dataset: str) -> _Spec:
    try:
        return _SPECS[dataset]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown dataset {dataset!r}; use one of {', '.join(map(repr, _SPECS))}") from None


def _ints(values, name: str, hi: int) -> list[int]:
    """``values`` (int, iterable of int or None = all) as a sorted list in 1..hi."""
    if values is None:
        return list(range(1, hi + 1))
    vals = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not vals or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in vals):
        raise ConfigError(f"{name} must be a non-empty int or list of ints in 1..{hi}; got {values!r}")
    if bad := sorted({int(v) for v in vals if not 1 <= v <= hi}):
        raise ConfigError(f"{name} {bad} out of range: SEED and SEED-IV number them 1..{hi}")
    return sorted({int(v) for v in vals})


# ------------------------------------------------------------------------------------ files
def _obtain(spec: _Spec) -> str:
    return (
        f"{spec.title} is licence-restricted: obtain it from the BCMI lab by application ({spec.url}); "
        f"jeeg never downloads it. Expected layout: {spec.layout}"
    )


def _data_dir(root, spec: _Spec, names: Sequence[str]) -> Path:
    """The first existing folder among ``names`` in ``root`` (or its known nests), or ``root`` itself."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MissingDataError(f"{spec.title} folder {root} does not exist. {_obtain(spec)}")
    if root.name in names:
        return root
    for base in (root, *(root / n for n in spec.nests)):
        for name in names:
            if (base / name).is_dir():
                return base / name
    listing = ", ".join(sorted(p.name for p in root.iterdir())[:20]) or "nothing"
    raise MissingDataError(
        f"{root} has no {' or '.join(names)} folder (it holds: {listing}). {_obtain(spec)}"
    )


def _scan(folder: Path, spec: _Spec) -> dict[int, list[tuple[str, Path]]]:
    """Subject -> [(YYYYMMDD, path)] of the ``<subject>_<YYYYMMDD>.mat`` files in ``folder``."""
    out: dict[int, list[tuple[str, Path]]] = {}
    for path in sorted(folder.glob("*.mat")):
        if path.name == "label.mat":
            continue
        m = _FILE.match(path.name)
        if not m:
            raise DataError(
                f"{path}: not a <subject>_<YYYYMMDD>.mat file name (e.g. 1_20131027.mat). jeeg reads the numbered "
                f"file names of the current {spec.title} release; older copies named by the subject's name must be "
                f"renamed to their subject number, and other .mat files moved out of {folder}"
            )
        try:
            datetime.strptime(m.group(2), "%Y%m%d")
        except ValueError:
            raise DataError(f"{path}: {m.group(2)!r} in the file name is not a date YYYYMMDD") from None
        out.setdefault(int(m.group(1)), []).append((m.group(2), path))
    return out


def _plan(folder: Path, spec: _Spec, subjects, sessions) -> tuple[list[tuple[int, int, Path, str]], list[int]]:
    """[(subject, session, path, date)] ordered by subject, session; and the subject list.

    SEED: session = rank of the file's date among the subject's 3 files. SEED-IV: session folder."""
    if spec.name == "seed":
        found = {1: _scan(folder, spec)}
    else:
        missing = [str(folder / str(k)) for k in sessions if not (folder / str(k)).is_dir()]
        if missing:
            raise MissingDataError(f"session folder(s) {', '.join(missing)} not found. {_obtain(spec)}")
        found = {k: _scan(folder / str(k), spec) for k in sessions}
    present = sorted({s for per in found.values() for s in per})
    subjects = present if subjects is None else _ints(subjects, "subjects", N_SUBJECTS)
    if not subjects:
        raise MissingDataError(f"no <subject>_<YYYYMMDD>.mat files under {folder}. {_obtain(spec)}")
    plan, absent = [], []
    for s in subjects:
        if spec.name == "seed":
            files = sorted(found[1].get(s, []))
            if not files:
                absent.append(f"subject {s}")
                continue
            dates = [d for d, _ in files]
            if len(files) != N_SESSIONS or len(set(dates)) != N_SESSIONS:
                raise DataError(
                    f"subject {s} has {len(files)} file(s) in {folder} ({', '.join(p.name for _, p in files)}); "
                    f"SEED has 3 sessions on 3 different dates, numbered by date order, so all 3 files must be there"
                )
            plan += [(s, k, p, d) for k, (d, p) in enumerate(files, start=1) if k in sessions]
        else:
            for k in sessions:
                files = found[k].get(s, [])
                if not files:
                    absent.append(f"subject {s} session {k}")
                elif len(files) > 1:
                    names = [p.name for _, p in files]
                    raise DataError(f"subject {s} has {len(files)} files in {folder / str(k)}: {names}; keep one")
                else:
                    plan.append((s, k, files[0][1], files[0][0]))
    if absent:
        raise MissingDataError(f"no file under {folder} for {', '.join(absent)}. {_obtain(spec)}")
    return plan, subjects


def _variables(path: Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape, read from the .mat header without loading the data."""
    try:
        return {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(path)}
    except Exception as e:  # noqa: BLE001 - any reader failure is a problem with this file
        raise DataError(
            f"{path}: scipy cannot read this MATLAB file ({type(e).__name__}: {e}); copy it again from the archive"
        ) from e


def _load(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    try:
        return scipy.io.loadmat(path, variable_names=names)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path}: reading variables failed ({type(e).__name__}: {e}); copy it again") from e


def _read_trials(path: Path, spec: _Spec, where: str, feature: str | None = None) -> list[np.ndarray]:
    """Arrays of trials 1..n_trials of one file, checked: EEG ``<initials>_eegN`` (62, n_samples) if
    ``feature`` is None, else ``<feature>N`` (62, n_windows, 5). ``where`` names subject and session."""
    shapes = _variables(path)
    rx = re.compile(rf"^{re.escape(feature)}(?P<n>\d+)$" if feature else r"^(?P<prefix>.+)_eeg(?P<n>\d+)$")
    keys = {int(m.group("n")): k for k in shapes if (m := rx.match(k))}
    if extra := sorted(n for n in keys if not 1 <= n <= spec.n_trials):
        raise DataError(
            f"{path}: variable(s) {[keys[n] for n in extra]} beyond the {spec.n_trials} trials of a {spec.title} "
            f"session; is this a file of the other dataset?"
        )
    if feature:
        stem, expected = feature, "(62 channels, n_windows, 5 bands)"
    else:
        prefixes = sorted({k.rsplit("_eeg", 1)[0] for k in keys.values()})
        if len(prefixes) != 1:
            raise DataError(
                f"{path}: expected trial variables <initials>_eeg1..<initials>_eeg{spec.n_trials} of one subject; "
                f"found initials {prefixes} (variables: {sorted(shapes)[:10]})"
            )
        stem, expected = f"{prefixes[0]}_eeg", "(62 channels, n_samples)"
    if gone := [f"{stem}{n}" for n in range(1, spec.n_trials + 1) if n not in keys]:
        raise DataError(
            f"{path}: variable(s) {gone} missing ({where}); a {spec.title} file holds {stem}1..{stem}{spec.n_trials}; "
            f"copy the file again"
        )
    names = [keys[n] for n in range(1, spec.n_trials + 1)]
    for key in names:
        shape = shapes[key]
        if len(shape) != (3 if feature else 2) or shape[0] != 62 or (feature and shape[2] != len(BANDS)):
            raise DataError(f"{path}: variable {key} has shape {shape}; expected {expected}")
    data = _load(path, names)
    out = []
    for key in names:
        arr = np.asarray(data.pop(key))
        _check_finite(arr, path, key, "window" if feature else "sample")
        out.append(arr)
    return out


def _labels_seed(folder: Path) -> np.ndarray:
    """Class index (0..2) of SEED trials 1..15 from ``folder/label.mat``."""
    path = folder / "label.mat"
    if not path.is_file():
        raise MissingDataError(
            f"{path} not found: SEED's trial labels are read from label.mat (variable 'label', 1 x 15 of -1/0/1) "
            f"beside the subject files; copy it from the SEED archive. {_obtain(_SPECS['seed'])}"
        )
    if "label" not in (names := _variables(path)):
        raise DataError(f"{path}: no variable 'label' (variables: {sorted(names)}); expected 1 x 15 of -1/0/1")
    lab = np.asarray(_load(path, ["label"])["label"], dtype=np.float64).ravel()
    if lab.size != 15 or not np.isin(lab, (-1, 0, 1)).all():
        raise DataError(f"{path}: 'label' must hold 15 values in -1/0/1; got {lab.tolist()}")
    return (lab + 1).astype(np.int32)


def _check_finite(arr: np.ndarray, path: Path, key: str, axis_name: str) -> None:
    """Raise DataError naming file, variable, channel and position of the first NaN/Inf."""
    bad = ~np.isfinite(arr)
    if bad.any():
        ch, pos = (int(i[0]) for i in np.nonzero(bad)[:2])
        raise DataError(
            f"{path}: variable {key} has non-finite values (NaN/Inf), first in channel {SEED_CHANNELS[ch]} "
            f"at {axis_name} {pos}; copy the file again"
        )


def _labels(spec: _Spec, folder: Path, sessions: Sequence[int]) -> dict[int, np.ndarray]:
    """Session -> class index of trials 1..n_trials (SEED: label.mat in ``folder``, the same every session)."""
    if spec.name == "seed":
        lab = _labels_seed(folder)
        return {k: lab for k in sessions}
    return {k: np.asarray(SEED_IV_LABELS[k], np.int32) for k in sessions}


def _info(spec: _Spec, folder: Path, plan, subjects, sessions) -> dict:
    files: dict[str, dict[str, str]] = {}
    for s, k, path, date in plan:
        files.setdefault(f"S{s:02d}", {})[str(k)] = path.name
    return {
        "dataset": spec.name, "source": spec.source, "url": spec.url, "data_dir": str(folder),
        "subjects": list(subjects), "sessions": list(sessions), "files": files,
        "units": "µV (assumed: the dataset does not state the unit)",
    }  # fmt: skip


# ------------------------------------------------------------------------------------ loaders
def load_seed_features(
    root,
    *,
    dataset: str = "seed",
    feature: str = "de_LDS",
    subjects: int | Iterable[int] | None = None,
    sessions: int | Iterable[int] | None = None,
    features_dir: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> FeatureTrials:
    """Read the published per-window features of SEED (``ExtractedFeatures``) or SEED-IV (``eeg_feature_smooth``).

    Data: SEED (Zheng & Lu 2015, IEEE TAMD 7(3):162-175) or SEED-IV (Zheng et al. 2019, IEEE Trans.
    Cybern. 49(3):1110-1122), BCMI lab, licence-restricted: obtained by application at
    https://bcmi.sjtu.edu.cn/home/seed/, never downloaded by jeeg. DE features: Duan, Zhu & Lu 2013
    (NER, doi 10.1109/NER.2013.6695876); ``_LDS`` = smoothed by a linear dynamical system,
    ``_movingAve`` = by a moving average.

    Parameters
    ----------
    root : path-like
        Folder holding ``ExtractedFeatures[_1s|_4s]/`` (SEED) or ``eeg_feature_smooth/`` (SEED-IV), or
        that folder itself (see the module docstring for the layout).
    dataset : {"seed", "seed_iv"}
    feature : str
        One of :data:`FEATURES`: ``de_LDS`` (default), ``de_movingAve``, ``psd_LDS``, ``psd_movingAve``.
    subjects, sessions : int or iterable of int, optional
        Subjects (1..15; default: all with files) and sessions (1..3; default all).
    features_dir : str, optional
        SEED only: which feature folder to read; default the first present of ``ExtractedFeatures``
        and ``ExtractedFeatures_1s`` (1-s windows), else ``ExtractedFeatures_4s`` (4-s windows).
    progress : callable(str), optional
        Receives one message per file.

    Returns
    -------
    FeatureTrials
        ``X`` float32 (n_windows, 62 channels, 5 bands); labels (SEED: -1/0/1 → 0/1/2 =
        negative/neutral/positive from label.mat; SEED-IV: :data:`SEED_IV_LABELS`), subject, session
        (SEED: date order of the subject's 3 files; SEED-IV: its folder), 1-based trial and 0-based
        window index; rows ordered by subject, session, trial, window.

    Raises
    ------
    ConfigError
        Unknown dataset or feature, subjects/sessions out of 1..15 / 1..3, ``features_dir`` for SEED-IV.
    MissingDataError
        ``root`` or the feature folder absent (the message gives the expected layout and where the data
        is obtained), ``label.mat`` absent (SEED), no file for a requested subject or session.
    DataError
        A file name not ``<subject>_<YYYYMMDD>.mat``; a SEED subject without exactly 3 files; an
        unreadable file; a trial variable missing (names file and variable), of the wrong shape
        (names file, variable, shape), or holding NaN/Inf; ``label.mat`` without a valid ``label``.
    """
    spec = _spec(dataset)
    say = progress or (lambda msg: None)
    if feature not in FEATURES:
        raise ConfigError(
            f"unknown feature {feature!r}; use one of {', '.join(FEATURES)} (the asymmetry features dasm/rasm/asm/dcau "
            f"have electrode pairs, not the 62 channels, as rows)"
        )
    if features_dir is not None and (spec.name != "seed" or features_dir not in spec.feature_dirs):
        raise ConfigError(f"features_dir must be None or, for SEED, one of {spec.feature_dirs}; got {features_dir!r}")
    names = (features_dir,) if features_dir else spec.feature_dirs
    sessions = _ints(sessions, "sessions", N_SESSIONS)
    folder = _data_dir(root, spec, names)
    window_s = 4.0 if spec.name == "seed_iv" or folder.name.endswith("_4s") else 1.0
    plan, subjects = _plan(folder, spec, subjects, sessions)
    labels = _labels(spec, folder, sessions)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("X", "y", "subject", "session", "trial", "window")}
    for s, k, path, _ in plan:
        say(f"{spec.title} S{s:02d} session {k}: reading {path}")
        for n, arr in enumerate(_read_trials(path, spec, f"subject {s}, session {k}", feature), start=1):
            w = arr.shape[1]
            cols["X"].append(arr.transpose(1, 0, 2).astype(np.float32))
            cols["y"].append(np.full(w, labels[k][n - 1], np.int32))
            for name, v in (("subject", s), ("session", k), ("trial", n)):
                cols[name].append(np.full(w, v, np.int32))
            cols["window"].append(np.arange(w, dtype=np.int32))
    info = _info(spec, folder, plan, subjects, sessions) | {"window_s": window_s, "feature": feature}
    return FeatureTrials(
        **{k: np.concatenate(v) for k, v in cols.items()},
        class_names=spec.classes, ch_names=SEED_CHANNELS, bands=BANDS, feature=feature, window_s=window_s, info=info,
    )  # fmt: skip


def load_seed_raw(
    root,
    *,
    dataset: str = "seed",
    subjects: int | Iterable[int] | None = None,
    sessions: int | Iterable[int] | None = None,
    window: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> EpochsDataset:
    """Read SEED ``Preprocessed_EEG`` / SEED-IV ``eeg_raw_data`` as non-overlapping windows of every trial.

    Data: see :func:`load_seed_features` (licence-restricted, obtained by application, never
    downloaded). SEED's files were downsampled to 200 Hz and band-pass filtered 0-75 Hz by the
    dataset's authors (readme); SEED-IV's ``eeg_raw_data`` are at 200 Hz as read by TorchEEG and
    other public loaders (not otherwise verified). No further filtering is done here.

    Memory: all of SEED as 1-s windows is about 7.5 GB in float32; load a few subjects at a time.

    Parameters
    ----------
    root : path-like
        Folder holding ``Preprocessed_EEG/`` (SEED) or ``eeg_raw_data/`` (SEED-IV), or that folder itself.
    dataset : {"seed", "seed_iv"}
    subjects, sessions : int or iterable of int, optional
        Subjects (1..15; default: all with files) and sessions (1..3; default all).
    window : float
        Window length in s; ``n_times = round(window * 200)``. Each trial gives
        ``n_samples // n_times`` windows from its first sample; the remainder is dropped (counted in
        ``info["n_samples_dropped"]``). 1 s gives the SEED feature windows (235 for 47001 samples).
    progress : callable(str), optional
        Receives one message per file.

    Returns
    -------
    EpochsDataset
        ``X`` float32 µV (unit assumed, see the module docstring), shape (n_windows, 62 channels,
        n_times) in :data:`SEED_CHANNELS` order; ``sfreq`` 200 Hz; ``y`` as in
        :func:`load_seed_features`; ``subject``; ``run`` = session (1..3); ``trial`` = the 1-based
        film clip (the number in ``<initials>_eegN``; unlike EEGMMIDB's 0-based cue index);
        ``onset`` = window start in s from the start of the clip; ``task`` = ``"emotion"``;
        ``tmin`` 0. Ordered by subject, session, trial, window.

    Raises
    ------
    ConfigError
        Unknown dataset, subjects/sessions out of range, ``window`` not a positive number or shorter
        than one sample.
    MissingDataError
        ``root`` or the data folder absent (with the expected layout and where to obtain the data),
        ``label.mat`` absent (SEED), no file for a requested subject or session.
    DataError
        A bad file name, a SEED subject without exactly 3 files, an unreadable file, a missing trial
        variable ``<initials>_eegN`` (names file and variable), several initials in one file, an array
        without 62 rows (names file, variable and shape), NaN/Inf samples, or no window at all.
    """
    spec = _spec(dataset)
    say = progress or (lambda msg: None)
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not math.isfinite(window) or window <= 0:
        raise ConfigError(f"window must be a positive number of seconds; got {window!r}")
    n_times = round(window * SFREQ)
    if n_times < 1:
        raise ConfigError(f"window {window} s holds no sample at {SFREQ:g} Hz")
    sessions = _ints(sessions, "sessions", N_SESSIONS)
    folder = _data_dir(root, spec, spec.raw_dirs)
    plan, subjects = _plan(folder, spec, subjects, sessions)
    labels = _labels(spec, folder, sessions)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("X", "y", "subject", "run", "trial", "onset")}
    dropped = 0
    for s, k, path, _ in plan:
        say(f"{spec.title} S{s:02d} session {k}: reading {path}")
        for n, arr in enumerate(_read_trials(path, spec, f"subject {s}, session {k}"), start=1):
            w = arr.shape[1] // n_times
            dropped += arr.shape[1] - w * n_times
            X = arr[:, : w * n_times].reshape(arr.shape[0], w, n_times).transpose(1, 0, 2)
            cols["X"].append(X.astype(np.float32))
            cols["y"].append(np.full(w, labels[k][n - 1], np.int32))
            for name, v in (("subject", s), ("run", k), ("trial", n)):
                cols[name].append(np.full(w, v, np.int32))
            cols["onset"].append(np.arange(w, dtype=np.float64) * (n_times / SFREQ))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    if not len(out["X"]):
        files = [str(p) for _, _, p, _ in plan]
        raise DataError(f"no {window} s window fits in any trial of {files}; use a shorter window")
    info = _info(spec, folder, plan, subjects, sessions) | {"window_s": n_times / SFREQ, "n_samples_dropped": dropped}
    return EpochsDataset(
        **out, task=np.full(len(out["y"]), "emotion"), class_names=spec.classes, sfreq=SFREQ,
        ch_names=SEED_CHANNELS, tmin=0.0, info=info,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ protocol
def seed_protocol_split(trial, session=None, dataset: str = "seed") -> tuple[np.ndarray, np.ndarray]:
    """The per-session train/test split of SEED-style subject-dependent evaluation.

    In every session, the windows of the first 9 film clips train and those of the last 6 test
    (SEED; Zheng & Lu, IEEE Trans. Auton. Ment. Dev. 2015, doi 10.1109/TAMD.2015.2431497, used by
    SST-EmotionNet, Jia et al. ACM MM 2020, doi 10.1145/3394171.3413724); SEED-IV: first 16 / last 8 (the usual SEED-IV protocol,
    not verified in the SST-EmotionNet paper). One model is trained per (subject, session): combine
    the masks with ``(subject == s) & (session == k)``, or use :func:`seed_protocol_folds`.

    Parameters
    ----------
    trial : array-like of int, shape (n,)
        1-based film clip of each row (``FeatureTrials.trial`` or ``EpochsDataset.trial`` from
        these loaders).
    session : array-like of int, shape (n,), optional
        Session of each row; only checked (1..3, same shape), since the rule is the same in every session.
    dataset : {"seed", "seed_iv"}

    Returns
    -------
    train, test : ndarray of bool, shape (n,)
        Complementary masks.

    Raises
    ------
    ConfigError
        Unknown dataset.
    SplitError
        ``trial`` not 1-D integers, trial numbers outside 1..15 (SEED) / 1..24 (SEED-IV) (e.g.
        0-based indices), or ``session`` of another shape or outside 1..3.
    """
    spec = _spec(dataset)
    t = np.asarray(trial)
    if t.ndim != 1 or not (np.issubdtype(t.dtype, np.integer) or (t.size == 0 and t.dtype == np.float64)):
        raise SplitError(
            f"trial must be a 1-D array of integer film-clip numbers; got shape {t.shape}, dtype {t.dtype}"
        )
    if bad := sorted({int(v) for v in t[(t < 1) | (t > spec.n_trials)]}):
        raise SplitError(
            f"trial numbers {bad[:10]} outside 1..{spec.n_trials} of a {spec.title} session; pass the 1-based "
            f"film-clip numbers of load_seed_features/load_seed_raw, not 0-based indices"
        )
    if session is not None:
        k = np.asarray(session)
        if k.shape != t.shape or not np.issubdtype(k.dtype, np.integer):
            raise SplitError(f"session must be integers of shape {t.shape}; got shape {k.shape}, dtype {k.dtype}")
        if bad := sorted({int(v) for v in k[(k < 1) | (k > N_SESSIONS)]}):
            raise SplitError(f"session numbers {bad} outside 1..{N_SESSIONS}")
    train = t <= spec.n_train
    return train, ~train


def seed_protocol_folds(
    subject, session, trial, *, dataset: str = "seed", y=None, val_fraction: float = 0.0, seed: int = 0
) -> list:
    """One :class:`jeeg.splits.Fold` per (subject, session) with :func:`seed_protocol_split`'s train/test.

    ``jeeg cv --set scheme=seed_protocol`` (the default scheme of ``dataset=seed|seed_iv``).

    Parameters
    ----------
    subject, session, trial : array-like of int, shape (n,)
        Row metadata (``FeatureTrials.subject/session/trial``; for an EpochsDataset ``subject``,
        ``run``, ``trial``).
    dataset : {"seed", "seed_iv"}
    y : array-like of int, shape (n,), optional
        Class indices; if given, each fold's training part must hold every class. Needed for a
        validation part.
    val_fraction : float
        Fraction of each fold's training clips moved, whole, to a validation part (for choosing
        the epoch of a neural model): per class ``floor(val_fraction * n_clips)`` clips, at least
        one for every class with >= 2 training clips and at least one left to train (SEED's 9
        training clips, 3 per class, give 1 validation clip per class at 0.2). Whole clips, as
        the windows of one clip share its label and its film, so a window-wise draw would select
        the epoch on the clips being trained on (the block-design pitfall of Li et al. 2021, IEEE
        TPAMI 43(1):316-333, doi 10.1109/TPAMI.2020.2973153). 0 (default): empty ``val``, the
        published protocol.
    seed : int
        Seeds the validation draw (with the subject and session).

    Returns
    -------
    list of Fold
        Named ``"S01-session1"``..., scheme ``"seed_protocol"``, ``index`` = session - 1, sorted by
        subject then session (45 folds for all of SEED or SEED-IV).

    Raises
    ------
    ConfigError
        ``val_fraction`` outside [0, 1), or > 0 without ``y``.
    SplitError
        As :func:`seed_protocol_split`; arrays of different shapes; a (subject, session) without
        training or test rows; with ``y``, a class absent from a training part.
    """
    from jeeg.splits import _VAL, Fold, _rng, _stratified_holdout, check_fold_classes, check_no_leakage

    spec = _spec(dataset)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1); got {val_fraction!r}")
    if val_fraction and y is None:
        raise ConfigError("a validation part (val_fraction > 0) is drawn stratified by class: pass y")
    train, test = seed_protocol_split(trial, session, dataset)
    subj, sess = np.asarray(subject), np.asarray(session)
    if subj.shape != train.shape or (y is not None and np.shape(y) != train.shape):
        raise SplitError(f"subject and y must have shape {train.shape}; got {subj.shape}, {np.shape(y)}")
    labels = None if y is None else np.asarray(y).astype(np.int64)
    folds = []
    for s, k in sorted({(int(a), int(b)) for a, b in zip(subj, sess)}):
        rows = (subj == s) & (sess == k)
        fit, val = np.flatnonzero(rows & train), np.zeros(0, np.int64)
        if val_fraction and fit.size:
            fit, val = _stratified_holdout(fit, labels, float(val_fraction), _rng(seed, s, _VAL, k), np.asarray(trial))
        fold = Fold(
            name=f"S{s:02d}-session{k}", scheme="seed_protocol", index=k - 1, train=fit,
            val=val, test=np.flatnonzero(rows & test), test_subjects=(s,), cross_subject=False,
        )  # fmt: skip
        if not fold.train.size or not fold.test.size:
            raise SplitError(
                f"fold {fold.name!r}: {'no training' if not fold.train.size else 'no test'} rows (trials "
                f"{sorted({int(v) for v in np.asarray(trial)[rows]})}); the protocol needs trials 1..{spec.n_train} "
                f"and {spec.n_train + 1}..{spec.n_trials}"
            )
        check_no_leakage(fold, subj)
        if labels is not None:
            check_fold_classes(fold, labels, spec.classes)
        folds.append(fold)
    return folds


# ------------------------------------------------------------------------------------ jeeg cv
#: The ``jeeg cv`` task of both datasets: the emotion of the film clip, one label for every window.
CV_TASKS: tuple[str, ...] = ("emotion",)
#: Split schemes ``jeeg cv`` runs on SEED / SEED-IV windows, each keeping a film clip's windows on one
#: side: the published per-session protocol, cross-session (``within_subject_run_blocks`` over the 3
#: sessions), and cross-subject. Window-wise k-fold (``within_subject_stratified`` / ``_contiguous``) is
#: refused: neighbouring windows of one clip would train and test, so a model could score by recognising
#: the clip (Li et al. 2021, IEEE TPAMI 43(1):316-333, doi 10.1109/TPAMI.2020.2973153).
CV_SCHEMES: tuple[str, ...] = ("seed_protocol", "within_subject_run_blocks", "loso", "subject_group_kfold")
#: ``jeeg cv`` defaults of SEED / SEED-IV for the keys a config does not set (:func:`jeeg.config.make_config`):
#: all 15 subjects, the published protocol, the authors' preprocessing untouched (no further filter or
#: resampling), 1-s windows (SEED's feature windows; SST-EmotionNet's input segments) and the DE + logistic
#: regression baseline (Zheng & Lu 2015 compare LR and SVM on DE features).
CV_DEFAULTS: dict = {
    "task": CV_TASKS, "subjects": tuple(range(1, N_SUBJECTS + 1)), "scheme": "seed_protocol",
    "l_freq": None, "h_freq": None, "resample": None, "tmin": 0.0, "tmax": 1.0, "baselines": ("de_lr",),
}  # fmt: skip


def _cv_checks(dataset: str, subjects, task, runs, data_dir, download, skip_missing_runs, preprocessing) -> None:
    """The ConfigErrors of :func:`load_seed_epochs`, named by their ``jeeg cv`` keys."""
    spec = _spec(dataset)
    tasks = [task] if isinstance(task, str) else list(task)
    if tasks != list(CV_TASKS):
        raise ConfigError(f"task {tasks} is not a task of dataset={dataset!r}; its one task is {CV_TASKS[0]!r} "
                          f"(the film clip's {'/'.join(spec.classes)} label)")
    _ints(subjects, "subjects", N_SUBJECTS)
    if runs is not None:
        _ints(runs, "runs (the sessions of SEED / SEED-IV)", N_SESSIONS)
    if data_dir is None:
        raise ConfigError(f"dataset={dataset!r} reads your copy of {spec.title}: set data_dir=DIR (--data-dir), the folder "
                          f"you unpacked. {_obtain(spec)}")
    if download:
        raise ConfigError(f"download: {spec.title} cannot be downloaded. {_obtain(spec)}")
    if skip_missing_runs:
        raise ConfigError(f"skip_missing_runs: {spec.title} sessions are all read; select them with runs=1,2,3")
    pre = preprocessing
    if pre is None:
        return
    for key in ("l_freq", "h_freq", "resample"):
        if getattr(pre, key) is not None:
            raise ConfigError(
                f"{key}={getattr(pre, key)}: jeeg reads {spec.title}'s EEG as the authors preprocessed it (downsampled to "
                f"200 Hz, SEED band-passed 0-75 Hz) and filters and resamples no further; set {key}=none"
            )
    if pre.tmin != 0:
        raise ConfigError(f"tmin={pre.tmin}: {spec.title} trials are cut into windows from each clip's start; set tmin=0 "
                          "and tmax=the window length in s")
    if round(pre.tmax * SFREQ) < 1:
        raise ConfigError(f"tmax={pre.tmax} s (the window length) holds no sample at {SFREQ:g} Hz")
    if pre.channels is not None and (bad := [c for c in pre.channels if c not in SEED_CHANNELS]):
        raise ConfigError(f"channels {bad} are not {spec.title} channels; they are {' '.join(SEED_CHANNELS)}")


def check_cv_config(cfg):
    """Check a :class:`jeeg.config.CVConfig` of ``dataset=seed|seed_iv`` before any file is read.

    Returns the config, with ``representation_kwargs["layout"] = "seed"`` (SST-EmotionNet's SEED
    electrode layout, :data:`jeeg.grids.SEED_GRID`) added for ``representation=sst_grid`` unless a
    layout or montage is set: MNE's 10-05 montage has no CB1/CB2.

    Raises
    ------
    ConfigError
        Naming the key: a task other than ``emotion``; subjects outside 1..15 or runs (sessions)
        outside 1..3; no ``data_dir``; ``download`` or ``skip_missing_runs``; a band-pass or
        resampling; ``tmin`` other than 0; channels SEED lacks; a scheme outside :data:`CV_SCHEMES`;
        ``within_subject_run_blocks`` with more folds than sessions; ``subject_group_kfold`` with
        more folds than subjects, or ``loso`` with fewer than 2 subjects (3 with validation).
    """
    from dataclasses import replace as _replace

    _cv_checks(cfg.dataset, cfg.subjects, cfg.task, cfg.runs, cfg.data_dir, cfg.download, cfg.skip_missing_runs,
               cfg.preprocessing())
    if cfg.scheme not in CV_SCHEMES:
        raise ConfigError(
            f"scheme={cfg.scheme!r} is not a split scheme for dataset={cfg.dataset!r}; use one of {', '.join(CV_SCHEMES)}. "
            "Window-wise k-fold would put windows of one film clip in both training and test"
        )
    n_sessions = len(set(cfg.runs)) if cfg.runs is not None else N_SESSIONS
    if cfg.scheme == "within_subject_run_blocks" and not 2 <= cfg.n_folds <= n_sessions:
        raise ConfigError(f"n_folds={cfg.n_folds}: within_subject_run_blocks deals the {n_sessions} session(s) into n_folds "
                          f"blocks; set n_folds=2..{n_sessions} (n_folds={n_sessions}: leave one session out)")
    n_subjects = len(set(cfg.subjects))
    if cfg.scheme == "subject_group_kfold" and cfg.n_folds > n_subjects:
        raise ConfigError(f"n_folds={cfg.n_folds}: subject_group_kfold needs at least n_folds subjects; got {n_subjects}")
    if cfg.scheme == "loso" and n_subjects < 3:
        raise ConfigError(f"scheme=loso needs at least 3 subjects (test, validation, training); got {n_subjects}")
    kw = dict(cfg.representation_kwargs)
    if cfg.representation == "sst_grid" and "layout" not in kw and "montage" not in kw:
        return _replace(cfg, representation_kwargs={**kw, "layout": "seed"})
    return cfg


def load_seed_epochs(
    subjects, task, *, dataset: str = "seed", runs=None, data_dir=None, download: bool = False,
    skip_missing_runs: bool = False, cache_dir=None, preprocessing=None, progress=None,
) -> EpochsDataset:
    """``jeeg cv``'s reader of SEED / SEED-IV (``dataset=seed|seed_iv``): :func:`load_seed_raw` windows.

    The raw EEG (``Preprocessed_EEG`` / ``eeg_raw_data``), not the published features: every
    model and baseline of ``jeeg cv`` takes signals (the ``de_lr`` baseline computes the windows'
    differential entropy itself, ``representation=sst_grid`` SST-EmotionNet's maps), and the
    published features are LDS- or moving-average-smoothed across the windows of a clip.
    :func:`load_seed_features` reads those for work outside ``jeeg cv``.

    Parameters
    ----------
    subjects : iterable of int
        1..15.
    task : str or sequence of str
        ``"emotion"`` (:data:`CV_TASKS`).
    dataset : {"seed", "seed_iv"}
    runs : iterable of int, optional
        Sessions (1..3); default all.
    data_dir : path-like
        Your copy of the dataset (``root`` of :func:`load_seed_raw`); required.
    download, skip_missing_runs : bool
        Must be False (the data is licence-restricted; every session is read).
    cache_dir
        Unused: the .mat files are read directly.
    preprocessing : jeeg.data.eegmmidb.Preprocessing, optional
        ``tmax`` is the window length in s (default 1 s; ``tmin`` must be 0); ``channels`` a subset of
        :data:`SEED_CHANNELS`; ``l_freq``, ``h_freq`` and ``resample`` must be None.
    progress : callable(str), optional

    Returns
    -------
    EpochsDataset
        As :func:`load_seed_raw` (X float32 µV, shape (n_windows, n_chans, round(tmax * 200)),
        ``run`` = session, ``trial`` = 1-based clip), channels as selected.

    Raises
    ------
    ConfigError
        See :func:`check_cv_config` (the checks that need no config); plus those of :func:`load_seed_raw`.
    MissingDataError, DataError
        From :func:`load_seed_raw`.
    """
    _cv_checks(dataset, subjects, task, runs, data_dir, download, skip_missing_runs, preprocessing)
    window = float(preprocessing.tmax) if preprocessing is not None else 1.0
    ds = load_seed_raw(data_dir, dataset=dataset, subjects=subjects, sessions=runs, window=window, progress=progress)
    channels = preprocessing.channels if preprocessing is not None else None
    if channels:
        rows = [SEED_CHANNELS.index(c) for c in channels]
        ds = replace(ds, X=np.ascontiguousarray(ds.X[:, rows]), ch_names=tuple(channels))
    pre = None if preprocessing is None else preprocessing.to_dict()
    return replace(ds, info=ds.info | {"channels": list(ds.ch_names), "preprocessing": pre})


def cv_shape(cfg) -> DataShape:
    """The windows a ``jeeg cv`` config asks of SEED / SEED-IV: 62 channels or ``channels`` at 200 Hz,
    ``tmax`` s each. Raises ConfigError for a window longer than any recording."""
    pre = cfg.preprocessing()
    channels = pre.channels or SEED_CHANNELS
    return DataShape(len(channels), n_samples(pre.tmax * SFREQ, cfg), SFREQ, len(_spec(cfg.dataset).classes),
                     tuple(channels))


def _cv_spec(dataset: str) -> DatasetSpec:
    return DatasetSpec(dataset, CV_TASKS, partial(load_seed_epochs, dataset=dataset), cv_shape, defaults=CV_DEFAULTS,
                       check=check_cv_config, own_schemes=True, whole_clips=True)


#: SEED (Zheng & Lu 2015, IEEE TAMD 7(3):162-175) and SEED-IV (Zheng et al. 2019, IEEE Trans. Cybern.
#: 49(3):1110-1122): windows of the raw EEG, each film clip's windows on one side of every split.
SEED_SPEC, SEED_IV_SPEC = _cv_spec("seed"), _cv_spec("seed_iv")


__all__ = [
    "BANDS",
    "CV_DEFAULTS",
    "CV_SCHEMES",
    "CV_TASKS",
    "FEATURES",
    "N_SESSIONS",
    "N_SUBJECTS",
    "SEED_CHANNELS",
    "SEED_CLASSES",
    "SEED_IV_CLASSES",
    "SEED_IV_LABELS",
    "SEED_IV_SPEC",
    "SEED_SPEC",
    "SFREQ",
    "FeatureTrials",
    "check_cv_config",
    "cv_shape",
    "load_seed_epochs",
    "load_seed_features",
    "load_seed_raw",
    "seed_protocol_folds",
    "seed_protocol_split",
]
