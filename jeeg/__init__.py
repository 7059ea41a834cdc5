"""jeeg: JAX/Flax EEG decoding research at accelerator speed.

``jeeg.EEGClassifier`` (:mod:`jeeg.run.estimator`), ``jeeg.cross_validate``
(:mod:`jeeg.run.crossval`) and ``jeeg.EpochsDataset`` (:mod:`jeeg.data.dataset`) are loaded on first use, so that ``import jeeg.host`` and the other
light modules need neither MNE nor the models (the device check's preflight imports them on a
machine without MNE).
"""

from importlib import import_module

from jeeg.errors import ConfigError, DataError, JeegError, LeakageError, MissingDataError, SplitError

__version__ = "0.1.0"

#: Public names loaded on first access: name → module.
_LAZY = {"EEGClassifier": "jeeg.run.estimator", "EpochsDataset": "jeeg.data.dataset",
         "cross_validate": "jeeg.run.crossval"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jeeg' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DataError",
    "EEGClassifier",
    "EpochsDataset",
    "JeegError",
    "LeakageError",
    "MissingDataError",
    "SplitError",
    "__version__",
    "cross_validate",
]
