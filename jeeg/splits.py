"""Subject-wise cross-validation splits with leakage guards.

Each scheme in :data:`SCHEMES` returns a list of :class:`Fold` (index arrays into an
:class:`~jeeg.data.dataset.EpochsDataset`) and runs :func:`check_no_leakage` and
:func:`check_fold_classes` on every fold before returning. Randomness comes only from
``np.random.default_rng`` seeded with ``seed`` and the subject (or fold) number: the same seed gives
identical folds, and one subject's within-subject folds do not depend on the other subjects.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from jeeg.errors import ConfigError, LeakageError, SplitError

_KFOLD, _VAL, _GROUPS = 0, 1, 2  # distinct random streams per purpose


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/validation/test split.

    Attributes
    ----------
    name : str
        ``"S001-f0"`` (within-subject), ``"loso-S003"`` or ``"groups-f2"``.
    scheme : str
        Key of :data:`SCHEMES` that made the fold.
    index : int
        Fold number within its subject (within-subject schemes) or within the scheme.
    train, val, test : ndarray, int64, shape (n_train,), (n_val,), (n_test,)
        Sorted, read-only trial indices into the dataset. ``val`` may be empty.
    test_subjects : tuple of int
        Subjects whose trials form ``test``.
    cross_subject : bool
        True when train/val/test must hold disjoint subjects (``loso``, ``subject_group_kfold``).
        (``eq=False``: folds compare by identity, as numpy arrays have no scalar ``==``.)
    """

    name: str
    scheme: str
    index: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_subjects: tuple[int, ...]
    cross_subject: bool

    def __post_init__(self) -> None:
        for part in ("train", "val", "test"):
            arr = np.sort(np.asarray(getattr(self, part), dtype=np.int64).ravel())
            arr.setflags(write=False)
            object.__setattr__(self, part, arr)
        object.__setattr__(self, "test_subjects", tuple(int(s) for s in self.test_subjects))

    @property
    def subject(self) -> int | None:
        """The single test subject, or None when the test part spans several subjects."""
        return self.test_subjects[0] if len(self.test_subjects) == 1 else None


# ------------------------------------------------------------------------------------ guards
def _preview(values: np.ndarray, limit: int = 10) -> str:
    items = [int(v) for v in values[:limit]]
    return f"{items}{' ...' if len(values) > limit else ''} ({len(values)} in all)"


def check_no_leakage(fold: Fold, subject: np.ndarray) -> None:
    """Check that no trial (and, for cross-subject folds, no subject) is in two parts.

    Parameters
    ----------
    fold : Fold
    subject : array of int, shape (n_trials,)
        Subject of every trial of the dataset the fold indexes.

    Raises
    ------
    SplitError
        An index outside ``0..n_trials-1``.
    LeakageError
        A trial in two of train/val/test, or (``fold.cross_subject``) a test subject with trials in
        train or val, or a validation subject in train; names the fold, trial indices, subjects.
    """
    subject = np.asarray(subject)
    parts = {"train": fold.train, "val": fold.val, "test": fold.test}
    for part, idx in parts.items():
        if idx.size and (idx[0] < 0 or idx[-1] >= subject.shape[0]):
            raise SplitError(
                f"fold {fold.name!r}: {part} indices out of range 0..{subject.shape[0] - 1} "
                f"(min {idx[0]}, max {idx[-1]})"
            )
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        common = np.intersect1d(parts[a], parts[b])
        if common.size:
            raise LeakageError(f"fold {fold.name!r}: trial indices {_preview(common)} are in both {a} and {b}")
    if not fold.cross_subject:
        return
    subj = {part: np.unique(subject[idx]) for part, idx in parts.items()}
    test_subj = np.union1d(subj["test"], np.asarray(fold.test_subjects, dtype=subject.dtype))
    for held, other in ((test_subj, "train"), (test_subj, "val"), (subj["val"], "train")):
        bad = np.intersect1d(held, subj[other])
        if bad.size:
            kind = "validation" if held is subj["val"] else "test"
            trials = parts[other][np.isin(subject[parts[other]], bad)]
            raise LeakageError(
                f"cross-subject fold {fold.name!r}: {kind} subject(s) {[int(s) for s in bad]} also "
                f"appear in {other} (trial indices {_preview(trials)})"
            )


