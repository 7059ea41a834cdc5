"""jeeg: JAX/Flax EEG decoding research at accelerator speed."""

from jeeg.errors import ConfigError, DataError, JeegError, LeakageError, MissingDataError, SplitError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "JeegError",
    "LeakageError",
    "MissingDataError",
    "SplitError",
    "__version__",
]
