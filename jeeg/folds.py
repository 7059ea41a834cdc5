"""Folds and members of a run: which trials each (task, fold) trains, validates and tests on,
and the members (fold x grid point) the engine trains together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jeeg.config import GRID_KEYS, CVConfig
from jeeg.data import EpochsDataset, dataset_spec
from jeeg.splits import Fold, make_folds


@dataclass
class TaskFold:
    """A fold of one task, with indices into the whole (multi-task) dataset.

    ``paper=True`` (``protocol="paper"``): ``train`` is the whole training side and ``val`` IS the
    test part (the epoch is chosen on test accuracy, MSC-T3AM's published protocol).
    """

    task: str
    fold: Fold
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    paper: bool = False

    @property
    def name(self) -> str:
        return f"{self.task}/{self.fold.name}"

    @property
    def fit_side(self) -> np.ndarray:
        """Every trial a model may be fitted on (classical baselines use all of it)."""
        return self.train if self.paper else np.concatenate([self.train, self.val])


def make_task_folds(ds: EpochsDataset, cfg: CVConfig) -> list[TaskFold]:
    """Folds of ``cfg.scheme`` made separately for each task of ``ds``.

    ``seed_protocol`` (SEED / SEED-IV) is :func:`jeeg.data.seed.seed_protocol_folds` on the
    windows' subject, session (``ds.run``) and film clip (``ds.trial``), with whole validation
    clips; on SEED / SEED-IV, ``within_subject_run_blocks`` (sessions as blocks) also draws whole
    clips for validation. Other schemes: :func:`jeeg.splits.make_folds`.

    Under ``cfg.protocol == "paper"`` the validation part goes back into training and the test
    part takes its place for epoch selection (see :class:`TaskFold`).

    Raises
    ------
    SplitError, LeakageError
        From :func:`jeeg.splits.make_folds` or :func:`jeeg.data.seed.seed_protocol_folds` (e.g. a
        class absent from a training part).
    """
    out: list[TaskFold] = []
    clips = dataset_spec(cfg.dataset).whole_clips  # a film clip's windows go to one side together
    for task in ds.tasks:
        where = np.flatnonzero(ds.task == task)
        if cfg.scheme == "seed_protocol":
            from jeeg.data.seed import seed_protocol_folds

            folds = seed_protocol_folds(ds.subject[where], ds.run[where], ds.trial[where], dataset=cfg.dataset,
                                        y=ds.y[where], val_fraction=cfg.val_fraction, seed=cfg.seed)
        else:
            opts = dict(val_fraction=cfg.val_fraction, seed=cfg.seed, class_names=list(ds.class_names))
            if cfg.scheme != "loso":  # leave-one-subject-out has one fold per subject
                opts["n_folds"] = cfg.n_folds
            if cfg.scheme == "within_subject_run_blocks":
                opts["run"] = ds.run[where]
                if clips:  # (session, clip) of each window
                    opts["groups"] = ds.run[where].astype(np.int64) * 1000 + ds.trial[where]
            folds = make_folds(cfg.scheme, ds.y[where], ds.subject[where], **opts)
        for f in folds:
            if cfg.protocol == "paper":
                train = np.sort(np.concatenate([where[f.train], where[f.val]]))
                out.append(TaskFold(task, f, train, where[f.test], where[f.test], paper=True))
            else:
                out.append(TaskFold(task, f, where[f.train], where[f.val], where[f.test]))
    return out


@dataclass
class Member:
    """One neural-model member: a fold of a task under one grid point (lr, weight decay, seed).

    Its PRNG key is ``fold_in(key(seed), position)``, ``position`` being the fold's place in the
    run's fold list, so a fold gets the same key whether trained alone or with others.
    """

    fold: TaskFold
    position: int
    setting: int
    lr: float
    weight_decay: float
    seed: int

    @property
    def hparams(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay, "seed": self.seed}


def grid_settings(cfg: CVConfig) -> list[dict]:
    """The product of ``cfg.grid`` (lr x weight_decay x seed), or the single setting of ``cfg``."""
    import itertools

    axes = [[float(v) if k != "seed" else int(v) for v in cfg.grid.get(k, [getattr(cfg, k)])] for k in GRID_KEYS]
    return [dict(zip(GRID_KEYS, combo)) for combo in itertools.product(*axes)]


def make_members(cfg: CVConfig, folds: list[TaskFold]) -> list[Member]:
    """Grid points x folds, grid-point-major (all folds of setting 0, then setting 1, ...)."""
    return [
        Member(tf, k, s, st["lr"], st["weight_decay"], st["seed"])
        for s, st in enumerate(grid_settings(cfg))
        for k, tf in enumerate(folds)
    ]


def member_data(m: Member):
    """The engine's index arrays of a member (:class:`jeeg.engine.MemberData`)."""
    from jeeg.engine import MemberData

    return MemberData(m.fold.train, m.fold.val, m.fold.test)


def member_keys(members: list[Member]):
    """The members' PRNG keys (K,), :func:`jeeg.engine.member_key` of each member's seed and position."""
    import jax

    from jeeg.engine import member_key

    return jax.vmap(member_key)(np.array([m.seed for m in members]), np.array([m.position for m in members]))


def fold_id(model: str, tf: TaskFold, setting: int = 0) -> str:
    """Key of one (model, task fold, grid point) in ``folds.jsonl`` and in a run's records."""
    return f"{model}|{tf.task}|{tf.fold.name}|{setting}"


def record_id(rec: dict) -> str:
    """:func:`fold_id` of a finished fold's record."""
    return f"{rec['model']}|{rec['task']}|{rec['fold']}|{rec.get('setting', 0)}"


def ordered_ids(cfg: CVConfig, folds: list[TaskFold]) -> list[str]:
    """Record ids of a run in a fixed order: the baselines, then the model by grid point and fold."""
    ids = [fold_id(b, tf) for b in cfg.baselines for tf in folds]
    ids += [fold_id(cfg.model, tf, s) for s in range(len(grid_settings(cfg))) for tf in folds]
    return ids
