"""The final model of a run (``final=True``, ``jeeg cv --final``): one model per task trained on
every trial of every subject of the run, to apply to subjects the run never saw
(``jeeg evaluate``, :mod:`jeeg.evaluate`).

The cross-validation estimates how well the model generalises; the final model is what one would
deploy. It cannot select its epoch on the trials it trains on, so it trains for a fixed number of
epochs chosen by the folds: the median over that task's folds of the selected epoch + 1 (epochs
are counted from 0, so a fold selected at epoch ``e`` had trained ``e + 1`` epochs), with the
same optimiser, batch size, hyper-parameters (a sweep's chosen grid point; of several seeds
there, the first) and learning-rate
schedule over ``max_epochs`` as the folds, and keeps the last epoch's parameters
(``monitor="last"``: no selection, no early stopping; :class:`jeeg.engine.TrainConfig`). This
is the "retrain on all data with the cross-validated number of iterations" practice (Hastie,
Tibshirani & Friedman 2009, The Elements of Statistical Learning, 2nd ed., §7.10; Cawley &
Talbot 2010, JMLR 11:2079-2107, on why the estimate must come from the folds, not the final fit).

Its checkpoint is always written, whatever ``checkpoint_every``, at
``checkpoints/final-<task>/`` in the run directory; its facts are ``metrics.json["final"][task]``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import jax
import numpy as np

from jeeg.config import CVConfig
from jeeg.data import EpochsDataset
from jeeg.engine import Checkpointing, MemberData, Trainer, member_key
from jeeg.errors import ConfigError
from jeeg.folds import grid_settings
from jeeg.run.setup import build_trainer, model_inputs_for


def final_dir(run: Path, task: str) -> Path:
    """The checkpoint folder of a run's final model of ``task``: ``checkpoints/final-<task>``."""
    return Path(run) / "checkpoints" / f"final-{task}"


def data_facts(ds: EpochsDataset) -> dict:
    """What data a run's models were trained on, recorded in ``metrics.json["data"]`` so that
    :mod:`jeeg.evaluate` refuses data they cannot be applied to: ``ch_names`` (the montage, in
    order), ``sfreq`` (Hz), ``n_times`` (samples per trial), ``tmin`` (s from the cue),
    ``class_names`` and the loader's ``preprocessing`` (if it reports one)."""
    return {
        "ch_names": list(ds.ch_names),
        "sfreq": float(ds.sfreq),
        "n_times": int(ds.n_times),
        "tmin": float(ds.tmin),
        "class_names": list(ds.class_names),
        "preprocessing": (ds.info or {}).get("preprocessing"),
    }


def final_epochs(best_epochs: list[int]) -> int:
    """Epochs the final model trains: median of the folds' selected epochs (0-based) + 1, rounded
    half up (e.g. selected epochs 3, 4, 9 → 5 epochs; 3, 4 → median 4.5 → 5)."""
    if not best_epochs:
        raise ConfigError("the final model needs the selected epochs of at least one fold")
    return max(1, int(np.floor(np.median(np.asarray(best_epochs, float) + 1) + 0.5)))


def train_final(cfg: CVConfig, ds: EpochsDataset, metrics: dict, out: Path, reporter=None) -> dict:
    """Train the final model of every task of a finished cross-validation and save it.

    Parameters
    ----------
    cfg : CVConfig
        The run's configuration.
    ds : EpochsDataset
        The run's data (every subject, every task).
    metrics : dict
        The run's summary (:func:`jeeg.summary.summarise`): its fold records give the selected
        epochs, a sweep's ``chosen_setting`` the grid point.
    out : Path
        The run directory (the models go to :func:`final_dir`).
    reporter : object, optional
        Progress callbacks ``status``, ``start_epochs``, ``epoch`` (:class:`jeeg.cv.CVRun`'s).

    Returns
    -------
    dict
        ``{task: {"epochs", "fold_best_epochs", "n_trials", "subjects", "setting", "lr",
        "weight_decay", "seed", "position", "checkpoint", "failed", "train_loss",
        "train_accuracy"}}``; ``position`` (after every fold's) makes the member's PRNG key
        (:func:`jeeg.engine.member_key`), ``checkpoint`` is relative to the run directory,
        ``train_loss``/``train_accuracy`` are per epoch (mean over its mini-batches).

    Raises
    ------
    ConfigError
        A run with distillation or ``init_run`` (see :func:`jeeg.config.make_config`), or a
        task without fold records of the model.
    """
    if cfg.distill != "none" or cfg.init_run:
        raise ConfigError("final models are trained for a model trained alone (no distill, no init_run)")
    setting = int(metrics.get("sweep", {}).get("chosen_setting", 0))
    point = grid_settings(cfg)[setting]
    model_records = [r for r in metrics["folds"] if r["model"] == cfg.model and r.get("setting", 0) == setting]
    n_positions = sum(1 for r in metrics["folds"] if r["model"] == cfg.model and r.get("setting", 0) == 0)
    inputs = model_inputs_for(cfg, ds)
    tcfg = replace(cfg.train_config(), monitor="last")
    final: dict[str, dict] = {}
    trainers: dict[int, Trainer] = {}  # tasks with as many trials share one compiled program
    for t, task in enumerate(ds.tasks):
        best = [int(r["best_epoch"]) for r in model_records if r["task"] == task]
        if not best:
            raise ConfigError(f"no fold of {cfg.model} on task {task} in this run: nothing to choose the final epochs from")
        n_epochs = min(final_epochs(best), cfg.max_epochs)
        where = np.flatnonzero(ds.task == task)
        position = n_positions + t
        empty = np.zeros(0, np.int64)
        if len(where) not in trainers:
            trainers[len(where)] = build_trainer(cfg, ds, train_config=tcfg, batch_size=min(cfg.batch_size, len(where)),
                                                 n_train_pad=len(where), n_eval_pad=0)
        trainer = trainers[len(where)]
        X, Y = trainer.put_data(inputs, ds.y)
        if reporter is not None:
            reporter.status(f"{cfg.model}: final model of {task} on {len(where)} trials, {n_epochs} epochs")
            reporter.start_epochs(f"final {task}", n_epochs)
        directory = final_dir(out, task)
        res = trainer.fit(
            X, Y, [MemberData(where, empty, empty)], jax.vmap(member_key)(np.array([point["seed"]]), np.array([position])),
            on_epoch=reporter.epoch if reporter is not None else None,
            checkpointing=Checkpointing(directory, cfg.checkpoint_every or n_epochs),
            hparams={"lr": [point["lr"]], "weight_decay": [point["weight_decay"]]},
            n_epochs=n_epochs,
        )
        subjects = sorted(int(s) for s in np.unique(ds.subject[where]))
        final[task] = {
            "epochs": n_epochs, "fold_best_epochs": best, "n_trials": len(where), "subjects": subjects,
            "setting": setting, **point, "position": position,
            "checkpoint": str(directory.relative_to(out)), "failed": bool(res.failed[0]),
            "train_loss": [float(x) for x in res.history["train_loss"][0]],
            "train_accuracy": [float(x) for x in res.history["train_accuracy"][0]],
        }
    return final


__all__ = ["data_facts", "final_dir", "final_epochs", "train_final"]
