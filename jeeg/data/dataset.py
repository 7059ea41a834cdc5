"""The epoched dataset every jeeg model, split and baseline consumes.

An :class:`EpochsDataset` is a plain container of numpy arrays: trials (epochs) of EEG in µV,
integer labels and per-trial metadata (subject, run, task, trial number, cue onset). It is
deliberately framework-free so that it can be cached with ``np.savez`` and put on a device once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from jeeg.errors import DataError


@dataclass(frozen=True, eq=False)
class EpochsDataset:
    """Epoched EEG trials with labels and metadata.

    Attributes
    ----------
    X : ndarray, float32, shape (n_trials, n_chans, n_times)
        EEG in µV after filtering/resampling, **before** any standardisation.
    y : ndarray, int32, shape (n_trials,)
        Class index in ``range(len(class_names))``.
    subject, run, trial : ndarray, int32, shape (n_trials,)
        Subject number (1-based, as in the dataset), run number, and the trial's index among
        the kept cues of its run (0-based, in time order).
    task : ndarray of str, shape (n_trials,)
        Task name of each trial (see :data:`jeeg.data.eegmmidb.TASKS`).
    onset : ndarray, float64, shape (n_trials,)
        Cue onset in s from the start of the run.
    class_names : tuple of str
        Names of the classes, indexed by ``y``.
    sfreq : float
        Sampling frequency in Hz.
    ch_names : tuple of str
        Channel names (standard 10-05 spelling), one per row of ``X[i]``.
    tmin : float
        Time of the first sample relative to the cue, in s.
    info : dict
        Free-form provenance (dataset name, preprocessing settings, cache key).
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    run: np.ndarray
    trial: np.ndarray
    task: np.ndarray
    onset: np.ndarray
    class_names: tuple[str, ...]
    sfreq: float
    ch_names: tuple[str, ...]
    tmin: float = 0.0
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        if self.X.ndim != 3:
            raise DataError(f"EpochsDataset.X must be (n_trials, n_chans, n_times); got shape {self.X.shape}")
        if self.X.shape[1] != len(self.ch_names):
            raise DataError(
                f"EpochsDataset.X has {self.X.shape[1]} channels but ch_names lists {len(self.ch_names)}"
            )
        for name in ("y", "subject", "run", "trial", "task", "onset"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise DataError(f"EpochsDataset.{name} must have shape ({n},); got {arr.shape}")
        if n and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise DataError(
                f"EpochsDataset.y holds labels outside 0..{len(self.class_names) - 1} "
                f"(class_names={self.class_names})"
            )

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_arrays(cls, X, y, *, sfreq: float, ch_names: Sequence[str] | None = None, subject=None,
                    run=None, class_names: Sequence[str] | None = None, task: str = "task",
                    tmin: float = 0.0, info: dict | None = None) -> "EpochsDataset":
        """A dataset from in-memory arrays: a user's own recordings.

        Parameters
        ----------
        X : array_like, shape (n_trials, n_chans, n_times)
            EEG in µV (MNE's ``epochs.get_data(units="uV")``).
        y : array_like, shape (n_trials,)
            Labels of any type; class ``i`` is the ``i``-th of their sorted distinct values (or of
            ``class_names`` when given, which must list every label).
        sfreq : float
            Sampling frequency in Hz.
        ch_names : sequence of str, optional
            One per channel (default ``"EEG 000"``, ``"EEG 001"``, ...).
        subject, run : array_like of int, shape (n_trials,), optional
            Subject and session/run of each trial (default 1 for all: one subject, one run).
        class_names : sequence, optional
        task : str
            The task name of every trial.
        tmin : float
            Time of the first sample relative to the cue, in s.

        Raises
        ------
        DataError
            A shape that does not match, a non-finite sample, ``sfreq`` not > 0, or a label not in
            ``class_names``.
        """
        X = np.asarray(X, np.float32)
        if X.ndim != 3:
            raise DataError(f"X must be (n_trials, n_chans, n_times) in µV; got shape {X.shape}")
        n = len(X)
        y = np.asarray(y)
        if y.shape != (n,):
            raise DataError(f"y must have shape ({n},), one label per trial of X; got {y.shape}")
        if not np.isfinite(X).all():
            raise DataError(f"X holds {int((~np.isfinite(X)).sum())} NaN or infinite samples; drop or repair "
                            "those trials first")
        if not (np.isfinite(sfreq) and sfreq > 0):
            raise DataError(f"sfreq must be a sampling frequency > 0 in Hz; got {sfreq!r}")
        names = np.unique(y) if class_names is None else np.asarray(list(class_names))
        codes = np.searchsorted(names, y) if class_names is None else np.array(
            [list(names).index(v) if v in list(names) else -1 for v in y.tolist()])
        if (codes < 0).any():
            raise DataError(f"labels {sorted(set(np.asarray(y)[codes < 0].tolist()))} are not in class_names "
                            f"{list(names)}")
        ch = tuple(ch_names) if ch_names is not None else tuple(f"EEG {i:03d}" for i in range(X.shape[1]))
        per = lambda a, default: (np.full(n, default, np.int32) if a is None  # noqa: E731
                                  else np.asarray(a).astype(np.int32).reshape(n))
        run_ = per(run, 1)
        subject_ = per(subject, 1)
        trial = np.zeros(n, np.int32)
        for key in set(zip(subject_.tolist(), run_.tolist())):
            mask = (subject_ == key[0]) & (run_ == key[1])
            trial[mask] = np.arange(mask.sum())
        return cls(X=X, y=codes.astype(np.int32), subject=subject_, run=run_, trial=trial,
                   task=np.full(n, task), onset=np.zeros(n), class_names=tuple(str(c) for c in names),
                   sfreq=float(sfreq), ch_names=ch, tmin=float(tmin), info={"source": "arrays", **(info or {})})

    @classmethod
    def from_epochs(cls, epochs, *, subject=1, run=None, y=None, task: str = "task") -> "EpochsDataset":
        """A dataset from an ``mne.Epochs`` (or ``EpochsArray``): data in µV
        (``epochs.get_data(units="uV")``, the channels as picked), ``sfreq``, ``ch_names`` and
        ``tmin`` from the epochs, labels from ``y`` or else the event names of ``event_id``.

        Parameters
        ----------
        epochs : mne.BaseEpochs, or a list of them
            A list (what scikit-learn's indexing makes of an ``Epochs``: one per trial) is joined
            in its order; its parts must share ``sfreq``, channels and ``tmin``.
        subject : int or array_like of int, shape (n_trials,)
        run : int or array_like of int, optional
        y : array_like, shape (n_trials,), optional
            Default: ``epochs.events[:, 2]`` mapped to the names in ``epochs.event_id``.

        Raises
        ------
        DataError
            Parts that disagree on ``sfreq``, channels or ``tmin``; see :meth:`from_arrays`.
        """
        parts = list(epochs) if isinstance(epochs, (list, tuple)) else [epochs]
        if not parts:
            raise DataError("from_epochs: no epochs given")
        first = parts[0]
        for i, p in enumerate(parts[1:], 1):
            if (p.info["sfreq"], tuple(p.ch_names), p.tmin) != (first.info["sfreq"], tuple(first.ch_names), first.tmin):
                raise DataError(f"from_epochs: part {i} differs from part 0 in sfreq, channels or tmin "
                                f"({p.info['sfreq']} Hz, {len(p.ch_names)} channels, tmin {p.tmin} s vs "
                                f"{first.info['sfreq']} Hz, {len(first.ch_names)} channels, tmin {first.tmin} s)")
        X = np.concatenate([p.get_data(units="uV") for p in parts])
        n = len(X)
        if y is None:
            y = np.array([{c: name for name, c in p.event_id.items()}.get(int(code), str(int(code)))
                          for p in parts for code in p.events[:, 2]])
        sub = np.broadcast_to(np.asarray(subject), (n,))
        rn = None if run is None else np.broadcast_to(np.asarray(run), (n,))
        return cls.from_arrays(X, y, sfreq=float(first.info["sfreq"]), ch_names=first.ch_names, subject=sub,
                               run=rn, task=task, tmin=float(first.tmin), info={"source": "mne.Epochs"})

    # ----------------------------------------------------------------------------- shape
    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_chans(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_times(self) -> int:
        return int(self.X.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def subjects(self) -> list[int]:
        """Sorted distinct subject numbers."""
        return sorted(int(s) for s in np.unique(self.subject))

    @property
    def tasks(self) -> list[str]:
        """Distinct task names in order of first appearance."""
        return list(dict.fromkeys(str(t) for t in self.task))

    def times(self) -> np.ndarray:
        """Sample times relative to the cue, in s, shape (n_times,)."""
        return self.tmin + np.arange(self.n_times) / self.sfreq

    # ----------------------------------------------------------------------------- selection
    def subset(self, idx: np.ndarray | Sequence[int]) -> "EpochsDataset":
        """Trials ``idx`` (integer indices or a boolean mask) as a new dataset."""
        idx = np.asarray(idx)
        return replace(
            self,
            X=self.X[idx],
            y=self.y[idx],
            subject=self.subject[idx],
            run=self.run[idx],
            trial=self.trial[idx],
            task=self.task[idx],
            onset=self.onset[idx],
        )

    def class_counts(self) -> dict[tuple[int, str], dict[str, int]]:
        """Trials per class for each (subject, task): ``{(subject, task): {class_name: count}}``."""
        out: dict[tuple[int, str], dict[str, int]] = {}
        keys = list(zip(self.subject.tolist(), self.task.tolist()))
        for key in dict.fromkeys(keys):
            mask = (self.subject == key[0]) & (self.task == key[1])
            counts = Counter(self.y[mask].tolist())
            out[(int(key[0]), str(key[1]))] = {c: int(counts.get(i, 0)) for i, c in enumerate(self.class_names)}
        return out

    @staticmethod
    def concatenate(parts: Sequence["EpochsDataset"]) -> "EpochsDataset":
        """Join datasets with identical ``class_names``, ``sfreq``, ``ch_names`` and ``n_times``.

        Raises
        ------
        DataError
            If the parts disagree on any of those, naming the first mismatch.
        """
        if not parts:
            raise DataError("cannot concatenate an empty list of EpochsDataset")
        first = parts[0]
        for p in parts[1:]:
            for attr in ("class_names", "sfreq", "ch_names", "tmin"):
                if getattr(p, attr) != getattr(first, attr):
                    raise DataError(
                        f"cannot concatenate datasets with different {attr}: "
                        f"{getattr(first, attr)!r} vs {getattr(p, attr)!r}"
                    )
            if p.n_times != first.n_times:
                raise DataError(f"cannot concatenate datasets with n_times {first.n_times} and {p.n_times}")
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return replace(
            first,
            X=cat("X"),
            y=cat("y"),
            subject=cat("subject"),
            run=cat("run"),
            trial=cat("trial"),
            task=cat("task"),
            onset=cat("onset"),
        )


def standardize_trials(X: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Per-trial, channel-wise z-score: each channel of each trial to zero mean, unit variance.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        Trials in any unit (µV in jeeg datasets).
    eps : float
        Added to the standard deviation so that flat channels map to zeros instead of NaN.

    Returns
    -------
    ndarray, float32, shape (n_trials, n_chans, n_times)
        Dimensionless standardised trials. Uses only each trial's own samples, so it cannot leak
        information between training and test trials.
    """
    X = np.asarray(X, dtype=np.float32)
    mean = X.mean(axis=-1, keepdims=True)
    std = X.std(axis=-1, keepdims=True)
    return ((X - mean) / (std + eps)).astype(np.float32)