def check_fold_classes(fold: Fold, y: np.ndarray, class_names: Sequence[str]) -> None:
    """Check that the training part holds at least one trial of every class.

    A validation part lacking a class is allowed (small subjects) and passes silently.

    Parameters
    ----------
    fold : Fold
    y : array of int, shape (n_trials,)
        Class index of every trial; ``class_names`` names them.

    Raises
    ------
    SplitError
        Naming the fold, its test subject(s) and the missing class names.
    """
    present = set(np.unique(np.asarray(y)[fold.train]).tolist())
    missing = [name for i, name in enumerate(class_names) if i not in present]
    if missing:
        raise SplitError(
            f"fold {fold.name!r} (test subject(s) {list(fold.test_subjects)}): the training part has no "
            f"trial of class(es) {missing}; use fewer folds (n_folds), a stratified scheme "
            f"('within_subject_stratified'), or drop the subject"
        )


# ----------------------------------------------------------------------------------- helpers
def _validate(y, subject, n_folds: int | None, val_fraction: float, seed: int):
    y, subject = np.asarray(y), np.asarray(subject)
    if y.ndim != 1 or subject.shape != y.shape or y.size == 0:
        raise SplitError(f"y and subject must be non-empty 1-D arrays of equal length; got {y.shape}, {subject.shape}")
    if not (np.issubdtype(y.dtype, np.integer) and np.issubdtype(subject.dtype, np.integer)) or y.min() < 0:
        raise SplitError(f"y must hold class indices >= 0 and subject integers; got dtypes {y.dtype}, {subject.dtype}")
    if n_folds is not None and (isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2):
        raise ConfigError(f"n_folds must be an integer >= 2; got {n_folds!r}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1); got {val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer; got {seed!r}")
    return y.astype(np.int64), subject.astype(np.int64)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(int(k) % 2**32 for k in keys)])


def _stratified_holdout(idx: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator, groups=None):
    """Split ``idx`` into (train, val) with ``round(fraction * len(idx))`` val trials, per-class
    largest-remainder quotas, at least one val trial for every class with >= 2 trials, and at least
    one trial of every class left in train.

    ``groups`` (array of int, shape (n_trials,), optional): draw whole groups instead of trials
    (e.g. the windows of one film clip, which share the clip's label and its content), with the
    same quotas counted in groups; every group must hold one class.

    Raises
    ------
    SplitError
        A group holding trials of two classes (names the group)."""
    if fraction == 0.0 or idx.size == 0:
        return idx, idx[:0]
    if groups is not None:
        keys, first, inverse = np.unique(np.asarray(groups)[idx], return_index=True, return_inverse=True)
        label = y[idx][first]
        if mixed := sorted({int(keys[g]) for g in np.flatnonzero(np.bincount(inverse, y[idx] != label[inverse]))}):
            raise SplitError(f"validation groups {mixed[:10]} hold trials of several classes; a group must have one label")
        _, val_groups = _stratified_holdout(np.arange(keys.size), label, fraction, rng)
        in_val = np.isin(inverse, val_groups)
        return idx[~in_val], idx[in_val]
    labels = y[idx]
    classes, counts = np.unique(labels, return_counts=True)
    quota = fraction * counts
    alloc = np.minimum(np.maximum(np.floor(quota).astype(int), (counts >= 2).astype(int)), counts - 1)
    spare = int(np.floor(fraction * idx.size + 0.5)) - int(alloc.sum())
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    while spare > 0 and (alloc < counts - 1).any():
        for i in order:
            if spare > 0 and alloc[i] < counts[i] - 1:
                alloc[i] += 1
                spare -= 1
    val = [rng.permutation(idx[labels == c])[:a] for c, a in zip(classes, alloc)]
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(idx, val), val


