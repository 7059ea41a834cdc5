"""MOABB's datasets in ``jeeg cv``: ``dataset=moabb:NAME`` with a MOABB paradigm as the task.

``jeeg cv --set dataset=moabb:BNCI2014_001 --set task=LeftRightImagery`` reads the recordings
through MOABB (Aristimunha et al. 2023, Mother of all BCI Benchmarks, doi
10.5281/zenodo.10034223; Jayaram & Barachant 2018, J. Neural Eng. 15(6):066011, doi
10.1088/1741-2552/aadea0): its own download and cache (under ``MNE_DATA`` or MOABB's
``MNE_DATASETS_<SIGN>_PATH`` config), its paradigm's filtering and epoching. ``NAME`` is a class
of ``moabb.datasets`` (``FakeDataset`` generates its recordings in memory, offline, with seed 0).

The ``jeeg cv`` keys map onto the paradigm: ``l_freq``/``h_freq`` are its ``fmin``/``fmax`` in Hz
(default 8-32 Hz, MOABB's), ``tmin``/``tmax`` its window in s relative to the start of the
dataset's trial interval (default the whole interval), ``resample`` and ``channels`` its own.
Trials come in µV (``epochs.get_data(units="uV")``). A subject's sessions and runs become jeeg's
runs 1, 2, ... in MOABB's order. Every scheme of :data:`jeeg.splits.SCHEMES`, alignment, baseline
and statistic applies. MOABB is jeeg's optional extra (``pip install "jeeg[moabb]"``).

MOABB datasets declare no channel list or sampling frequency before a recording is read, so
:func:`jeeg.validate.validate` reads the first subject's trials (through MOABB's cache) to learn
the trial shape; every other check comes first.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from jeeg.data.dataset import EpochsDataset
from jeeg.data.spec import DataShape, DatasetSpec
from jeeg.errors import ConfigError, choice_error

PREFIX = "moabb:"
#: MOABB paradigms ``task`` may name (motor imagery; each takes ``fmin``, ``fmax``, ``tmin``,
#: ``tmax``, ``resample`` and ``channels``).
PARADIGMS: tuple[str, ...] = ("LeftRightImagery", "MotorImagery")


def _moabb():
    try:
        import moabb
        import moabb.datasets.utils
        import moabb.paradigms
    except ImportError:
        raise ConfigError("dataset=moabb:NAME reads data through MOABB, jeeg's optional extra: "
                          "pip install \"jeeg[moabb]\"") from None
    moabb.set_log_level("error")
    return moabb


@functools.lru_cache(maxsize=32)
def _dataset(name: str):
    """An instance of ``moabb.datasets.<name>`` (instantiating reads nothing); a dataset that
    generates its recordings (``FakeDataset``) gets ``seed=0``, so that its runs reproduce."""
    classes = {d.__name__: d for d in _moabb().datasets.utils.dataset_list}
    if name not in classes:
        raise choice_error("dataset", f"{PREFIX}{name}", [f"{PREFIX}{n}" for n in sorted(classes)], "MOABB dataset")
    cls = classes[name]
    return cls(seed=0) if "seed" in inspect.signature(cls).parameters else cls()


def _paradigm(task: str, pre, dataset):
    """The MOABB paradigm ``task`` with jeeg's preprocessing keys; refuses one the dataset cannot serve."""
    if task not in PARADIGMS:
        raise choice_error("task", task, PARADIGMS, "MOABB paradigm")
    if pre.l_freq is None or pre.h_freq is None:
        raise ConfigError(f"task={task}: MOABB's paradigms band-pass every trial; set both l_freq and h_freq (Hz)")
    paradigm = getattr(_moabb().paradigms, task)(
        fmin=pre.l_freq, fmax=pre.h_freq, tmin=pre.tmin, tmax=pre.tmax, resample=pre.resample,
        channels=list(pre.channels) if pre.channels else None)
    if not paradigm.is_valid(dataset):
        raise ConfigError(f"task={task}: MOABB dataset {type(dataset).__name__} (paradigm {dataset.paradigm!r}, events "
                          f"{', '.join(dataset.event_id)}) cannot be read with it; use another task of {', '.join(PARADIGMS)}")
    return paradigm


