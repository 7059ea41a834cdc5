"""Sleep-staging datasets for ``jeeg cv`` (``dataset=slpdb`` or ``dataset=sleep_edf``).

Each loader turns whole-night polysomnograms into scored 30-s epochs with the preprocessing of the
cross-modal distillation reference (Joshi et al., arXiv 2112.07252 / 2211.13125; code
github.com/acrophase/Sleep_Staging_KD @ e40bcef, ``Dataset_split/*.py``): every epoch min-max scaled to [0, 1] per
channel, then FFT-resampled to 200 Hz (6000 samples) — see :mod:`jeeg.data.psg`. The band-pass
and epoch-window keys of :class:`~jeeg.data.eegmmidb.Preprocessing` do not apply to sleep
recordings and are not used; ``resample`` (Hz, default 200) sets the rate; ``channels`` picks the
leads. Unscored epochs (?, movement time) are dropped and counted in ``info["unscored"]``.

* ``slpdb`` — MIT-BIH Polysomnographic Database (Ichimaru & Moody 1999; PhysioNet): 18 WFDB
  records of 16 subjects at 250 Hz, ECG + one EEG lead, R&K stages per 30 s. The record
  ``slpNN[a|b]`` is subject NN, run 1 (a or none) / 2 (b). Default channels ``("EEG", "ECG")``
  (``"EEG"``: the record's single EEG lead, which differs between records: C4-A1, C3-O1 or
  O2-A1). Files: ``<data_dir>/slpdb/<record>.{hea,dat,st}``; ``download=True`` fetches them with
  ``wfdb.dl_database``.
* ``sleep_edf`` — Sleep-EDF Expanded, sleep-cassette (Kemp et al. 2000, IEEE TBME 47(9); PhysioNet),
  through MNE (``mne.datasets.sleep_physionet.age``): subjects 0-82, nights (``runs``) 1 and 2;
  default channels ``("EEG Fpz-Cz", "EEG Pz-Oz")``. Files: ``<data_dir>/physionet-sleep-data/
  SC4ssN*-PSG.edf`` and ``SC4ssN*-Hypnogram.edf``.

``task`` is ``sleep_4class`` (W / Light / Deep / REM), ``sleep_3class`` (W / NREM / REM) or
``sleep_5class`` (W / N1 / N2 / N3 / REM).
"""

from __future__ import annotations

import re
from pathlib import Path

from jeeg.data.dataset import EpochsDataset
from jeeg.data.psg import SCHEMES, WINDOW_S, read_psg_edf, read_wfdb_psg
from jeeg.data.spec import DataShape, DatasetSpec, n_samples
from jeeg.errors import ConfigError, MissingDataError

SLPDB_RECORDS = ("slp01a", "slp01b", "slp02a", "slp02b", "slp03", "slp04", "slp14", "slp16", "slp32", "slp37",
                 "slp41", "slp45", "slp48", "slp59", "slp60", "slp61", "slp66", "slp67x")
SLEEP_TASKS = {"sleep_4class": "4class", "sleep_3class": "3class", "sleep_5class": "5class"}


def _stages(task) -> str:
    tasks = [task] if isinstance(task, str) else list(task)
    if len(tasks) != 1 or tasks[0] not in SLEEP_TASKS:
        raise ConfigError(f"sleep datasets take one task of {', '.join(SLEEP_TASKS)}; got {tasks}")
    return SLEEP_TASKS[tasks[0]]


def _slpdb_subjects() -> dict[int, list[str]]:
    """slpdb subject → its records (``slpNN[a|b]`` is subject NN)."""
    by_subject: dict[int, list[str]] = {}
    for rec in SLPDB_RECORDS:
        m = re.fullmatch(r"slp(\d+)([a-z]?)", rec)
        by_subject.setdefault(int(m.group(1)), []).append(rec)
    return by_subject