def _names(y: np.ndarray, class_names: Sequence[str] | None) -> tuple[str, ...]:
    if class_names is None:
        return tuple(str(i) for i in range(int(y.max()) + 1))
    if int(y.max()) >= len(class_names):
        raise SplitError(f"y holds label {int(y.max())} but class_names has {len(class_names)} entries")
    return tuple(class_names)


def _checked(folds: list[Fold], y, subject, names, hint: Callable[[Fold], str] | None = None) -> list[Fold]:
    """Run both guards on every fold; ``hint(fold)`` is appended to a missing-class error."""
    for fold in folds:
        check_no_leakage(fold, subject)
        try:
            check_fold_classes(fold, y, names)
        except SplitError as err:
            if hint is None:
                raise
            raise SplitError(f"{err} ({hint(fold)})") from None
    return folds


# ----------------------------------------------------------------------------------- schemes
def _within_subject(scheme, y, subject, n_folds, val_fraction, seed, class_names, shuffle) -> list[Fold]:
    y, subject = _validate(y, subject, n_folds, val_fraction, seed)
    names = _names(y, class_names)
    folds = []
    for s in np.unique(subject):
        idx = np.flatnonzero(subject == s)  # dataset order = time order
        counts = {names[c]: int(n) for c, n in zip(*np.unique(y[idx], return_counts=True))}
        if idx.size < n_folds:
            raise SplitError(f"subject {s} has {idx.size} trials {counts}, fewer than n_folds={n_folds}")
        if shuffle:
            state = int(_rng(seed, s, _KFOLD).integers(2**31 - 1))
            try:
                with warnings.catch_warnings():  # classes rarer than n_folds: check_fold_classes decides
                    warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
                    parts = list(StratifiedKFold(n_folds, shuffle=True, random_state=state).split(idx, y[idx]))
            except ValueError as err:
                raise SplitError(f"subject {s}: cannot make {n_folds} stratified folds from {counts}: {err}") from err
        else:
            parts = list(KFold(n_folds, shuffle=False).split(idx))
        for k, (tr, te) in enumerate(parts):
            train, val = _stratified_holdout(idx[tr], y, val_fraction, _rng(seed, s, _VAL, k))
            folds.append(Fold(f"S{s:03d}-f{k}", scheme, k, train, val, idx[te], (int(s),), False))
    return _checked(folds, y, subject, names)


def within_subject_stratified_kfold(
    y, subject, *, n_folds: int = 5, val_fraction: float = 0.2, seed: int = 0, class_names=None
) -> list[Fold]:
    """Per-subject stratified, shuffled k-fold; validation stratified from the training side.

    Parameters
    ----------
    y : array of int, shape (n_trials,)
        Class index of every trial.
    subject : array of int, shape (n_trials,)
        Subject of every trial.
    n_folds : int
        Folds per subject (>= 2); every trial of a subject is tested exactly once.
    val_fraction : float
        Fraction of each fold's training trials moved to validation, stratified by class, with at
        least one trial of every class that has >= 2 training trials (0 for no validation).
    seed : int
        Seeds sklearn ``StratifiedKFold`` (per subject) and the validation draw.
    class_names : sequence of str, optional
        Names for error messages; defaults to ``"0", "1", ...``.

    Returns
    -------
    list of Fold
        Subjects in ascending order, ``n_folds`` folds each, named ``"S001-f0"``.

    Raises
    ------
    SplitError
        A subject has fewer trials than ``n_folds``, or a fold's training part lacks a class.
    ConfigError
        Invalid ``n_folds``, ``val_fraction`` or ``seed``.
    """
    return _within_subject("within_subject_stratified", y, subject, n_folds, val_fraction, seed, class_names, True)


def within_subject_contiguous_kfold(
    y, subject, *, n_folds: int = 5, val_fraction: float = 0.2, seed: int = 0, class_names=None
) -> list[Fold]:
    """Per-subject un-shuffled k-fold over trials in dataset (time) order (MSC-T3AM protocol).

    Test folds are contiguous blocks of the subject's trials, in order; validation is a stratified
    random draw from the remaining (training) trials. Parameters, return value and errors as in
    :func:`within_subject_stratified_kfold` (``seed`` only affects the validation draw).
    """
    return _within_subject("within_subject_contiguous", y, subject, n_folds, val_fraction, seed, class_names, False)


