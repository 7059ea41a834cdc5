"""Cross-validation of trials in memory, from Python: :func:`cross_validate`.

The same run as ``jeeg cv`` (:class:`jeeg.cv.CVRun`: every scheme, alignment, baseline, statistic,
plot and the run directory), on a user's own ``mne.Epochs`` or arrays instead of a dataset name.
"""

from __future__ import annotations

from pathlib import Path

from jeeg.config import make_config
from jeeg.cv import CVRun
from jeeg.data import EpochsDataset, register_dataset
from jeeg.data.spec import memory_spec
from jeeg.errors import ConfigError
from jeeg.rundir import disk_errors, hold_run_dir, prepare_out_dir
from jeeg.validate import validate

#: The ``dataset`` name of the trials :func:`cross_validate` registers.
MEMORY = "memory"


def cross_validate(data, out, *, subject=None, resume: bool = False, overwrite: bool = False, **keys) -> dict:
    """Cross-validate jeeg's model and baselines on ``data``, as ``jeeg cv`` does, into run
    directory ``out``; returns the run's metrics (``metrics.json``).

    Parameters
    ----------
    data : EpochsDataset, mne.Epochs or list of mne.Epochs
        The trials, in µV (an ``Epochs`` is read with ``get_data(units="uV")``:
        :meth:`EpochsDataset.from_epochs`), used as they are: filter, resample and crop them
        before. Subjects, runs and tasks come from the dataset (:meth:`EpochsDataset.from_arrays`
        takes them for arrays).
    out : str or Path
        The run directory (refused when it holds results, unless ``resume`` or ``overwrite``).
    subject : int or array_like of int, shape (n_trials,), optional
        For an ``Epochs``: each trial's subject (default 1).
    resume, overwrite : bool
        As ``jeeg cv --resume`` / ``--overwrite``; a resumed run needs the same ``data``.
    **keys
        Any ``jeeg cv`` key (docs/cli.md): ``model``, ``scheme``, ``n_folds``, ``alignment``,
        ``baselines``, ``max_epochs``, ``seed``, ... ``subjects`` and ``task`` default to all the
        trials hold.

    Raises
    ------
    ConfigError
        A bad key or value (checked before any training, nothing written), ``dataset`` given, or
        ``out`` holding results without ``resume`` or ``overwrite``.
    RunDirError
        ``out`` is locked by another process, or cannot be written.
    """
    if "dataset" in keys:
        raise ConfigError("cross_validate: the data are the dataset; remove dataset=")
    ds = data if isinstance(data, EpochsDataset) else EpochsDataset.from_epochs(data, subject=1 if subject is None
                                                                                 else subject)
    register_dataset(memory_spec(ds, MEMORY))
    cfg = make_config({"dataset": MEMORY, **keys}, "cross_validate")
    validate(cfg, sweep=bool(cfg.grid))
    out = Path(out)
    with hold_run_dir(out), disk_errors(out):
        if not resume:
            prepare_out_dir(out, overwrite)
        return CVRun(cfg, out, resume=resume).run()


__all__ = ["MEMORY", "cross_validate"]
