"""EEG datasets as :class:`EpochsDataset` (trials in µV, shape (n_trials, n_chans, n_times))."""

from __future__ import annotations

from typing import Callable

from jeeg.data.dataset import EpochsDataset, standardize_trials
from jeeg.data.eegmmidb import TASKS, Preprocessing, load_eegmmidb, resolve_data_dir
from jeeg.data.sleep import load_sleep_edf, load_slpdb
from jeeg.errors import ConfigError

#: Dataset name -> loader ``(subjects, task, **kw) -> EpochsDataset``.
DATASETS: dict[str, Callable[..., EpochsDataset]] = {
    "eegmmidb": load_eegmmidb, "slpdb": load_slpdb, "sleep_edf": load_sleep_edf,
}


def load_dataset(name: str, subjects, task, **kw) -> EpochsDataset:
    """Load ``task`` trials of ``subjects`` from dataset ``name`` (a key of :data:`DATASETS`).

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"eegmmidb"`` (PhysioNet EEGMMIDB; Schalk et al. 2004, IEEE TBME
        51(6):1034-1043; Goldberger et al. 2000, PhysioNet), or the sleep datasets ``"slpdb"`` and
        ``"sleep_edf"`` (:mod:`jeeg.data.sleep`).
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
    "TASKS",
    "EpochsDataset",
    "Preprocessing",
    "load_dataset",
    "load_eegmmidb",
    "resolve_data_dir",
    "standardize_trials",
]