def within_subject_run_blocks(
    y, subject, *, run, n_folds: int = 3, val_fraction: float = 0.2, seed: int = 0, class_names=None, groups=None
) -> list[Fold]:
    """Per-subject k-fold over whole RUNS: the test part is a block of runs never seen in training.

    Each subject's runs, in ascending order, are dealt into ``n_folds`` contiguous blocks of
    near-equal run count (``KFold(n_folds, shuffle=False)`` over the runs); each block is the test
    part once. Validation is a stratified draw (``val_fraction``) from the training runs' trials.
    For tasks whose classes are cued in different runs (EEGMMIDB's ``multi_action``), trial-wise
    folds let a model recognise the run instead of the class; here it cannot. EEGMMIDB's runs
    3-14 in 3 blocks are its three repetitions of the four kinds of run (3-6, 7-10, 11-14).

    Parameters
    ----------
    run : array of int, shape (n_trials,)
        Run (recording) of every trial.
    n_folds : int
        Blocks of runs per subject (>= 2); each subject needs at least ``n_folds`` runs.
    y, subject, val_fraction, seed, class_names
        As in :func:`within_subject_stratified_kfold` (``seed`` only affects the validation draw).
    groups : array of int, shape (n_trials,), optional
        Trials that must go to validation together (SEED's windows of one film clip: a clip's
        windows share its label and content, so a window-wise draw would validate on the clips
        being trained on); the draw takes whole groups with the same per-class quotas.

    Returns
    -------
    list of Fold
        Subjects in ascending order, ``n_folds`` folds each, named ``"S001-f0"``.

    Raises
    ------
    SplitError
        ``run`` (or ``groups``) not shaped like ``y``, a subject with fewer runs than ``n_folds``, a
        group of several classes, or a class absent from a fold's training runs (e.g. a class cued
        in one run only); names subject and runs.
    ConfigError
        Invalid ``n_folds``, ``val_fraction`` or ``seed``.
    """
    y, subject = _validate(y, subject, n_folds, val_fraction, seed)
    run = np.asarray(run)
    if run.shape != y.shape or not np.issubdtype(run.dtype, np.integer):
        raise SplitError(f"run must be an integer array shaped like y {y.shape}; got {run.dtype}{run.shape}")
    if groups is not None and np.shape(groups) != y.shape:
        raise SplitError(f"groups must be shaped like y {y.shape}; got {np.shape(groups)}")
    names = _names(y, class_names)
    folds = []
    for s in np.unique(subject):
        idx = np.flatnonzero(subject == s)
        runs = np.unique(run[idx])
        if runs.size < n_folds:
            raise SplitError(f"subject {s} has {runs.size} run(s) {runs.tolist()}, fewer than n_folds={n_folds} blocks")
        for k, (_, te) in enumerate(KFold(n_folds, shuffle=False).split(runs)):
            test = idx[np.isin(run[idx], runs[te])]
            train, val = _stratified_holdout(np.setdiff1d(idx, test), y, val_fraction, _rng(seed, s, _VAL, k), groups)
            folds.append(Fold(f"S{s:03d}-f{k}", "within_subject_run_blocks", k, train, val, test, (int(s),), False))
    return _checked(folds, y, subject, names, hint=lambda f: (
        f"within_subject_run_blocks: test runs {np.unique(run[f.test]).tolist()}; a class cued only in those runs "
        "cannot be learned"))