def check_request(dataset: str, subjects, runs=None) -> None:
    """The checks the sleep loaders make before they look for any file (also run by
    :func:`jeeg.validate.validate`).

    Raises
    ------
    ConfigError
        A subject the dataset does not have (slpdb: those of :data:`SLPDB_RECORDS`; sleep_edf:
        0..82), or runs other than 1 and 2 (slpdb: record a / b; sleep_edf: night 1 / 2).
    """
    if runs is not None and (bad := [r for r in runs if r not in (1, 2)]):
        raise ConfigError(f"runs {bad}: {dataset} runs are 1 and 2 ({'records a / b' if dataset == 'slpdb' else 'nights'})")
    if dataset == "slpdb":
        by_subject = _slpdb_subjects()
        if missing := [s for s in subjects if s not in by_subject]:
            raise ConfigError(f"slpdb has no subject(s) {missing}; its subjects are {sorted(by_subject)}")
    elif bad := [s for s in subjects if not 0 <= s <= 82]:
        raise ConfigError(f"Sleep-EDF has no subject(s) {bad}; its sleep-cassette subjects are 0..82")


def _root(data_dir) -> Path:
    from jeeg.data.eegmmidb import resolve_data_dir

    return Path(resolve_data_dir(data_dir))


def _concat(parts: list[EpochsDataset], name: str) -> EpochsDataset:
    from dataclasses import replace

    ds = EpochsDataset.concatenate(parts)
    unscored: dict[str, int] = {}
    for p in parts:
        for k, v in p.info.get("unscored", {}).items():
            unscored[k] = unscored.get(k, 0) + int(v)
    return replace(ds, info={"dataset": name, "records": [p.info.get("record") for p in parts], "unscored": unscored,
                             "n_unscored": sum(unscored.values()), "channels": parts[0].info.get("channels")})


def load_slpdb(subjects, task, *, runs=None, data_dir=None, download=False, skip_missing_runs=False,
               cache_dir=None, preprocessing=None, progress=None) -> EpochsDataset:
    """Scored epochs of the slpdb records of ``subjects`` (runs: 1 = record a or the only one, 2 = b).

    Returns
    -------
    EpochsDataset
        ``X`` (n_epochs, n_chans, 6000) min-max scaled per epoch (unitless, [0, 1] before
        resampling), ``subject``/``run`` from the record name, ``trial`` the epoch's index in the
        night, ``onset`` in s.

    Raises
    ------
    ConfigError
        A task other than the sleep tasks, or subjects without a record.
    MissingDataError
        A record's files absent (the message names them; ``download=True`` fetches them).
    DataError
        From :func:`jeeg.data.psg.read_wfdb_psg` (missing channel, bad annotations).
    """
    stages = _stages(task)
    pre = preprocessing
    channels = list(pre.channels) if pre is not None and pre.channels else ["EEG", "ECG"]
    sfreq = float(pre.resample) if pre is not None and pre.resample else 200.0
    check_request("slpdb", subjects, runs)
    by_subject = _slpdb_subjects()
    records = [r for s in subjects for r in by_subject[s]
               if runs is None or (2 if r.endswith("b") else 1) in runs]
    folder = _root(data_dir) / "slpdb"
    absent = [r for r in records if not (folder / f"{r}.dat").is_file()]
    if absent and download:
        import wfdb

        folder.mkdir(parents=True, exist_ok=True)
        wfdb.dl_database("slpdb", str(folder), records=absent)
    elif absent and not skip_missing_runs:
        raise MissingDataError(f"slpdb records {absent} have no signal file in {folder} (<record>.dat); pass "
                               "download=True (--download) to fetch them from PhysioNet, or skip_missing_runs=true")
    records = [r for r in records if (folder / f"{r}.dat").is_file()]
    if not records:
        raise MissingDataError(f"no slpdb record of subjects {list(subjects)} with signals in {folder}")
    parts = []
    for rec in records:
        if progress is not None:
            progress(f"reading slpdb {rec}")
        parts.append(read_wfdb_psg(folder / rec, channels, stages=stages, sfreq=sfreq, dataset="slpdb"))
    return _concat(parts, "slpdb")


