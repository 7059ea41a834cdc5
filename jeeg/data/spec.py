"""What jeeg knows of a dataset before it reads a file: its :class:`DatasetSpec`.

Each data module owns the spec of its datasets (:data:`jeeg.data.eegmmidb.SPEC`,
:data:`jeeg.data.sleep.SLPDB_SPEC`, ..., MOABB's through :func:`jeeg.data.moabb_datasets.moabb_spec`):
its tasks, the ``jeeg cv`` defaults that differ from :class:`jeeg.config.CVConfig`'s, its own
configuration checks, the trial shape a configuration gives, and its loader.
:func:`jeeg.data.dataset_spec` finds a spec by name, :func:`jeeg.validate.validate` asks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

from jeeg.data.dataset import EpochsDataset
from jeeg.errors import ConfigError

#: Most samples a trial may have (a day at 1 kHz is 8.6e7).
MAX_SAMPLES = 1e8


class DataShape(NamedTuple):
    """What the model sees of the data, from the config alone (no trial is read, except where a
    spec says so: MOABB).

    ``n_chans`` channels of ``n_times`` samples at ``sfreq`` Hz, ``n_classes`` classes;
    ``ch_names``: the channels' names in order, or None where only the recording tells
    (sleep datasets)."""

    n_chans: int
    n_times: int
    sfreq: float
    n_classes: int
    ch_names: tuple[str, ...] | None


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset as ``jeeg cv`` sees it.

    Attributes
    ----------
    name : str
        The value of the ``dataset`` key.
    tasks : tuple of str
        The values ``task`` may take.
    load : callable
        ``(subjects, task, *, runs, data_dir, download, skip_missing_runs, cache_dir, preprocessing,
        progress) -> EpochsDataset``, trials in µV.
    shape : callable
        ``cfg -> DataShape``: the trials a configuration asks for, without reading them; raises
        ConfigError for a request the dataset cannot serve (subjects, runs, channels, window).
    defaults : mapping
        ``jeeg cv`` keys whose default differs for this dataset (applied by
        :func:`jeeg.config.make_config` to the keys a config does not set).
    check : callable, optional
        ``cfg -> cfg``: the dataset's own rules, which may complete the config; None: none.
    own_schemes : bool
        ``check`` decides which split schemes and fold counts apply (SEED / SEED-IV); otherwise
        :data:`jeeg.splits.SCHEMES` and the generic fold checks do.
    whole_clips : bool
        Trials of one recording block (a film clip) are kept on one side of every split.
    """

    name: str
    tasks: tuple[str, ...]
    load: Callable[..., EpochsDataset]
    shape: Callable[[Any], DataShape]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[Any], Any] | None = None
    own_schemes: bool = False
    whole_clips: bool = False


def n_samples(n: float, cfg) -> int:
    """Samples of one trial (``n`` = window in s times Hz), refusing windows no recording holds.

    Raises
    ------
    ConfigError
        A window of more than :data:`MAX_SAMPLES` samples, or no sample at all.
    """
    if not math.isfinite(n) or n > MAX_SAMPLES:
        raise ConfigError(f"tmin={cfg.tmin}, tmax={cfg.tmax}, resample={cfg.resample}: a trial of {n:.3g} samples is "
                          f"longer than any recording (at most {MAX_SAMPLES:.0e}); shorten the window")
    return round(n)


__all__ = ["MAX_SAMPLES", "DataShape", "DatasetSpec", "n_samples"]