def _check_request(name: str, subjects, task, runs, skip_missing_runs, data_dir) -> None:
    dataset = _dataset(name)
    if bad := sorted(set(subjects) - set(dataset.subject_list)):
        raise ConfigError(f"subjects {bad} are not subjects of MOABB dataset {name}; its subjects: "
                          f"{min(dataset.subject_list)}..{max(dataset.subject_list)} ({len(dataset.subject_list)})")
    if len(task) != 1:
        raise ConfigError(f"task={list(task)}: a MOABB dataset takes one paradigm as its task ({', '.join(PARADIGMS)})")
    if runs is not None:
        raise ConfigError("runs: MOABB datasets are read whole (every session and run); remove runs")
    if skip_missing_runs:
        raise ConfigError("skip_missing_runs: MOABB downloads and reads whole subjects; remove it")
    if data_dir is not None:
        raise ConfigError("data_dir: MOABB keeps its own cache; set MNE_DATA (or MOABB's MNE_DATASETS_<SIGN>_PATH "
                          "config) instead of data_dir")


def load_moabb(name: str, subjects, task, *, runs=None, data_dir=None, download=False, skip_missing_runs=False,
               cache_dir=None, preprocessing=None, progress=None) -> EpochsDataset:
    """Trials of ``subjects`` of MOABB dataset ``name`` through paradigm ``task`` (one of
    :data:`PARADIGMS`), in µV, shape (n_trials, n_chans, n_times).

    MOABB downloads what its cache lacks (``download`` is MOABB's to decide); ``cache_dir`` is
    unused (MOABB caches).

    Raises
    ------
    ConfigError
        An unknown dataset or paradigm, subjects the dataset lacks, ``runs``, ``skip_missing_runs``
        or ``data_dir`` set, a paradigm the dataset cannot serve, no band-pass, MOABB not installed.
    """
    tasks = [task] if isinstance(task, str) else list(task)
    subjects = [int(s) for s in np.atleast_1d(subjects)]
    _check_request(name, subjects, tasks, runs, skip_missing_runs, data_dir)
    dataset = _dataset(name)
    paradigm = _paradigm(tasks[0], preprocessing, dataset)
    if progress is not None:
        progress(f"MOABB {name}, {tasks[0]}: {len(subjects)} subject(s)")
    epochs, y, meta = paradigm.get_data(dataset, subjects=subjects, return_epochs=True)
    sessions = list(zip(meta["subject"], meta["session"].astype(str), meta["run"].astype(str)))
    codes: dict[tuple, int] = {}
    run = np.array([codes.setdefault(k, sum(1 for c in codes if c[0] == k[0]) + 1) for k in sessions])
    pre = None if preprocessing is None else preprocessing.to_dict()
    return EpochsDataset.from_arrays(
        epochs.get_data(units="uV"), np.asarray(y), sfreq=float(epochs.info["sfreq"]), ch_names=epochs.ch_names,
        subject=meta["subject"].to_numpy(int), run=run, class_names=sorted(paradigm.used_events(dataset)),
        task=tasks[0], tmin=float(epochs.tmin),
        info={"source": f"{PREFIX}{name}", "paradigm": tasks[0], "preprocessing": pre,
              "runs": {f"{s}/{sess}/{r}": c for (s, sess, r), c in codes.items()}})


@functools.lru_cache(maxsize=8)
def _first_subject_shape(name: str, task: str, subject: int, pre) -> DataShape:
    ds = load_moabb(name, [subject], task, preprocessing=pre)
    return DataShape(ds.X.shape[1], ds.X.shape[2], float(ds.sfreq), len(ds.class_names), tuple(ds.ch_names))


def _shape(cfg) -> DataShape:
    _check_request(cfg.dataset[len(PREFIX):], cfg.subjects, cfg.task, cfg.runs, cfg.skip_missing_runs, cfg.data_dir)
    _paradigm(cfg.task[0], cfg.preprocessing(), _dataset(cfg.dataset[len(PREFIX):]))
    return _first_subject_shape(cfg.dataset[len(PREFIX):], cfg.task[0], int(cfg.subjects[0]), cfg.preprocessing())


@functools.lru_cache(maxsize=32)
def moabb_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``dataset=moabb:<name>``: defaults all the dataset's subjects,
    MotorImagery (every imagery class), 8-32 Hz and the dataset's whole trial interval.

    Raises
    ------
    ConfigError
        MOABB not installed, or ``name`` not a dataset of ``moabb.datasets`` (the message lists them).
    """
    dataset = _dataset(name)
    defaults = {"task": ("MotorImagery",), "subjects": tuple(int(s) for s in dataset.subject_list),
                "l_freq": 8.0, "h_freq": 32.0, "tmin": 0.0, "tmax": float(dataset.interval[1] - dataset.interval[0])}
    return DatasetSpec(f"{PREFIX}{name}", PARADIGMS, functools.partial(load_moabb, name), _shape, defaults=defaults)


__all__ = ["PARADIGMS", "PREFIX", "load_moabb", "moabb_spec"]