def load_sleep_edf(subjects, task, *, runs=None, data_dir=None, download=False, skip_missing_runs=False,
                   cache_dir=None, preprocessing=None, progress=None) -> EpochsDataset:
    """Scored epochs of Sleep-EDF sleep-cassette nights (``runs``: nights 1, 2) of ``subjects`` (0-82).

    Returns and raises as :func:`load_slpdb` (files read with :func:`jeeg.data.psg.read_psg_edf`).
    """
    stages = _stages(task)
    check_request("sleep_edf", subjects, runs)
    pre = preprocessing
    channels = list(pre.channels) if pre is not None and pre.channels else ["EEG Fpz-Cz", "EEG Pz-Oz"]
    sfreq = float(pre.resample) if pre is not None and pre.resample else 200.0
    nights = list(runs) if runs is not None else [1, 2]
    root = _root(data_dir)
    folder = root / "physionet-sleep-data"
    pairs = []
    for s in subjects:
        for n in nights:
            psg = sorted(folder.glob(f"SC4{s:02d}{n}*-PSG.edf"))
            hyp = sorted(folder.glob(f"SC4{s:02d}{n}*-Hypnogram.edf"))
            if (not psg or not hyp) and download:
                import mne

                mne.datasets.sleep_physionet.age.fetch_data([s], recording=[n], path=str(root), on_missing="warn")
                psg, hyp = sorted(folder.glob(f"SC4{s:02d}{n}*-PSG.edf")), sorted(folder.glob(f"SC4{s:02d}{n}*-Hypnogram.edf"))
            if not psg or not hyp:
                if skip_missing_runs:
                    continue
                raise MissingDataError(f"Sleep-EDF subject {s} night {n}: no SC4{s:02d}{n}*-PSG.edf / -Hypnogram.edf "
                                       f"in {folder}; pass download=True (--download) or skip_missing_runs=true")
            pairs.append((s, n, psg[0], hyp[0]))
    if not pairs:
        raise MissingDataError(f"no Sleep-EDF night of subjects {list(subjects)} in {folder}")
    parts = []
    for s, n, psg, hyp in pairs:
        if progress is not None:
            progress(f"reading {psg.name}")
        parts.append(read_psg_edf(psg, hyp, channels, stages=stages, sfreq=sfreq, subject=s, run=n,
                                  dataset="sleep_edf"))
    return _concat(parts, "sleep_edf")


def cv_shape(cfg) -> DataShape:
    """The examples a ``jeeg cv`` config asks of slpdb / Sleep-EDF: 30-s windows at ``resample``
    (default 200) Hz of ``channels`` (default slpdb: EEG and ECG; Sleep-EDF: Fpz-Cz and Pz-Oz).

    Raises
    ------
    ConfigError
        Not exactly one sleep task; :func:`check_request`'s (unknown subject or record).
    """
    _stages(cfg.task)  # one task
    check_request(cfg.dataset, cfg.subjects, cfg.runs)
    pre = cfg.preprocessing()
    default = ("EEG", "ECG") if cfg.dataset == "slpdb" else ("EEG Fpz-Cz", "EEG Pz-Oz")
    sfreq = pre.resample or 200.0
    return DataShape(len(pre.channels or default), n_samples(WINDOW_S * sfreq, cfg), sfreq,
                     len(SCHEMES[SLEEP_TASKS[cfg.task[0]]][0]), None)


#: The MIT-BIH Polysomnographic Database (Ichimaru & Moody 1999) and Sleep-EDF (Kemp et al. 2000).
SLPDB_SPEC = DatasetSpec("slpdb", tuple(SLEEP_TASKS), load_slpdb, cv_shape)
SLEEP_EDF_SPEC = DatasetSpec("sleep_edf", tuple(SLEEP_TASKS), load_sleep_edf, cv_shape)


__all__ = ["SLEEP_EDF_SPEC", "SLEEP_TASKS", "SLPDB_RECORDS", "SLPDB_SPEC", "check_request", "cv_shape", "load_sleep_edf",
           "load_slpdb"]
