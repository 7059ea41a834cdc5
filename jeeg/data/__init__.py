"""EEG datasets as :class:`EpochsDataset` (trials in µV, shape (n_trials, n_chans, n_times))."""

from __future__ import annotations

from jeeg.data import eegmmidb as _eegmmidb
from jeeg.data import seed as _seed
from jeeg.data import sleep as _sleep
from jeeg.data.dataset import EpochsDataset, standardize_trials
from jeeg.data.eegmmidb import TASKS, Preprocessing, load_eegmmidb, resolve_data_dir
from jeeg.data.moabb_datasets import PREFIX as MOABB_PREFIX
from jeeg.data.moabb_datasets import moabb_spec
from jeeg.data.spec import DataShape, DatasetSpec
from jeeg.errors import ConfigError
from jeeg.splits import SCHEMES

#: Dataset name -> its :class:`DatasetSpec` (each owned by its data module). ``moabb:NAME`` names
#: any MOABB dataset besides these (:func:`dataset_spec`).
SPECS: dict[str, DatasetSpec] = {s.name: s for s in (_eegmmidb.SPEC, _sleep.SLPDB_SPEC, _sleep.SLEEP_EDF_SPEC,
                                                     _seed.SEED_SPEC, _seed.SEED_IV_SPEC)}
#: Datasets of this process added by :func:`register_dataset` (a user's loader, trials in memory).
REGISTERED: dict[str, DatasetSpec] = {}
#: Dataset name -> loader ``(subjects, task, **kw) -> EpochsDataset`` (from :data:`SPECS`).
DATASETS = {name: s.load for name, s in SPECS.items()}
#: Dataset name -> its task names (from :data:`SPECS`).
DATASET_TASKS = {name: s.tasks for name, s in SPECS.items()}
#: Dataset name -> ``jeeg cv`` defaults that differ from :class:`jeeg.config.CVConfig`'s (from :data:`SPECS`).
DATASET_DEFAULTS = {name: dict(s.defaults) for name, s in SPECS.items() if s.defaults}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Make ``spec`` a dataset of this process (``dataset=<spec.name>``), replacing one registered
    under that name before: a user's own loader, or trials in memory
    (:func:`jeeg.data.spec.memory_spec`, what :func:`jeeg.run.cross_validate` registers).

    Raises
    ------
    ConfigError
        ``spec.name`` is one of jeeg's datasets or starts with ``moabb:``.
    """
    if spec.name in SPECS or spec.name.startswith(MOABB_PREFIX):
        raise ConfigError(f"register_dataset: {spec.name!r} is one of jeeg's datasets; give your dataset another name")
    REGISTERED[spec.name] = spec
    return spec


def dataset_spec(name) -> DatasetSpec:
    """The :class:`DatasetSpec` of dataset ``name``: a key of :data:`SPECS` or :data:`REGISTERED`,
    or ``moabb:NAME`` (:func:`jeeg.data.moabb_datasets.moabb_spec`).

    Raises
    ------
    ConfigError
        An unknown name (the message lists the datasets), or a MOABB one without MOABB installed.
    """
    if isinstance(name, str) and name.startswith(MOABB_PREFIX):
        return moabb_spec(name[len(MOABB_PREFIX):])
    try:
        return SPECS[name] if name in SPECS else REGISTERED[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(SPECS)}, or moabb:NAME "
                          "(a dataset of moabb.datasets)") from None


def dataset_defaults(name) -> dict:
    """The ``jeeg cv`` defaults of dataset ``name`` ({} for a name :func:`dataset_spec` refuses: the
    configuration check names it)."""
    try:
        return dict(dataset_spec(name).defaults)
    except ConfigError:
        return {}


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
    name = cfg.dataset
    if not (isinstance(name, str) and (name.startswith(MOABB_PREFIX) or name in SPECS or name in REGISTERED)):
        raise ConfigError(f"dataset={cfg.dataset!r} is unknown; datasets: {', '.join(SPECS)}, or moabb:NAME "
                          "(a dataset of moabb.datasets)")
    spec = dataset_spec(cfg.dataset)
    if bad := [t for t in cfg.task if t not in spec.tasks]:
        raise ConfigError(f"task {bad} is not a task of dataset={cfg.dataset!r}; its tasks: {', '.join(spec.tasks)}")
    if not spec.own_schemes and cfg.scheme not in SCHEMES:
        only = " (seed_protocol is the protocol of dataset=seed|seed_iv)" if cfg.scheme == "seed_protocol" else ""
        raise ConfigError(f"scheme={cfg.scheme!r} is not a split scheme for dataset={cfg.dataset!r}{only}; use one of "
                          f"{', '.join(SCHEMES)}")
    return spec.check(cfg) if spec.check is not None else cfg


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
    return dataset_spec(name).load(subjects, task, **kw)


__all__ = [
    "DATASETS",
    "DATASET_DEFAULTS",
    "DATASET_TASKS",
    "REGISTERED",
    "SPECS",
    "TASKS",
    "DataShape",
    "DatasetSpec",
    "EpochsDataset",
    "Preprocessing",
    "check_config",
    "dataset_defaults",
    "dataset_spec",
    "load_dataset",
    "load_eegmmidb",
    "register_dataset",
    "resolve_data_dir",
    "standardize_trials",
]
