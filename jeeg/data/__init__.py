"""EEG datasets as :class:`EpochsDataset` (trials in µV, shape (n_trials, n_chans, n_times))."""

from __future__ import annotations

from functools import partial
from typing import Callable

from jeeg.data import seed as _seed
from jeeg.data.dataset import EpochsDataset, standardize_trials
from jeeg.data.eegmmidb import TASKS, Preprocessing, load_eegmmidb, resolve_data_dir
from jeeg.data.sleep import SLEEP_TASKS, load_sleep_edf, load_slpdb
from jeeg.errors import ConfigError

#: Dataset name -> loader ``(subjects, task, **kw) -> EpochsDataset``.
DATASETS: dict[str, Callable[..., EpochsDataset]] = {
    "eegmmidb": load_eegmmidb, "slpdb": load_slpdb, "sleep_edf": load_sleep_edf,
    "seed": partial(_seed.load_seed_epochs, dataset="seed"), "seed_iv": partial(_seed.load_seed_epochs, dataset="seed_iv"),
}  # fmt: skip
#: Dataset name -> its task names (checked by :func:`check_config` before any file is read).
DATASET_TASKS: dict[str, tuple[str, ...]] = {
    "eegmmidb": tuple(TASKS), "slpdb": tuple(SLEEP_TASKS), "sleep_edf": tuple(SLEEP_TASKS),
    "seed": _seed.CV_TASKS, "seed_iv": _seed.CV_TASKS,
}  # fmt: skip
#: Dataset name -> ``jeeg cv`` defaults that differ from :class:`jeeg.config.CVConfig`'s, applied by
#: :func:`jeeg.config.make_config` to the keys a config does not set.
DATASET_DEFAULTS: dict[str, dict] = {"seed": _seed.CV_DEFAULTS, "seed_iv": _seed.CV_DEFAULTS}


def check_config(cfg):
    """Check a :class:`jeeg.config.CVConfig`'s dataset, task and scheme before any file is read.

    Returns the config, possibly completed by the dataset's own check (SEED / SEED-IV:
    :func:`jeeg.data.seed.check_cv_config`).

    Raises
    ------
    ConfigError
        Naming the key and the valid choices: an unknown dataset; a task the dataset does not
        have; a scheme the dataset cannot support (``seed_protocol`` outside SEED / SEED-IV;
        on SEED / SEED-IV, window-wise k-fold); and the dataset's own checks.
    """
    from jeeg.splits import SCHEMES

    if cfg.dataset not in DATASETS:
        raise ConfigError(f"dataset={cfg.dataset!r} is unknown; datasets: {', '.join(DATASETS)}")
    tasks = DATASET_TASKS[cfg.dataset]
    if bad := [t for t in cfg.task if t not in tasks]:
        raise ConfigError(f"task {bad} is not a task of dataset={cfg.dataset!r}; its tasks: {', '.join(tasks)}")
    if cfg.dataset in ("seed", "seed_iv"):
        return _seed.check_cv_config(cfg)
    if cfg.scheme not in SCHEMES:
        only = " (seed_protocol is the protocol of dataset=seed|seed_iv)" if cfg.scheme == "seed_protocol" else ""
        raise ConfigError(f"scheme={cfg.scheme!r} is not a split scheme for dataset={cfg.dataset!r}{only}; use one of "
                          f"{', '.join(SCHEMES)}")
    return cfg


def load_dataset(name: str, subjects, task, **kw) -> EpochsDataset:
    """Load ``task`` trials of ``subjects`` from dataset ``name`` (a key of :data:`DATASETS`).

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"eegmmidb"`` (PhysioNet EEGMMIDB; Schalk et al. 2004, IEEE TBME
        51(6):1034-1043; Goldberger et al. 2000, PhysioNet), the sleep datasets ``"slpdb"`` and
        ``"sleep_edf"`` (:mod:`jeeg.data.sleep`), or the emotion datasets ``"seed"`` and
        ``"seed_iv"`` (Zheng & Lu 2015, IEEE TAMD 7(3):162-175; Zheng et al. 2019, IEEE Trans.
        Cybern. 49(3):1110-1122; windows of the raw EEG, :func:`jeeg.data.seed.load_seed_epochs`).
    subjects, task, **kw
        Passed to the dataset's loader (see :func:`load_eegmmidb`).

    Returns
    -------
    EpochsDataset
        ``X`` float32 µV of shape (n_trials, n_chans, n_times), labels and metadata.

    Raises
    ------
    ConfigError
        If ``name`` is not a known dataset (the message lists the known ones), plus whatever the
        loader raises (ConfigError, MissingDataError, DataError).
    """
    try:
        loader = DATASETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}") from None
    return loader(subjects, task, **kw)


__all__ = [
    "DATASETS",
    "DATASET_DEFAULTS",
    "DATASET_TASKS",
    "TASKS",
    "EpochsDataset",
    "Preprocessing",
    "check_config",
    "load_dataset",
    "load_eegmmidb",
    "resolve_data_dir",
    "standardize_trials",
]
