"""Cross-validation runner behind ``jeeg cv``: data → folds → neural model + baselines → run dir.

:class:`CVRun` loads the data (:func:`load_for_config`), makes the folds and members
(:mod:`jeeg.folds`), scores the classical baselines, trains the model's members with the
compiled engine (:mod:`jeeg.engine`), and writes the run directory (:mod:`jeeg.rundir`) with
``metrics.json`` (:mod:`jeeg.summary`) and the plots (:mod:`jeeg.report`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from jeeg import report
from jeeg.alignment import align_dataset
from jeeg.baselines import fit_predict
from jeeg.checkpoints import load_init_run, load_teacher_run
from jeeg.config import CVConfig
from jeeg.data import EpochsDataset, load_dataset
from jeeg.engine import Checkpointing, program_dir
from jeeg.errors import ConfigError
from jeeg.final import data_facts, train_final
from jeeg.folds import Member, TaskFold, fold_id, make_members, make_task_folds, member_data, member_keys, ordered_ids, record_id
from jeeg.host import device_memory_bytes, environment
from jeeg.run.setup import build_trainer, model_inputs_for
from jeeg.rundir import (append_fold, check_resumed_code, prediction_rows, read_folds, write_csv, write_predictions,
                         write_run_config, write_text_atomic)
from jeeg.summary import fold_record, moabb_score_rows, summarise
from jeeg.validate import validate


def load_for_config(cfg: CVConfig, progress: Callable[[str], None] | None = None) -> EpochsDataset:
    """Load and preprocess the dataset a config asks for (see :func:`jeeg.data.load_dataset`),
    then align each subject's trials if ``cfg.alignment`` asks (:func:`jeeg.alignment.align_dataset`:
    each subject and task from its own trials, labels unread)."""
    ds = load_dataset(
        cfg.dataset,
        list(cfg.subjects),
        list(cfg.task),
        runs=list(cfg.runs) if cfg.runs is not None else None,
        data_dir=cfg.data_dir,
        download=cfg.download,
        skip_missing_runs=cfg.skip_missing_runs,
        cache_dir=cfg.cache_dir,
        preprocessing=cfg.preprocessing(),
        progress=progress,
    )
    if cfg.alignment != "none":
        if progress is not None:
            progress(f"{cfg.alignment} alignment of {len(ds.subjects)} subjects")
        ds = align_dataset(ds, cfg.alignment)
    return ds


class CVRun:
    """One cross-validation (or sweep): dataset, folds, members and the results as they accrue.

    Parameters
    ----------
    cfg : CVConfig
    out : Path
        Run directory (see module docstring).
    reporter : object, optional
        Receives progress callbacks ``status(msg)``, ``start_folds(n)``, ``fold_done()``,
        ``start_epochs(name, n)``, ``epoch(i, logs)`` (the CLI's rich progress bars).
    resume : bool
        Continue the run already in ``out``: folds recorded in ``folds.jsonl`` are reused, not
        recomputed, and unfinished programs of members restart from their latest checkpoint.

    Notes
    -----
    In a multi-process run (``jax.distributed``) every process trains its share of the members;
    only process 0 writes files.
    """

    def __init__(self, cfg: CVConfig, out: Path, reporter=None, resume: bool = False):
        self.cfg, self.out, self.rep, self.resume = cfg, Path(out), reporter, resume
        self.primary = jax.process_index() == 0
        self.lines: dict[str, dict] = {}  # record id → folds.jsonl line
        self.engine: dict = {}

    def _status(self, msg: str) -> None:
        if self.rep is not None:
            self.rep.status(msg)

    # ----------------------------------------------------------------------------- run state
    def _load_done(self) -> None:
        """Read finished folds from ``folds.jsonl``; drop a last line cut short by a crash. Warn if
        another jeeg version or other code started the run (:func:`jeeg.rundir.check_resumed_code`)."""
        check_resumed_code(self.out, write=self.primary)
        for obj in read_folds(self.out, rewrite=self.primary):
            self.lines[record_id(obj["record"])] = obj

    def _finish(self, record: dict, preds: list[dict], history=None, attention=None) -> None:
        line = {"record": record, "predictions": preds, "history": history, "attention": attention}
        self.lines[record_id(record)] = line
        if self.primary:
            append_fold(self.out, line)
        if self.rep is not None:
            self.rep.fold_done()

    def _pred_rows(self, model: str, tf: TaskFold, ds: EpochsDataset, y_pred, proba, setting: int = 0) -> list[dict]:
        return prediction_rows(ds, tf.test, model, tf.task, tf.fold.name, y_pred, proba, setting)

    # ----------------------------------------------------------------------------- pieces
    def run_baselines(self, ds: EpochsDataset, folds: list[TaskFold]) -> None:
        """Classical baselines on µV data, fitted on the whole training side (train + val)."""
        for name in self.cfg.baselines:
            for tf in folds:
                if fold_id(name, tf) in self.lines:
                    continue
                fit_idx = tf.fit_side
                y_pred, proba = fit_predict(name, ds.X[fit_idx], ds.y[fit_idx], ds.X[tf.test], sfreq=ds.sfreq,
                                            n_classes=ds.n_classes)
                rec = fold_record(name, tf, ds, y_pred, {"setting": 0})
                self._finish(rec, self._pred_rows(name, tf, ds, y_pred, proba))

    def members_per_program(self, trainer, members: list[Member], X, Y) -> int:
        """``max_members`` if set; else every member in one program when the members run one after
        another inside it (``member_axis="map"``, the CPU default: memory grows only by each
        member's state); else as many as fit half of each device's memory, from XLA's memory
        analysis of the compiled run of all members (the compile that :meth:`Trainer.fit` then
        reuses when they fit).

        The number is kept in ``engine.json`` so that a resumed run groups members identically
        (a requirement for a bitwise-identical resume).
        """
        saved = self.out / "engine.json"
        if self.resume and saved.exists():
            return int(json.loads(saved.read_text())["members_per_program"])
        n = len(members)
        if self.cfg.max_members:
            return min(self.cfg.max_members, n)
        if trainer.member_axis == "map":
            return n
        need = max(1, trainer.memory_need(X, Y, [member_data(m) for m in members], member_keys(members)))
        self.engine["memory_need_bytes"] = need
        budget = 0.5 * device_memory_bytes() * trainer.n_devices
        if need <= budget:
            return n
        per = max(1, int(n * budget // need))
        return max(trainer.n_devices, per // trainer.n_devices * trainer.n_devices)

    def run_model(self, ds: EpochsDataset, members: list[Member]) -> None:
        """Train the neural model's members in programs of ``members_per_program`` and score them.

        Members are grouped in a fixed order (grid point, then fold); a program whose members
        are all recorded is skipped; one that was interrupted resumes from its checkpoint.
        """
        cfg = self.cfg
        tcfg = cfg.train_config()
        folds = [m.fold for m in members]
        n_train = [len(tf.train) for tf in folds]
        shapes = dict(batch_size=min(cfg.batch_size, min(n_train)), n_train_pad=max(n_train),
                      n_eval_pad=max(max(len(tf.val), len(tf.test)) for tf in folds))
        trainer = build_trainer(cfg, ds, train_config=tcfg, **shapes)
        saved = self.out / "engine.json"
        if all(fold_id(cfg.model, m.fold, m.setting) in self.lines for m in members) and saved.exists():
            self.engine.update(json.loads(saved.read_text()))  # every member is recorded: nothing to train
            return
        self._status(f"{cfg.model}: computing {cfg.representation} inputs")
        inputs = model_inputs_for(cfg, ds)
        if inputs.shape[1:] != trainer.input_shape:
            raise ConfigError(
                f"{cfg.model} takes trials of shape {trainer.input_shape} but representation "
                f"{cfg.representation!r} gives {inputs.shape[1:]}; make model_kwargs match "
                "representation_kwargs (e.g. grid_shape, n_frames)")
        X, Y = trainer.put_data(inputs, ds.y)
        per = self.members_per_program(trainer, members, X, Y)
        self.engine.update(trainer.describe(), members_per_program=per, n_members=len(members),
                           n_programs=-(-len(members) // per), n_devices=trainer.n_devices,
                           n_processes=jax.process_count())
        if self.primary:
            write_text_atomic(self.out / "engine.json", json.dumps(self.engine, indent=2))
        for c0 in range(0, len(members), per):
            chunk = members[c0 : c0 + per]
            ids = [fold_id(cfg.model, m.fold, m.setting) for m in chunk]
            if all(i in self.lines for i in ids):
                continue
            if self.rep is not None:
                name = chunk[0].fold.name if len(chunk) == 1 else f"members {c0 + 1}-{c0 + len(chunk)} of {len(members)}"
                self.rep.start_epochs(name, tcfg.max_epochs)
            keys = member_keys(chunk)
            ckpt = None
            if cfg.checkpoint_every:
                ckpt = Checkpointing(program_dir(self.out, cfg.model, c0 // per), cfg.checkpoint_every)
            extra_fit = {}
            if cfg.distill == "offline":
                extra_fit["teacher"] = trainer.teacher_state(load_teacher_run(cfg, [m.position for m in chunk]),
                                                             cfg.teacher_run)
            if cfg.init_run:
                extra_fit["init"] = trainer.model_state(load_init_run(cfg, [m.position for m in chunk]), cfg.init_run)
            res = trainer.fit(
                X, Y, [member_data(m) for m in chunk], keys,
                on_epoch=(lambda e, logs: self.rep.epoch(e, logs)) if self.rep is not None else None,
                checkpointing=ckpt,
                hparams={"lr": [m.lr for m in chunk], "weight_decay": [m.weight_decay for m in chunk]},
                **extra_fit,
            )
            for j, (m, rid) in enumerate(zip(chunk, ids)):
                if rid in self.lines:
                    continue
                tf, logits = m.fold, res.test_logits[j]
                proba = np.asarray(jax.nn.softmax(logits, -1))
                y_pred = logits.argmax(-1)
                best = int(res.best_epoch[j])
                extra = {
                    "setting": m.setting, **m.hparams, "protocol": cfg.protocol, "distill": cfg.distill,
                    "best_epoch": best, "stopped_epoch": int(res.stopped_epoch[j]),
                    "val_loss": float(res.history["val_loss"][j, best]),
                    "val_accuracy": float(res.history["val_accuracy"][j, best]),
                    "failed": bool(res.failed[j]), "failed_step": int(res.failed_step[j]),
                }
                rec = fold_record(cfg.model, tf, ds, y_pred, extra)
                hist = {"task": tf.task, "fold": tf.fold.name, "setting": m.setting,
                        **{k: [None if np.isnan(x) else float(x) for x in v[j]] for k, v in res.history.items()}}
                att = None
                if "attention" in res.test_aux[j]:
                    att = {"task": tf.task, "setting": m.setting, "y": ds.y[tf.test].tolist(),
                           "alpha": np.asarray(res.test_aux[j]["attention"]).tolist()}
                self._finish(rec, self._pred_rows(cfg.model, tf, ds, y_pred, proba, m.setting), hist, att)

    # ----------------------------------------------------------------------------- whole run
    def run(self) -> dict:
        """Load, split, train and score; write every artefact. Returns the metrics dict."""
        cfg = self.cfg
        validate(cfg, sweep=bool(cfg.grid))  # the whole config, teacher_run / init_run too, before any data or file
        if self.resume:
            self._load_done()
        elif self.primary:
            write_run_config(self.out, cfg.to_dict(), environment())
        self._status("loading data")
        ds = load_for_config(cfg, progress=self._status)
        folds = make_task_folds(ds, cfg)
        members = make_members(cfg, folds)
        if self.rep is not None:
            self.rep.start_folds(len(cfg.baselines) * len(folds) + len(members))
            for _ in self.lines:
                self.rep.fold_done()
        self._status(f"{len(ds)} trials, {len(folds)} folds: baselines")
        self.run_baselines(ds, folds)
        self._status(f"{len(ds)} trials, {len(folds)} folds, {len(members)} members: {cfg.model}")
        self.run_model(ds, members)
        ids = ordered_ids(cfg, folds)
        metrics = summarise(cfg, ds, [self.lines[i]["record"] for i in ids], len(folds), self.engine)
        metrics["data"] = data_facts(ds)  # what jeeg evaluate checks new subjects' data against
        if cfg.final:
            metrics["final"] = train_final(cfg, ds, metrics, self.out, self.rep)
        if self.primary:
            write_predictions(self.out, [row for i in ids for row in self.lines[i]["predictions"]])
            write_csv(self.out / "scores.csv", moabb_score_rows(metrics, ds.X.shape[1]))
            write_text_atomic(self.out / "metrics.json", json.dumps(metrics, indent=2))
            report.write_run_plots(self.out, metrics, [self.lines[i] for i in ids], ds, cfg.model)
        return metrics
