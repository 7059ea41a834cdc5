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

import numpy as np

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


def memory_spec(ds: EpochsDataset, name: str = "memory") -> DatasetSpec:
    """The :class:`DatasetSpec` of trials already in memory (a user's arrays or ``mne.Epochs``, as
    :meth:`EpochsDataset.from_arrays` / :meth:`EpochsDataset.from_epochs` make them), for
    :func:`jeeg.data.register_dataset`.

    The trials are used as they are: the defaults are all of their subjects and tasks, their
    window (``tmin``, ``tmax = tmin + n_times / sfreq``) and no filter or resampling.

    Raises
    ------
    ConfigError
        (from its checks) subjects or tasks the trials do not hold; a band-pass, resampling, channel
        subset, ``runs`` or a window other than the trials' own (filter, resample or crop them
        before, e.g. with MNE).
    """
    tmax = float(ds.tmin + ds.n_times / ds.sfreq)
    defaults = {"subjects": tuple(ds.subjects), "task": tuple(ds.tasks), "l_freq": None, "h_freq": None,
                "resample": None, "tmin": float(ds.tmin), "tmax": tmax}

    def load(subjects, task, **kw) -> EpochsDataset:
        tasks = [task] if isinstance(task, str) else list(task)
        return ds.subset(np.isin(ds.subject, np.atleast_1d(subjects)) & np.isin(ds.task, tasks))

    def check(cfg):
        if missing := sorted(set(int(s) for s in cfg.subjects) - set(ds.subjects)):
            raise ConfigError(f"subjects {missing}: the {name} trials hold subjects {ds.subjects}")
        changed = [k for k in ("l_freq", "h_freq", "resample") if getattr(cfg, k) is not None]
        changed += [k for k in ("channels", "runs") if getattr(cfg, k)]
        if abs(cfg.tmin - ds.tmin) > 1e-9 or abs(cfg.tmax - tmax) > 1e-9:
            changed.append(f"tmin/tmax ({cfg.tmin}, {cfg.tmax} s; the trials span {ds.tmin:g}..{tmax:g} s)")
        if changed:
            raise ConfigError(f"{', '.join(changed)}: the {name} trials are used as they are; filter, resample, pick or "
                              "crop them before (e.g. with MNE), and remove these keys")
        return cfg

    def shape(cfg) -> DataShape:
        return DataShape(ds.n_chans, ds.n_times, float(ds.sfreq), ds.n_classes, tuple(ds.ch_names))

    return DatasetSpec(name, tuple(ds.tasks), load, shape, defaults=defaults, check=check)


__all__ = ["MAX_SAMPLES", "DataShape", "DatasetSpec", "memory_spec", "n_samples"]