def _cross_subject(scheme, plan, y, subject, val_fraction, names) -> list[Fold]:
    """``plan``: list of (name, index, test subjects, rng for the validation draw)."""
    all_subjects = np.unique(subject)
    folds = []
    for name, k, test_subj, rng in plan:
        train_subj = np.setdiff1d(all_subjects, test_subj)
        n_val = 0 if val_fraction == 0 else max(1, int(np.floor(val_fraction * train_subj.size + 0.5)))
        if train_subj.size - n_val < 1:
            raise SplitError(
                f"fold {name!r}: {train_subj.size} non-test subject(s) cannot supply {n_val} validation "
                f"subject(s) and at least 1 training subject ({all_subjects.size} subjects in all)"
            )
        val_subj = rng.choice(train_subj, n_val, replace=False) if n_val else train_subj[:0]
        train_subj = np.setdiff1d(train_subj, val_subj)
        part = lambda ss: np.flatnonzero(np.isin(subject, ss))  # noqa: E731
        folds.append(Fold(name, scheme, k, part(train_subj), part(val_subj), part(test_subj), tuple(test_subj), True))
    return _checked(folds, y, subject, names)


def leave_one_subject_out(y, subject, *, val_fraction: float = 0.2, seed: int = 0, class_names=None) -> list[Fold]:
    """Leave one subject out: each subject is the test part once.

    Validation = ``max(1, round(val_fraction * n_train_subjects))`` whole subjects drawn at random
    (seeded by ``seed`` and the test subject) from the non-test subjects, so no subject is in two
    parts; ``val_fraction=0`` gives no validation. Folds named ``"loso-S003"``, ``index`` = position
    of the test subject in ascending order. Other parameters as in
    :func:`within_subject_stratified_kfold`.

    Raises
    ------
    SplitError
        Fewer than 2 subjects (3 with validation), or a fold's training part lacks a class.
    ConfigError
        Invalid ``val_fraction`` or ``seed``.
    """
    y, subject = _validate(y, subject, None, val_fraction, seed)
    plan = [
        (f"loso-S{s:03d}", k, np.array([s]), _rng(seed, s, _VAL)) for k, s in enumerate(np.unique(subject))
    ]
    return _cross_subject("loso", plan, y, subject, val_fraction, _names(y, class_names))


def subject_group_kfold(
    y, subject, *, n_folds: int = 5, val_fraction: float = 0.2, seed: int = 0, class_names=None
) -> list[Fold]:
    """Cross-subject k-fold: subjects shuffled (by ``seed``) and dealt into ``n_folds`` groups of
    near-equal subject count; each group is the test part once.

    Validation subjects are drawn from the training subjects as in :func:`leave_one_subject_out`.
    Folds named ``"groups-f2"``.

    Raises
    ------
    SplitError
        Fewer subjects than ``n_folds``, too few subjects for validation, or a class absent from a
        fold's training part.
    ConfigError
        Invalid ``n_folds``, ``val_fraction`` or ``seed``.
    """
    y, subject = _validate(y, subject, n_folds, val_fraction, seed)
    subjects = np.unique(subject)
    if subjects.size < n_folds:
        raise SplitError(f"subject_group_kfold needs >= n_folds={n_folds} subjects; got {subjects.size}: {subjects.tolist()}")
    groups = np.array_split(_rng(seed, _GROUPS).permutation(subjects), n_folds)
    plan = [(f"groups-f{k}", k, np.sort(g), _rng(seed, _GROUPS, _VAL, k)) for k, g in enumerate(groups)]
    return _cross_subject("subject_group_kfold", plan, y, subject, val_fraction, _names(y, class_names))


SCHEMES: dict[str, Callable[..., list[Fold]]] = {
    "within_subject_stratified": within_subject_stratified_kfold,
    "within_subject_contiguous": within_subject_contiguous_kfold,
    "within_subject_run_blocks": within_subject_run_blocks,
    "loso": leave_one_subject_out,
    "subject_group_kfold": subject_group_kfold,
}


def make_folds(scheme: str, y, subject, **options) -> list[Fold]:
    """Folds of the named scheme (a key of :data:`SCHEMES`), passing ``options`` through
    (``run``: each trial's run, for ``within_subject_run_blocks``).

    Raises
    ------
    ConfigError
        Unknown scheme (listing the valid ones) or an option the scheme does not take.
    SplitError
        As raised by the scheme.
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown split scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    fn = SCHEMES[scheme]
    allowed = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"split scheme {scheme!r} takes no option(s) {unknown}; valid options: {allowed}")
    return fn(y, subject, **options)
