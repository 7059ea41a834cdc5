"""Reading the orbax checkpoints of finished runs (their format: :mod:`jeeg.engine.checkpoint`).

:func:`checkpoint_arrays` lists every array of a run's checkpoints (``jeeg cv
--check-reproducible`` and :func:`jeeg.compare.compare_runs` compare them bitwise);
:func:`check_teacher_run` and :func:`load_teacher_run` find the trained teacher of each fold in a
teacher run for offline distillation (``distill=offline``, ``teacher_run=DIR``);
:func:`check_init_run` and :func:`load_init_run` the models a chained stage starts from
(``init_run=DIR``); :func:`fold_programs` and :func:`load_member_states` any members' kept
models, e.g. a run's fold models or final model applied to new subjects (:mod:`jeeg.evaluate`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jeeg.config import CVConfig
from jeeg.engine.checkpoint import checkpoint_keys, leaf_name, member_key, program_dir, restore_raw
from jeeg.errors import ConfigError


# ------------------------------------------------------------------------------ teacher runs
def _run_config(directory: str, what: str, model: str) -> tuple[Path, CVConfig]:
    """The directory and configuration of the finished run another run reads (``what``: its key)."""
    from jeeg.config import make_config

    run = Path(directory)
    path = run / "config.json"
    if not path.is_file():
        raise ConfigError(f"{what} {run}: no config.json there; give the directory of a finished `jeeg cv --model "
                          f"{model}` run")
    try:
        values = json.loads(path.read_text())["config"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ConfigError(f"{what} {run}: {path} is not a jeeg run's config.json ({type(e).__name__}: {e}); give the "
                          f"directory of a finished `jeeg cv --model {model}` run") from None
    return run, make_config(values, str(path))


def check_teacher_run(cfg: CVConfig) -> tuple[Path, CVConfig]:
    """Check that ``cfg.teacher_run`` is a finished run of ``cfg.teacher`` on the same folds.

    Returns the run directory and its configuration.

    Raises
    ------
    ConfigError
        If it is not a jeeg run, trained another model or other teacher hyper-parameters, used
        other data, folds, seed or protocol (the differing keys are named), is a sweep, is
        unfinished, or kept no checkpoints.
    """
    run, tcfg = _run_config(cfg.teacher_run, "teacher_run", cfg.teacher)
    if tcfg.model != cfg.teacher:
        raise ConfigError(f"teacher_run {run} trained model {tcfg.model!r}, not the teacher {cfg.teacher!r}; "
                          f"train the teacher with `jeeg cv --model {cfg.teacher}` on the same data and folds")
    if tcfg.distill != "none":
        raise ConfigError(f"teacher_run {run} is itself a distillation run ({tcfg.distill}); give a run of the teacher alone")
    if dict(tcfg.model_kwargs) != dict(cfg.teacher_kwargs):
        raise ConfigError(f"teacher_run {run} used model_kwargs {tcfg.model_kwargs}, but teacher_kwargs here are "
                          f"{cfg.teacher_kwargs}; they must be equal")
    if tuple(tcfg.model_channels) != tuple(cfg.teacher_channels):
        raise ConfigError(f"teacher_run {run} fed its model the channels {list(tcfg.model_channels) or 'all'}, but "
                          f"teacher_channels here are {list(cfg.teacher_channels) or 'all'}; they must be equal")
    _check_finished_on_same_folds(run, tcfg, cfg, "teacher_run")
    return run, tcfg


def _check_finished_on_same_folds(run: Path, rcfg: CVConfig, cfg: CVConfig, what: str) -> None:
    """A run another run reads (``what``: its config key) must share its trials, folds and seed,
    be one setting, be finished and have kept checkpoints."""
    from jeeg.config import TEACHER_RUN_KEYS

    differ = [k for k in TEACHER_RUN_KEYS if getattr(rcfg, k) != getattr(cfg, k)]
    if differ:
        pairs = ", ".join(f"{k}={getattr(rcfg, k)!r} there vs {getattr(cfg, k)!r} here" for k in differ)
        raise ConfigError(f"{what} {run} was trained on other trials or folds ({pairs}); each fold needs the model "
                          "trained on that fold: use the same data, split and seed keys")
    if rcfg.grid:
        raise ConfigError(f"{what} {run} is a sweep; give a `jeeg cv` run of one setting")
    if not (run / "metrics.json").is_file():
        raise ConfigError(f"{what} {run} is unfinished (no metrics.json); finish it with `jeeg cv --resume {run}`")
    if not rcfg.checkpoint_every or not (run / "checkpoints").is_dir():
        raise ConfigError(f"{what} {run} kept no checkpoints (checkpoint_every=0); rerun it with checkpoints")


def check_init_run(cfg: CVConfig) -> tuple[Path, CVConfig]:
    """Check that ``cfg.init_run`` is a finished run of the same model on the same folds, whose
    selected models may start this run (a chained training stage, e.g. the sleep-staging
    feature stage before KD). Returns the run directory and its configuration.

    Raises
    ------
    ConfigError
        If it is not a jeeg run, trained another model, other hyper-parameters or input channels,
        used other data, folds, seed or protocol (the keys are named), is a sweep, is unfinished
        or kept no checkpoints.
    """
    run, icfg = _run_config(cfg.init_run, "init_run", cfg.model)
    if icfg.model != cfg.model or dict(icfg.model_kwargs) != dict(cfg.model_kwargs):
        raise ConfigError(f"init_run {run} trained {icfg.model!r} with {icfg.model_kwargs}; this run trains "
                          f"{cfg.model!r} with {cfg.model_kwargs}: they must be equal")
    if tuple(icfg.model_channels) != tuple(cfg.model_channels):
        raise ConfigError(f"init_run {run} fed the model channels {list(icfg.model_channels) or 'all'}, this run "
                          f"{list(cfg.model_channels) or 'all'}: they must be equal")
    _check_finished_on_same_folds(run, icfg, cfg, "init_run")
    return run, icfg


def _latest_tree(prog: Path, run: Path, what: str) -> tuple[Path, dict]:
    """The latest checkpoint item of one program folder of a finished run, restored raw."""
    steps = sorted(int(d.name) for d in prog.glob("*") if d.name.isdigit()) if prog.is_dir() else []
    if not steps:
        raise ConfigError(f"{what} {run}: no checkpoint in {prog}; was the run moved or cut short?")
    path = (prog / str(steps[-1]) / "default").absolute()
    tree = restore_raw(path)
    if "best" not in tree or "loop" not in tree:
        raise ConfigError(f"{path} is not a jeeg training checkpoint (no 'best' / 'loop' entries)")
    return path, tree


def load_member_states(programs: list[tuple[Path, int, int, int]], run: Path, what: str,
                       subtree: str | None = None) -> dict[str, np.ndarray]:
    """The kept states (``best``: the selected epoch, or the last one under ``monitor="last"``)
    of members of a finished run, as flat arrays stacked over the members asked for.

    Parameters
    ----------
    programs : list of (program folder, slot, seed, position)
        Each member: the checkpoint folder of its program (:func:`program_dir`), its slot in
        that program's member stack, and the seed and position its PRNG key was made from
        (:func:`member_key`), which the checkpoint's keys must match.
    run : Path
        The run (named in errors), ``what`` its role (``"teacher_run"``, ``"evaluate"``, ...).
    subtree : str, optional
        The part of a distillation run's members to take (``"student"``).

    Returns
    -------
    dict
        ``{"params/<path>" | "batch_stats/<path>": array (len(programs), ...)}``.

    Raises
    ------
    ConfigError
        A program folder without checkpoints, a checkpoint that is not jeeg's, or one whose member
        keys differ (written by another run, seed or fold order).
    """
    import jax

    trees: dict[Path, tuple[Path, dict]] = {}
    rows: list[dict[str, np.ndarray]] = []
    for prog, j, seed, position in programs:
        if prog not in trees:
            trees[prog] = _latest_tree(prog, run, what)
        path, tree = trees[prog]
        want = np.asarray(jax.random.key_data(member_key(seed, position)))
        key_data = np.asarray(tree["loop"]["key_data"])
        if j >= len(key_data) or not np.array_equal(key_data[j], want):
            raise ConfigError(f"checkpoint {path} does not hold the model of fold position {position} (its member keys "
                              "differ); it was written by another run")
        flat = {}
        for part in ("params", "batch_stats"):
            src = tree["best"][part]
            if subtree is not None:
                src = src[subtree]
            for kp, leaf in jax.tree_util.tree_flatten_with_path(src)[0]:
                flat[f"{part}/{leaf_name(kp)}"] = np.asarray(leaf)[j]
        rows.append(flat)
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def fold_programs(run: Path, rcfg: CVConfig, positions: list[int], setting: int = 0) -> list[tuple[Path, int, int, int]]:
    """Where the members of grid point ``setting`` at fold ``positions`` of a finished run keep
    their checkpoints: ``(program folder, slot, seed, position)`` for :func:`load_member_states`.

    Members are ordered grid point, then fold (:func:`jeeg.folds.make_members`) and grouped in
    programs of ``members_per_program`` (the run's ``engine.json``).

    Raises
    ------
    ConfigError
        If the run has no ``engine.json`` (it trained no model).
    """
    from jeeg.folds import grid_settings

    engine = run / "engine.json"
    if not engine.is_file():
        raise ConfigError(f"{run} has no engine.json: it trained no {rcfg.model} members")
    per = int(json.loads(engine.read_text())["members_per_program"])
    n_folds = int(json.loads(engine.read_text()).get("n_members", 0)) // max(len(grid_settings(rcfg)), 1)
    seed = grid_settings(rcfg)[setting]["seed"]
    out = []
    for p in positions:
        c, j = divmod(setting * n_folds + p, per)
        out.append((program_dir(run, rcfg.model, c), j, seed, p))
    return out


def _load_members(run: Path, rcfg: CVConfig, positions: list[int], what: str, subtree: str | None) -> dict[str, np.ndarray]:
    """The selected-epoch states (``best``) of the members at ``positions`` of a finished run of
    one setting, as flat arrays stacked over positions; ``subtree``: the part of a distillation
    run's members."""
    per = int(json.loads((run / "engine.json").read_text())["members_per_program"])
    programs = [(program_dir(run, rcfg.model, p // per), p % per, rcfg.seed, p) for p in positions]
    return load_member_states(programs, run, what, subtree)


def load_teacher_run(cfg: CVConfig, positions: list[int]) -> dict[str, np.ndarray]:
    """The trained teachers of the folds at ``positions``, read from ``cfg.teacher_run``'s checkpoints.

    Each fold's teacher is the selected-epoch state (``best``) of the member with the same fold in
    the teacher run (programs ``checkpoints/<teacher>-NNNN`` as its ``engine.json`` grouped them).

    Returns
    -------
    dict
        ``{"params/<path>" | "batch_stats/<path>": array (len(positions), ...)}``.

    Raises
    ------
    ConfigError
        See :func:`check_teacher_run`; also a checkpoint missing or written by other members
        (another seed or other folds: its PRNG keys differ).
    """
    run, tcfg = check_teacher_run(cfg)
    return _load_members(run, tcfg, positions, "teacher_run", None)


def load_init_run(cfg: CVConfig, positions: list[int]) -> dict[str, np.ndarray]:
    """The selected models of the folds at ``positions`` in ``cfg.init_run`` (the students of a
    distillation run), to start this run's members from. Same layout and errors as
    :func:`load_teacher_run`, with :func:`check_init_run`'s checks."""
    run, icfg = check_init_run(cfg)
    return _load_members(run, icfg, positions, "init_run", "student" if icfg.distill != "none" else None)


# ------------------------------------------------------------------------------ reproducibility checks
def checkpoint_arrays(run: Path) -> dict[str, np.ndarray]:
    """Every array of every orbax checkpoint under ``run/checkpoints`` → {path/leaf: array}."""
    import jax

    out: dict[str, np.ndarray] = {}
    root = run / "checkpoints"
    if not root.exists():
        return out
    for prog in sorted(p for p in root.iterdir() if p.is_dir()):
        for step in sorted((p for p in prog.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
            tree = restore_raw((step / "default").absolute())
            for key_path, leaf in jax.tree_util.tree_leaves_with_path(tree):
                name = f"{prog.name}/{step.name}/{leaf_name(key_path)}"
                out[name] = np.asarray(leaf)
    return out


__all__ = ["check_init_run", "check_teacher_run", "checkpoint_arrays", "checkpoint_keys", "fold_programs", "leaf_name",
           "load_init_run", "load_member_states", "load_teacher_run", "restore_raw"]
