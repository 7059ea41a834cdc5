"""Subject-wise cross-validation splits and their leakage / class guards (synthetic labels only)."""

from __future__ import annotations

import numpy as np
import pytest

from jeeg.errors import ConfigError, LeakageError, SplitError
from jeeg.splits import (
    SCHEMES,
    Fold,
    check_fold_classes,
    check_no_leakage,
    leave_one_subject_out,
    make_folds,
    subject_group_kfold,
    within_subject_contiguous_kfold,
    within_subject_run_blocks,
    within_subject_stratified_kfold,
)

WITHIN = ("within_subject_stratified", "within_subject_contiguous")
CROSS = ("loso", "subject_group_kfold")


def toy_labels(n_subjects: int = 6, per_class: int = 15, n_classes: int = 2, seed: int = 0):
    """Subjects 1..n_subjects, each ``per_class`` trials of every class in shuffled order."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.permutation(np.repeat(np.arange(n_classes), per_class)) for _ in range(n_subjects)])
    subject = np.repeat(np.arange(1, n_subjects + 1), per_class * n_classes)
    return y.astype(np.int32), subject.astype(np.int32)


def _parts_disjoint(fold: Fold) -> None:
    assert not np.intersect1d(fold.train, fold.val).size
    assert not np.intersect1d(fold.train, fold.test).size
    assert not np.intersect1d(fold.val, fold.test).size
    for part in (fold.train, fold.val, fold.test):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)


@pytest.mark.parametrize("scheme", WITHIN)
def test_within_subject_folds_partition_each_subject(scheme):
    y, subject = toy_labels()
    folds = make_folds(scheme, y, subject, n_folds=5, val_fraction=0.2, seed=0)
    assert len(folds) == 6 * 5
    tested = np.zeros(len(y), dtype=int)
    for fold in folds:
        _parts_disjoint(fold)
        assert not fold.cross_subject and fold.scheme == scheme
        assert fold.name == f"S{fold.subject:03d}-f{fold.index}"
        own = np.flatnonzero(subject == fold.subject)
        # train + val + test = exactly the subject's trials, so val comes from the training side
        assert np.array_equal(np.sort(np.concatenate([fold.train, fold.val, fold.test])), own)
        assert len(fold.test) == 6  # 30 trials / 5 folds
        assert len(fold.val) == 5  # round(0.2 * 24) trials
        assert set(np.unique(y[fold.val])) == {0, 1}
        tested[fold.test] += 1
    assert np.all(tested == 1)


def test_stratified_folds_keep_class_proportions():
    y, subject = toy_labels(n_subjects=3, per_class=20, n_classes=3)
    for fold in within_subject_stratified_kfold(y, subject, n_folds=4, seed=1):
        assert np.bincount(y[fold.test], minlength=3).tolist() == [5, 5, 5]
        val_counts = np.bincount(y[fold.val], minlength=3)
        assert val_counts.sum() == 9 and val_counts.min() == 3  # round(0.2 * 45), equal per class


def test_contiguous_folds_are_ordered_blocks():
    y, subject = toy_labels(n_subjects=3)
    folds = within_subject_contiguous_kfold(y, subject, n_folds=5)
    for s in (1, 2, 3):
        own = np.flatnonzero(subject == s)
        blocks = [f.test for f in folds if f.subject == s]
        assert [f.index for f in folds if f.subject == s] == [0, 1, 2, 3, 4]
        assert np.array_equal(np.concatenate(blocks), own)  # in order, no gaps
        for block in blocks:
            assert np.all(np.diff(block) == 1)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_same_seed_same_folds(scheme):
    y, subject = toy_labels()
    opts = {} if scheme == "loso" else {"n_folds": 3}
    if scheme == "within_subject_run_blocks":
        opts["run"] = np.tile(np.repeat(np.arange(1, 7), 5), 6)  # 6 runs of 5 trials per subject
    a, b = (make_folds(scheme, y, subject, seed=7, **opts) for _ in range(2))
    assert [f.name for f in a] == [f.name for f in b]
    for fa, fb in zip(a, b):
        for part in ("train", "val", "test"):
            assert np.array_equal(getattr(fa, part), getattr(fb, part))
    c = make_folds(scheme, y, subject, seed=8, **opts)
    differs = any(not np.array_equal(fa.val, fc.val) or not np.array_equal(fa.test, fc.test) for fa, fc in zip(a, c))
    assert differs  # every scheme shuffles at least its validation draw


def test_within_subject_folds_do_not_depend_on_other_subjects():
    y, subject = toy_labels(n_subjects=4)
    full = within_subject_stratified_kfold(y, subject, seed=3)
    keep = subject != 2
    alone = within_subject_stratified_kfold(y[keep], subject[keep], seed=3)
    remap = np.flatnonzero(keep)
    for fa in alone:
        fb = next(f for f in full if f.name == fa.name)
        assert np.array_equal(remap[fa.test], fb.test) and np.array_equal(remap[fa.val], fb.val)


def test_loso_tests_every_subject_once_with_whole_validation_subjects():
    y, subject = toy_labels(n_subjects=6)
    folds = leave_one_subject_out(y, subject, val_fraction=0.2, seed=0)
    assert [f.subject for f in folds] == [1, 2, 3, 4, 5, 6]
    assert [f.name for f in folds] == [f"loso-S{s:03d}" for s in range(1, 7)]
    for fold in folds:
        _parts_disjoint(fold)
        assert fold.cross_subject
        assert np.array_equal(fold.test, np.flatnonzero(subject == fold.subject))
        val_subj, train_subj = set(subject[fold.val]), set(subject[fold.train])
        assert len(val_subj) == 1  # round(0.2 * 5) = 1
        assert not val_subj & train_subj and fold.subject not in val_subj | train_subj
        assert len(fold.train) + len(fold.val) + len(fold.test) == len(y)


def test_subject_group_kfold_partitions_subjects():
    y, subject = toy_labels(n_subjects=10)
    folds = subject_group_kfold(y, subject, n_folds=3, val_fraction=0.25, seed=0)
    tested = sorted(s for f in folds for s in f.test_subjects)
    assert tested == list(range(1, 11))
    assert sorted(len(f.test_subjects) for f in folds) == [3, 3, 4]
    for fold in folds:
        _parts_disjoint(fold)
        assert fold.subject is None and fold.name == f"groups-f{fold.index}"
        assert set(subject[fold.test]) == set(fold.test_subjects)
        val_subj, train_subj = set(subject[fold.val]), set(subject[fold.train])
        assert len(val_subj) == round(0.25 * (10 - len(fold.test_subjects)))
        assert not val_subj & train_subj and not set(fold.test_subjects) & (val_subj | train_subj)


def test_zero_val_fraction_gives_empty_validation():
    y, subject = toy_labels(n_subjects=3)
    for scheme in SCHEMES:
        opts = {} if scheme == "loso" else {"n_folds": 3}
        if scheme == "within_subject_run_blocks":
            opts["run"] = np.tile(np.repeat(np.arange(1, 7), 5), 3)
        for fold in make_folds(scheme, y, subject, val_fraction=0.0, **opts):
            assert fold.val.size == 0


def test_leakage_guard_catches_index_overlap():
    subject = np.repeat([1, 2], 10)
    fold = Fold("S001-f0", "within_subject_stratified", 0, [0, 1, 2, 3], [4, 5], [5, 6], (1,), False)
    with pytest.raises(LeakageError, match=r"S001-f0.*\[5\].*val and test"):
        check_no_leakage(fold, subject)


def test_leakage_guard_catches_test_subject_in_training():
    subject = np.repeat([1, 2, 3], 4)
    # trial 4 belongs to subject 2, the test subject, but sits in train
    fold = Fold("loso-S002", "loso", 1, [0, 1, 2, 3, 4], [8, 9, 10, 11], [5, 6, 7], (2,), True)
    with pytest.raises(LeakageError, match=r"loso-S002.*test subject\(s\) \[2\].*train.*\[4\]"):
        check_no_leakage(fold, subject)
    fold = Fold("loso-S002", "loso", 1, [0, 1, 2, 8], [3, 9, 10, 11], [4, 5, 6, 7], (2,), True)
    with pytest.raises(LeakageError, match=r"validation subject\(s\) \[1, 3\]"):
        check_no_leakage(fold, subject)
    # the same subject in train and test is fine for a within-subject fold
    fold = Fold("S002-f0", "within_subject_stratified", 0, [4, 5], [], [6, 7], (2,), False)
    check_no_leakage(fold, subject)


def test_fold_without_a_training_class_raises_naming_subject_and_class():
    y, subject = toy_labels(n_subjects=2, per_class=10)
    # subject 2 records all its "left" trials first: its first contiguous test block holds them all
    own = subject == 2
    y[own] = np.r_[np.zeros(5), np.ones(15)].astype(np.int32)
    names = ("left", "right")
    with pytest.raises(SplitError, match=r"S002-f0.*test subject\(s\) \[2\].*\['left'\].*fewer folds"):
        within_subject_contiguous_kfold(y, subject, n_folds=4, class_names=names)
    # stratified folds of the same data are fine
    within_subject_stratified_kfold(y, subject, n_folds=4, class_names=names)
    fold = Fold("x", "within_subject_contiguous", 0, np.flatnonzero(own)[5:], [], np.flatnonzero(own)[:5], (2,), False)
    with pytest.raises(SplitError, match="left"):
        check_fold_classes(fold, y, names)


def test_validation_may_lack_a_class():
    y, subject = toy_labels(n_subjects=1, per_class=10)
    y[:] = 1
    y[[0, 10]] = 0  # one class-0 trial per contiguous half: each training side keeps its only one
    folds = within_subject_contiguous_kfold(y, subject, n_folds=2, val_fraction=0.3)
    assert any(0 not in y[f.val] for f in folds)


def test_too_few_trials_or_subjects():
    y, subject = toy_labels(n_subjects=2, per_class=2)
    with pytest.raises(SplitError, match=r"subject 1 has 4 trials.*n_folds=5"):
        within_subject_stratified_kfold(y, subject, n_folds=5)
    with pytest.raises(SplitError, match=r"n_folds=3 subjects; got 2"):
        subject_group_kfold(y, subject, n_folds=3)
    with pytest.raises(SplitError, match="validation"):
        leave_one_subject_out(y, subject)  # 2 subjects: no room for a validation subject
    assert len(leave_one_subject_out(y, subject, val_fraction=0.0)) == 2


def test_bad_scheme_and_options():
    y, subject = toy_labels()
    with pytest.raises(ConfigError, match=r"'nope'.*loso"):
        make_folds("nope", y, subject)
    with pytest.raises(ConfigError, match="n_folds"):
        make_folds("loso", y, subject, n_folds=5)
    with pytest.raises(ConfigError, match="val_fraction"):
        make_folds("loso", y, subject, val_fraction=1.0)
    with pytest.raises(ConfigError, match="n_folds"):
        make_folds("within_subject_stratified", y, subject, n_folds=1)


def multi_run_labels(n_subjects: int = 2):
    """Like EEGMMIDB's multi_action: 6 runs of 10 trials; runs 1 and 4 cue classes 0/1, runs 2 and
    5 classes 2/3, runs 3 and 6 classes 4/5 (each class in two runs)."""
    y, subject, run = [], [], []
    for s in range(1, n_subjects + 1):
        for r in range(1, 7):
            first = 2 * ((r - 1) % 3)
            y += [first, first + 1] * 5
            subject += [s] * 10
            run += [r] * 10
    return np.array(y, np.int32), np.array(subject, np.int32), np.array(run, np.int32)


def test_run_blocks_test_whole_runs_never_seen_in_training():
    y, subject, run = multi_run_labels()
    folds = make_folds("within_subject_run_blocks", y, subject, run=run, n_folds=3, seed=0)
    assert [f.name for f in folds] == [f"S{s:03d}-f{k}" for s in (1, 2) for k in range(3)]
    tested = np.zeros(len(y), int)
    for f in folds:
        _parts_disjoint(f)
        own = np.flatnonzero(subject == f.subject)
        assert np.array_equal(np.sort(np.concatenate([f.train, f.val, f.test])), own)
        test_runs = np.unique(run[f.test])
        assert test_runs.tolist() == [2 * f.index + 1, 2 * f.index + 2]  # contiguous blocks of runs
        assert not np.isin(run[f.train], test_runs).any() and not np.isin(run[f.val], test_runs).any()
        assert len(f.test) == 20 and len(f.val) == 8  # whole runs; round(0.2 * 40) validation trials
        assert set(y[f.train]) == set(range(6))
        tested[f.test] += 1
    assert (tested == 1).all()
    # Trial-wise stratified folds of the same data test trials of runs also seen in training.
    strat = make_folds("within_subject_stratified", y, subject, n_folds=3)
    assert all(np.isin(run[f.test], run[f.train]).all() for f in strat)


def test_run_blocks_errors_name_subject_and_runs():
    y, subject, run = multi_run_labels(1)
    y[run == 4] = [0, 1, 6, 7] * 2 + [0, 1]  # classes 6/7 cued in run 4 only: the fold testing runs 3-4 lacks them
    with pytest.raises(SplitError, match=r"S001-f1.*\['6', '7'\].*test runs \[3, 4\]"):
        within_subject_run_blocks(y, subject, run=run, n_folds=3)
    with pytest.raises(SplitError, match=r"subject 1 has 6 run\(s\).*n_folds=7"):
        within_subject_run_blocks(y, subject, run=run, n_folds=7)
    with pytest.raises(SplitError, match="run must be an integer array shaped like y"):
        within_subject_run_blocks(y, subject, run=run[:-1], n_folds=3)
