"""Apply a finished run's models to subjects it never saw (``jeeg evaluate RUN --subjects ...``).

The run's configuration is reused with only ``subjects`` (and where to find the data) replaced,
so the new subjects' trials get the run's preprocessing, representation and per-subject
``alignment`` (each new subject aligned from its own unlabelled trials, as every subject of the
run was; :func:`jeeg.cv.load_for_config`). The network is then:

* the run's **final model** of each task (``final=True``, :mod:`jeeg.final`) when it has one;
* otherwise (or with ``ensemble=True``) the **ensemble of the fold models**: the class
  probabilities (softmax of the logits) of every fold's selected model of that task, averaged
  (for a sweep, the models of the grid point chosen on validation, every seed of it; for a
  distillation run, the students).

The classical baselines of the run are refitted on every trial of the run's subjects (they are
deterministic scikit-learn pipelines; checkpoints hold only the network) and scored on the same
new trials, so the new subjects get the run's comparison table.

Output directory (default ``RUN/evaluate-S<subjects>``): ``config.json`` (the configuration,
the run it came from, the models used), ``metrics.json`` (one record per model, task and new
subject, aggregated exactly as :func:`jeeg.summary.summarise` does for a run, so
:func:`jeeg.report.results_table` prints it), ``predictions.csv`` (one row per trial and model,
with class probabilities) and ``confusion_matrix.png``.

Refused with :class:`~jeeg.errors.ConfigError`, before any data are read where possible: a
subject that was in the run (it trained at least one fold, or the final model); an unfinished
run (no ``metrics.json``); a run that kept no model parameters (``checkpoint_every=0`` and no
final model); configuration overrides other than where the data are (the run's preprocessing
is applied unchanged); and, once read, data whose channels (montage), sampling frequency, trial
length, classes or preprocessing differ from those the run's models were trained on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from jeeg import report
from jeeg.baselines import fit_predict
from jeeg.checkpoints import fold_programs, load_member_states
from jeeg.config import CVConfig, make_config
from jeeg.cv import load_for_config
from jeeg.errors import ConfigError
from jeeg.final import data_facts, final_dir
from jeeg.folds import TaskFold
from jeeg.host import environment
from jeeg.run.setup import build_trainer, model_inputs_for
from jeeg.rundir import prediction_rows, prepare_out_dir, write_predictions
from jeeg.splits import Fold
from jeeg.summary import fold_record, summarise

#: Keys ``jeeg evaluate --set`` may change: where the data are and how the model is batched, never
#: what the data are.
EVALUATE_KEYS = ("data_dir", "cache_dir", "download", "skip_missing_runs", "eval_batch_size")


def _subjects_text(subjects) -> str:
    """``[18, 19, 20]`` → ``"S018-020"``; ``[4, 7]`` → ``"S004_007"`` (folder names)."""
    s = sorted(int(x) for x in subjects)
    if len(s) > 1 and s == list(range(s[0], s[-1] + 1)):
        return f"S{s[0]:03d}-{s[-1]:03d}"
    return "S" + "_".join(f"{x:03d}" for x in s)


def _span(subjects) -> str:
    s = sorted(int(x) for x in subjects)
    return ", ".join(f"S{x:03d}" for x in s) if len(s) <= 6 else f"{len(s)} subjects S{s[0]:03d}…S{s[-1]:03d}"


def default_out(run: Path, subjects) -> Path:
    """``RUN/evaluate-S018-020`` (see :func:`_subjects_text`)."""
    return Path(run) / f"evaluate-{_subjects_text(subjects)}"


def check_run(run: Path, subjects, overrides: dict | None = None, ensemble: bool = False) -> dict:
    """Everything ``jeeg evaluate`` can check before reading data.

    Parameters
    ----------
    run : Path
        A finished ``jeeg cv`` / ``jeeg sweep`` run directory.
    subjects : str or sequence of int
        The new subjects (``"18-20"``, ``"4,7"`` or a list).
    overrides : dict, optional
        Config keys to change; only :data:`EVALUATE_KEYS`.
    ensemble : bool
        Use the fold models even if the run has a final model.

    Returns
    -------
    dict
        ``run``, ``run_cfg`` (the run's :class:`CVConfig`), ``cfg`` (the evaluation's),
        ``metrics`` (the run's ``metrics.json``), ``source`` (``"final"`` or ``"ensemble"``),
        ``setting`` (a sweep's chosen grid point, else 0) and ``settings`` (the grid points whose
        fold models the ensemble averages: every seed of the chosen point).

    Raises
    ------
    ConfigError
        See the module docstring.
    """
    run = Path(run)
    path = run / "config.json"
    if not path.is_file():
        raise ConfigError(f"{run}: no config.json there; give the directory of a finished `jeeg cv` run")
    rcfg = make_config(json.loads(path.read_text())["config"], str(path))
    if not (run / "metrics.json").is_file():
        raise ConfigError(f"run {run} is unfinished (no metrics.json); finish it with `jeeg cv --resume {run}` first")
    metrics = json.loads((run / "metrics.json").read_text())
    overrides = dict(overrides or {})
    if bad := sorted(set(overrides) - set(EVALUATE_KEYS)):
        raise ConfigError(
            f"jeeg evaluate applies run {run}'s configuration unchanged (its preprocessing, alignment, representation "
            f"and model); it does not accept --set {', '.join(bad)}. Only where the data are may change: "
            f"{', '.join(EVALUATE_KEYS)}")
    cfg = make_config({**rcfg.to_dict(), **overrides, "subjects": subjects}, "jeeg evaluate")
    trained = {int(s) for s in rcfg.subjects}
    for task in (metrics.get("final") or {}).values():
        trained |= set(task["subjects"])
    if seen := sorted(set(cfg.subjects) & trained):
        raise ConfigError(
            f"subject(s) {', '.join(f'S{s:03d}' for s in seen)} trained run {run} (its subjects: "
            f"{_span(sorted(trained))}); jeeg evaluate scores subjects the run never saw: choose others")
    if len(set(cfg.subjects)) != len(cfg.subjects):
        raise ConfigError(f"--subjects lists a subject twice: {list(cfg.subjects)}")
    final = metrics.get("final") or {}
    source = "final" if final and not ensemble else "ensemble"
    if source == "ensemble":
        ckpt = run / "checkpoints"
        has_folds = bool(rcfg.checkpoint_every) and ckpt.is_dir() and any(ckpt.glob(f"{rcfg.model}-*"))
        if not has_folds:
            why = "checkpoint_every=0" if not rcfg.checkpoint_every else f"no {ckpt}/{rcfg.model}-* folders"
            if final:
                raise ConfigError(f"run {run} kept no fold models ({why}); evaluate its final model (leave out --ensemble)")
            raise ConfigError(
                f"run {run} kept no model parameters ({why}, and no final model): rerun it with `jeeg cv ... --final` "
                "(or checkpoint_every ≥ 1) to evaluate it on new subjects")
    else:
        for task, facts in final.items():
            if not (run / facts["checkpoint"]).is_dir():
                raise ConfigError(f"run {run}: the final model of {task} is missing ({run / facts['checkpoint']}); "
                                  "was the run moved or cut short? Use --ensemble for the fold models")
    sweep = metrics.get("sweep", {})
    setting = int(final[next(iter(final))]["setting"]) if source == "final" else int(sweep.get("chosen_setting", 0))
    settings = [setting] if source == "final" else [int(s) for s in sweep.get("chosen_settings", [0])]
    return {"run": run, "run_cfg": rcfg, "cfg": cfg, "metrics": metrics, "source": source, "setting": setting,
            "settings": settings}


def check_data(ds, facts: dict, run: Path, what: str = "the new subjects' data") -> None:
    """Refuse data the run's models cannot be applied to.

    Parameters
    ----------
    ds : EpochsDataset
    facts : dict
        What the run trained on (:func:`jeeg.final.data_facts`, ``metrics.json["data"]``).

    Raises
    ------
    ConfigError
        Channels (names and order: the montage), sampling frequency, samples per trial, epoch
        start, class names or the loader's preprocessing differ; the message names each.
    """
    here = data_facts(ds)
    differ = []
    if list(here["ch_names"]) != list(facts["ch_names"]):
        extra = [c for c in here["ch_names"] if c not in facts["ch_names"]]
        lost = [c for c in facts["ch_names"] if c not in here["ch_names"]]
        detail = f"not in the run: {extra[:5]}; missing: {lost[:5]}" if extra or lost else "same names, other order"
        differ.append(f"channels ({len(here['ch_names'])} here vs {len(facts['ch_names'])} in the run; {detail})")
    for key, unit in (("sfreq", " Hz"), ("n_times", " samples"), ("tmin", " s")):
        if facts.get(key) is not None and not np.isclose(float(here[key]), float(facts[key])):
            differ.append(f"{key} {here[key]}{unit} here vs {facts[key]}{unit} in the run")
    if list(here["class_names"]) != list(facts["class_names"]):
        differ.append(f"classes {here['class_names']} here vs {facts['class_names']} in the run")
    if facts.get("preprocessing") is not None and here["preprocessing"] is not None \
            and here["preprocessing"] != facts["preprocessing"]:
        keys = sorted(k for k in set(here["preprocessing"]) | set(facts["preprocessing"])
                      if here["preprocessing"].get(k) != facts["preprocessing"].get(k))
        differ.append("preprocessing " + ", ".join(
            f"{k}={here['preprocessing'].get(k)!r} here vs {facts['preprocessing'].get(k)!r} in the run" for k in keys))
    if differ:
        raise ConfigError(f"{what} differ from what run {run}'s models were trained on: {'; '.join(differ)}. "
                          "The models apply only to data with the run's montage, sampling rate and preprocessing")


def _models_of_task(info: dict, task: str, rcfg: CVConfig) -> tuple[list, str, int, int]:
    """Where the network models of ``task`` are: ``(programs, subtree, n_models, n_train)`` for
    :func:`jeeg.checkpoints.load_member_states`; ``n_train``: trials the model(s) trained on
    (the final model's, or the mean of the folds' training parts)."""
    run, metrics = info["run"], info["metrics"]
    if info["source"] == "final":
        f = metrics["final"].get(task)
        if f is None:
            raise ConfigError(f"run {run} has no final model of task {task}")
        return [(final_dir(run, task), 0, int(f["seed"]), int(f["position"]))], None, 1, int(f["n_trials"])
    programs, n_train = [], []
    for s in info["settings"]:
        recs = [r for r in metrics["folds"] if r["model"] == rcfg.model and r.get("setting", 0) == s]
        positions = [k for k, r in enumerate(recs) if r["task"] == task]
        programs += fold_programs(run, rcfg, positions, s)
        n_train += [recs[k]["n_train"] for k in positions]
    if not programs:
        raise ConfigError(f"run {run} has no fold of {rcfg.model} on task {task}")
    subtree = "student" if rcfg.distill != "none" else None
    return programs, subtree, len(programs), round(float(np.mean(n_train)))


def evaluate_run(run: Path, subjects, *, out: Path | None = None, overrides: dict | None = None, ensemble: bool = False,
                 baselines: bool = True, overwrite: bool = False,
                 progress: Callable[[str], None] | None = None) -> tuple[dict, Path]:
    """Apply run ``run``'s models to new ``subjects`` and write the results (module docstring).

    Parameters
    ----------
    run : Path
        A finished run directory.
    subjects : str or sequence of int
        Subjects the run never saw (``"18-20"``).
    out : Path, optional
        Output directory (default :func:`default_out`).
    overrides : dict, optional
        Only :data:`EVALUATE_KEYS` (e.g. ``data_dir``, ``download``).
    ensemble : bool
        Use the fold models' ensemble even where the run has a final model.
    baselines : bool
        Also refit the run's baselines on its subjects and score them (reads the run's data).
    overwrite : bool
        Replace results already in ``out``.
    progress : callable(str), optional
        Status messages.

    Returns
    -------
    (dict, Path)
        The ``metrics.json`` content and the output directory.

    Raises
    ------
    ConfigError
        See the module docstring; plus the data loaders' errors (missing recordings, ...).
    """
    say = progress or (lambda msg: None)
    info = check_run(run, subjects, overrides, ensemble)
    run, rcfg, cfg, rmetrics, source = info["run"], info["run_cfg"], info["cfg"], info["metrics"], info["source"]
    out = Path(out) if out is not None else default_out(run, cfg.subjects)
    if out.resolve() == run.resolve():
        raise ConfigError(f"--out {out} is the run directory itself; give another folder (default {default_out(run, cfg.subjects)})")
    prepare_out_dir(out, overwrite, clear=False)  # refuse finished results now, before reading data
    say(f"loading {_span(cfg.subjects)}")
    ds = load_for_config(cfg, progress=say)
    facts = rmetrics.get("data")
    train_ds = None
    fit_baselines = baselines and bool(rcfg.baselines)
    if fit_baselines or facts is None:  # runs written before metrics.json recorded its data facts
        say(f"loading the run's {len(rcfg.subjects)} subjects for the baselines")
        where = {k: getattr(cfg, k) for k in ("data_dir", "cache_dir", "download", "skip_missing_runs")}
        train_ds = load_for_config(rcfg.replace(**where), progress=say)
        if facts is not None:
            check_data(train_ds, facts, run, "the run's own data as read now")
        facts = facts or data_facts(train_ds)
    check_data(ds, facts, run)
    if missing := sorted(set(ds.tasks) - set(rmetrics["tasks"])):
        raise ConfigError(f"run {run} trained no model of task(s) {missing}")

    records: list[dict] = []
    rows: list[dict] = []

    def score(model: str, task: str, idx: np.ndarray, proba: np.ndarray, extra: dict) -> None:
        y_pred = proba.argmax(-1)
        for subject in sorted(int(s) for s in np.unique(ds.subject[idx])):
            sel = ds.subject[idx] == subject
            fold = Fold(f"S{subject:03d}", "unseen", len(records), np.zeros(0, np.int64), np.zeros(0, np.int64),
                        idx[sel], (subject,), True)
            tf = TaskFold(task, fold, np.zeros(0, np.int64), np.zeros(0, np.int64), idx[sel])
            records.append(fold_record(model, tf, ds, y_pred[sel], {"n_val": 0, **extra}))
        rows.extend(prediction_rows(ds, idx, model, task, [f"S{int(s):03d}" for s in ds.subject[idx]], y_pred, proba,
                                    extra.get("setting", 0)))

    say(f"{rcfg.model}: computing {rcfg.representation} inputs")
    inputs = model_inputs_for(cfg, ds)
    per_task = {task: np.flatnonzero(ds.task == task) for task in ds.tasks}
    # the trained model alone (a distillation run's student), to apply its states
    trainer = build_trainer(cfg, ds, batch_size=1, n_train_pad=1, n_eval_pad=max(len(i) for i in per_task.values()),
                            plain=True)
    if inputs.shape[1:] != trainer.input_shape:
        raise ConfigError(f"{cfg.model} takes trials of shape {trainer.input_shape} but the new subjects' inputs are "
                          f"{inputs.shape[1:]}")
    used: dict[str, dict] = {}
    for task, idx in per_task.items():
        programs, subtree, n_models, n_train = _models_of_task(info, task, rcfg)
        say(f"{rcfg.model}: {source} of {n_models} model(s) on {task}, {len(idx)} trials")
        flat = load_member_states(programs, run, "evaluate", subtree)
        state = trainer.model_state(flat, f"run {run}")
        logits = trainer.predict(state, inputs, idx)  # (K, n, n_classes)
        proba = np.asarray(jax.nn.softmax(logits, -1)).mean(0)
        extra = {"setting": info["setting"], "source": source, "n_models": n_models, "n_train": n_train}
        score(cfg.model, task, idx, proba, extra)
        used[task] = {"source": source, "n_models": n_models, "checkpoints": sorted({str(p[0].relative_to(run))
                                                                                     for p in programs})}
    if fit_baselines:
        for name in rcfg.baselines:
            for task, idx in per_task.items():
                say(f"{name}: refit on the run's {len(rcfg.subjects)} subjects, {task}")
                fit_idx = np.flatnonzero(train_ds.task == task)
                y_fit = train_ds.y[fit_idx]
                _, proba = fit_predict(name, train_ds.X[fit_idx], y_fit, ds.X[idx], sfreq=ds.sfreq, n_classes=ds.n_classes)
                score(name, task, idx, proba, {"setting": 0, "source": "refit", "n_models": 1, "n_train": len(fit_idx)})
    ecfg = cfg.replace(grid={}, baselines=list(rcfg.baselines) if fit_baselines else [])
    order = [ecfg.model, *ecfg.baselines]
    records.sort(key=lambda r: order.index(r["model"]))
    rows.sort(key=lambda r: order.index(r["model"]))
    metrics = summarise(ecfg, ds, records, len(records) // max(len(order), 1), {})
    base = rmetrics.get("labels", {}).get(cfg.model) or report.display_name(cfg.model)
    counts = sorted({u["n_models"] for u in used.values()})
    what = "final model" if source == "final" else f"mean of {'/'.join(map(str, counts))} fold models"
    metrics["labels"] = {**metrics.get("labels", {}), cfg.model: f"{base} ({what})",
                         **{b: f"{report.display_name(b)} (refit)" for b in ecfg.baselines}}
    trained_on = sorted({int(s) for s in rcfg.subjects})
    metrics["evaluate"] = {"run": str(run.resolve()), "source": source, "setting": info["setting"], "models": used,
                           "subjects": [int(s) for s in cfg.subjects], "training_subjects": trained_on,
                           "baselines_refit": bool(fit_baselines)}
    metrics["data"] = data_facts(ds)
    prepare_out_dir(out, overwrite)
    (out / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "evaluate": metrics["evaluate"],
                                                 "environment": environment()}, indent=2))
    write_predictions(out, rows)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    report.plot_confusion_matrices(metrics, out / "confusion_matrix.png")
    return metrics, out


__all__ = ["EVALUATE_KEYS", "check_data", "check_run", "default_out", "evaluate_run"]
