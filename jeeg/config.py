"""Experiment configuration: one flat, typed, validated set of keys for a cross-validation run.

Experiments are Python files in ``experiments/`` (big_vision style): a module docstring giving the
exact command and the result it produced, and a function ``config()`` returning a dict of the keys
it sets. Command-line ``--set key=value`` overrides are parsed with the key's declared type.
Unknown keys raise :class:`~jeeg.errors.ConfigError` with the closest valid names.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import math
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jeeg.data.eegmmidb import Preprocessing
from jeeg.engine.loop import TrainConfig
from jeeg.errors import ConfigError, choice_error

ALL_EEGMMIDB_SUBJECTS = tuple(range(1, 110))
# Preprocessing and training defaults live in one place each; CVConfig exposes them as flat keys.
_PRE, _TRAIN = Preprocessing(), TrainConfig()


@dataclass(frozen=True)
class CVConfig:
    """Every key a ``jeeg cv`` run understands.

    Data: ``dataset`` (:data:`jeeg.data.SPECS`: ``eegmmidb``, ``slpdb``, ``sleep_edf``, ``seed``,
    ``seed_iv``, or ``moabb:NAME``, any MOABB dataset, :mod:`jeeg.data.moabb_datasets`; a dataset's
    own defaults, its :class:`jeeg.data.DatasetSpec`'s ``defaults``, replace those below for the
    keys a config does not set — SEED: :data:`jeeg.data.seed.CV_DEFAULTS`), ``task`` (one name or
    several sharing class names; the spec's ``tasks``; for MOABB a paradigm), ``subjects``, ``runs``
    (``None`` = all runs of the task), ``data_dir`` (``None`` = ``MNE_DATA`` / MNE config /
    ``~/mne_data``), ``download`` (allow MNE to fetch missing files), ``skip_missing_runs`` (leave out runs
    absent from ``data_dir`` if every subject keeps every class), ``cache_dir``.
    Preprocessing: ``l_freq``/``h_freq`` (Hz, MNE FIR band-pass; ``None`` disables a side),
    ``tmin``/``tmax`` (epoch window in s relative to the cue), ``resample`` (Hz or ``None``),
    ``channels`` (``None`` = all), ``standardize`` (per-trial channel-wise z-score for the neural
    model; baselines always see µV), ``alignment`` (``"none"``, ``"euclidean"`` or ``"riemann"``:
    each subject's trials of a task whitened by that subject's mean covariance, computed from its
    own unlabelled trials, before folds, baselines and models; :mod:`jeeg.alignment`).
    Splits: ``scheme``, ``n_folds``, ``val_fraction`` (see :mod:`jeeg.splits`).
    Model and training: ``model``, ``model_kwargs`` and :class:`jeeg.engine.TrainConfig` keys.
    ``baselines``: classical pipelines scored on the same folds (:data:`jeeg.baselines.BASELINES`:
    ``csp_lda``, ``logvar_lr``, ``de_lr``). ``seed``: the one root seed.
    Members (:mod:`jeeg.engine`): ``max_members`` — members per compiled program: ``0`` trains
    all folds (and grid points) together, split automatically into programs that fit device
    memory; ``1`` trains one fold after another; ``N`` at most N at once. ``checkpoint_every``:
    epochs between orbax checkpoints in the run directory (``0``: none; resuming needs them, and
    ``jeeg evaluate`` needs the fold models' or a final model's). ``final``: after the
    cross-validation, also train one model per task on every trial of every subject of the run,
    for the median selected epoch of that task's folds (:mod:`jeeg.final`), to apply to unseen
    subjects with ``jeeg evaluate`` (:mod:`jeeg.evaluate`).
    ``grid``: ``jeeg sweep`` only — lists of ``lr``, ``weight_decay`` and/or ``seed`` whose
    product, times the folds, is trained as members.
    Distillation (:mod:`jeeg.engine.distill`; MSC-T3AM's online and offline KD, Yan, Wang & Li 2025,
    Neural Networks, doi:10.1016/j.neunet.2025.107806): ``distill`` — ``"none"`` (the model
    alone), ``"online"`` (teacher ``teacher`` with ``teacher_kwargs`` trained with the student in
    the same jitted step) or ``"offline"`` (the trained teacher of each fold restored from the
    orbax checkpoints of the finished ``jeeg cv`` run in ``teacher_run`` and frozen); the student
    loss :func:`jeeg.engine.distill.kd_loss` with ``kd_temperature``, ``kd_weight``, ``kd_reduction``,
    ``kd_t_squared`` and ``kd_ce_weight`` (weight of the cross-entropy), or, with
    ``kd_loss="features"`` (offline only), :func:`jeeg.engine.distill.attention_transfer_loss` on the
    models' feature groups with ``at_normalise`` (``"sample"`` or the reference's ``"batch"``).
    Cross-modal (Joshi et al., arXiv:2112.07252 and arXiv:2211.13125): ``model_channels`` / ``teacher_channels`` — the input
    channels of the model (the student) and of the teacher, each a channel name, ``"-NAME"`` (sign
    flipped) or a bipolar pair ``"C3-C4"`` (:func:`jeeg.representations.derivation_matrix`);
    empty = every channel. ``init_run``: a finished run of the same model and folds whose selected
    models (a distillation run's students) start this run's members — training stages chain.
    Protocol: ``"honest"`` selects the epoch on the validation part and scores the test part once.
    ``"paper"`` reproduces MSC-T3AM's published evaluation, which is optimistic: no validation
    part (the model trains on the whole training side), the test part is scored after every
    epoch and the fold's score is its best test epoch (``monitor=val_accuracy`` on the test part,
    no early stopping). Its results are labelled as such everywhere.
    Input: ``representation`` — ``"raw"`` (the trials, z-scored if ``standardize``) or
    ``"sst_grid"`` (SST-EmotionNet's differential-entropy and temporal maps on an electrode grid,
    :func:`jeeg.representations.sst_grid_inputs` with ``representation_kwargs``).
    """

    dataset: str = "eegmmidb"
    task: tuple[str, ...] = ("left_right_imagined",)
    subjects: tuple[int, ...] = ALL_EEGMMIDB_SUBJECTS
    runs: tuple[int, ...] | None = None
    data_dir: str | None = None
    download: bool = False
    skip_missing_runs: bool = False
    cache_dir: str | None = None
    l_freq: float | None = _PRE.l_freq
    h_freq: float | None = _PRE.h_freq
    tmin: float = _PRE.tmin
    tmax: float = _PRE.tmax
    resample: float | None = _PRE.resample
    channels: tuple[str, ...] | None = None
    standardize: bool = True
    alignment: str = "none"
    scheme: str = "within_subject_stratified"
    n_folds: int = 5
    val_fraction: float = 0.2
    model: str = "stff_da"
    model_kwargs: dict = field(default_factory=dict)
    batch_size: int = _TRAIN.batch_size
    max_epochs: int = _TRAIN.max_epochs
    lr: float = _TRAIN.lr
    weight_decay: float = _TRAIN.weight_decay
    schedule: str = _TRAIN.schedule
    warmup_epochs: int = _TRAIN.warmup_epochs
    patience: int = _TRAIN.patience
    monitor: str = _TRAIN.monitor
    eval_batch_size: int = _TRAIN.eval_batch_size
    baselines: tuple[str, ...] = ("csp_lda", "logvar_lr")
    seed: int = 0
    max_members: int = 0
    checkpoint_every: int = 10
    final: bool = False
    grid: dict = field(default_factory=dict)
    distill: str = "none"
    teacher: str = "eegnet"
    teacher_kwargs: dict = field(default_factory=dict)
    teacher_run: str | None = None
    kd_temperature: float = 1.5
    kd_weight: float = 1.0
    kd_reduction: str = "reference"
    kd_t_squared: bool = False
    kd_ce_weight: float = 1.0
    kd_loss: str = "logits"
    at_normalise: str = "sample"
    model_channels: tuple[str, ...] = ()
    teacher_channels: tuple[str, ...] = ()
    init_run: str | None = None
    protocol: str = "honest"
    representation: str = "raw"
    representation_kwargs: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    def preprocessing(self) -> Preprocessing:
        """The :class:`~jeeg.data.eegmmidb.Preprocessing` these keys describe."""
        return Preprocessing(**{f.name: getattr(self, f.name) for f in fields(Preprocessing)})

    def train_config(self) -> TrainConfig:
        """The :class:`~jeeg.engine.TrainConfig` these keys describe.

        Under ``protocol="paper"`` the epoch is chosen on accuracy of the part scored every epoch
        (there the test part) and no member stops early.
        """
        values = {f.name: getattr(self, f.name) for f in fields(TrainConfig)}
        if self.protocol == "paper":
            values.update(monitor="val_accuracy", patience=self.max_epochs)
        return TrainConfig(**values)

    def replace(self, **changes) -> "CVConfig":
        return make_config({**self.to_dict(), **changes})


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


_FIELDS = {f.name: f for f in fields(CVConfig)}
GRID_KEYS = ("lr", "weight_decay", "seed")
_KWARGS_KEYS = ("model_kwargs", "teacher_kwargs", "representation_kwargs")
DISTILL_MODES = ("none", "offline", "online")
PROTOCOLS = ("honest", "paper")
# Keys a teacher run must share with an offline-distillation run: same trials, folds and member keys.
TEACHER_RUN_KEYS = ("dataset", "task", "subjects", "runs", "l_freq", "h_freq", "tmin", "tmax", "resample",
                    "channels", "standardize", "alignment", "scheme", "n_folds", "val_fraction", "seed", "protocol",
                    "representation", "representation_kwargs")


def _check_keys(keys, where: str) -> None:
    for k in keys:
        if k not in _FIELDS:
            close = difflib.get_close_matches(k, _FIELDS, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown config key {k!r} in {where}.{hint} Valid keys: {', '.join(_FIELDS)}"
            )


def _parse_int_list(text: str, key: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ConfigError(f"{key}: cannot read {part!r} as an integer or range like 1-17") from None
    return tuple(out)


def _element(v: Any, elem: type) -> Any:
    """One element of a tuple key: an integer (``1``, ``1.0``, ``"1"``) or a name (a string)."""
    if elem is int:
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise TypeError
        if not isinstance(v, (int, float, str)):
            raise TypeError
        return int(v)
    if not isinstance(v, str):
        raise TypeError
    return v


def _coerce(key: str, value: Any) -> Any:
    """Convert ``value`` (from a config file, JSON or a ``--set`` string) to the key's type."""
    tp = _FIELDS[key].type
    hint = typing.get_type_hints(CVConfig)[key]
    args = typing.get_args(hint)
    optional = type(None) in args
    if isinstance(value, str) and optional and value.strip().lower() in ("none", "null", ""):
        return None
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{key} may not be None (type {tp})")
    base = next((a for a in args if a is not type(None)), hint) if isinstance(hint, types.UnionType) or optional else hint
    origin = typing.get_origin(base)
    try:
        if origin is tuple:
            elem = typing.get_args(base)[0]
            if isinstance(value, str):
                if elem is int:
                    return _parse_int_list(value, key)
                return tuple(p.strip() for p in value.split(",") if p.strip())
            if isinstance(value, (int, float)) and not isinstance(value, bool) and elem is int:
                value = [value]
            if isinstance(value, (dict, bytes)) or not isinstance(value, typing.Iterable):
                raise TypeError
            return tuple(_element(v, elem) for v in value)
        if base is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
        if base is bool:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value not in (0, 1):
                raise TypeError
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise TypeError
            if not isinstance(value, (bool, int, float)):
                raise TypeError
            return bool(value)
        if isinstance(value, bool) and base in (int, float):
            raise TypeError  # True/False for a number is a slip, not 1/0
        if base is int:
            if isinstance(value, float) and not value.is_integer():
                raise TypeError
            return int(value)
        if base is float:
            return float(value)
        if base is str:
            if isinstance(value, (list, tuple, dict, set, bytes, bool)):
                raise TypeError
            return str(value)
    except (TypeError, ValueError, OverflowError, json.JSONDecodeError):
        pass
    raise ConfigError(f"config key {key!r}: cannot use {value!r} as {tp}")


def make_config(values: dict[str, Any], where: str = "config") -> CVConfig:
    """Build a validated :class:`CVConfig` from a dict; raises ConfigError on unknown keys/values."""
    _check_keys(values, where)
    from jeeg.data import check_config, dataset_defaults

    values = {**dataset_defaults(values.get("dataset", "")), **values}  # the dataset's own defaults
    kwargs = {k: _coerce(k, v) for k, v in values.items()}
    if "task" in kwargs and isinstance(kwargs["task"], str):
        kwargs["task"] = (kwargs["task"],)
    cfg = CVConfig(**kwargs)
    for f in fields(CVConfig):
        v = getattr(cfg, f.name)
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{f.name}={v}: give a finite number")
    if not 0 <= cfg.seed < 2**63:
        raise ConfigError(f"seed={cfg.seed}: seeds are integers in 0..2**63-1")
    if cfg.weight_decay < 0:
        raise ConfigError(f"weight_decay={cfg.weight_decay}: weight decay must be >= 0")
    if not cfg.task:
        raise ConfigError("task must name at least one task")
    if not cfg.subjects:
        raise ConfigError("subjects must list at least one subject")
    if not 0.0 < cfg.val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1); got {cfg.val_fraction}")
    if cfg.max_members < 0 or cfg.checkpoint_every < 0:
        raise ConfigError("max_members and checkpoint_every must be ≥ 0 (0 = automatic / no checkpoints)")
    bad = set(cfg.grid) - set(GRID_KEYS)
    if bad:
        raise ConfigError(f"grid may vary {', '.join(GRID_KEYS)} only; got {sorted(bad)}")
    for k, v in cfg.grid.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise ConfigError(f"grid[{k!r}] must be a non-empty list of values; got {v!r}")
    from jeeg.alignment import ALIGNMENTS
    from jeeg.representations import REPRESENTATIONS

    if cfg.alignment not in ALIGNMENTS:
        raise choice_error("alignment", cfg.alignment, ALIGNMENTS, "alignment")

    if cfg.representation not in REPRESENTATIONS:
        raise choice_error("representation", cfg.representation, REPRESENTATIONS, "representation")
    if cfg.protocol not in PROTOCOLS:
        raise choice_error("protocol", cfg.protocol, PROTOCOLS, "protocol")
    if cfg.distill not in DISTILL_MODES:
        raise choice_error("distill", cfg.distill, DISTILL_MODES, "distillation mode")
    if cfg.distill == "offline" and not cfg.teacher_run:
        raise ConfigError("distill=offline needs teacher_run=DIR, the finished `jeeg cv --model "
                          f"{cfg.teacher}` run (same data, folds and seed) whose checkpoints hold the teachers")
    if cfg.teacher_run and cfg.distill != "offline":
        raise ConfigError(f"teacher_run is read only by distill=offline (distill={cfg.distill!r}); remove it or set distill=offline")
    if cfg.distill != "none":
        from jeeg.engine.distill import _check_kd_options

        _check_kd_options(cfg.kd_temperature, cfg.kd_reduction, cfg.kd_loss, cfg.at_normalise)
        if cfg.kd_loss == "features" and cfg.distill != "offline":
            raise ConfigError("kd_loss=features (attention transfer) learns from a trained teacher: set distill=offline "
                              "and teacher_run=DIR")
    elif cfg.teacher_channels:
        raise ConfigError("teacher_channels is read only with a teacher (distill=online|offline); remove it")
    if cfg.final and (cfg.distill != "none" or cfg.init_run):
        raise ConfigError("final (a model trained on every subject) is supported for a model trained alone; "
                          "remove final, or distill / init_run")
    if cfg.monitor == "last" and cfg.grid:
        raise ConfigError("monitor=last selects no epoch on validation, so a sweep (grid) cannot choose a grid point; "
                          "use monitor=val_loss or val_accuracy")
    if cfg.init_run and cfg.grid:
        raise ConfigError("init_run with a sweep (grid) is not supported; run one jeeg cv per setting")
        if cfg.grid:
            raise ConfigError("a sweep (grid) with distillation is not supported yet; run one jeeg cv per setting")
    cfg.preprocessing(), cfg.train_config()  # validate their values now, before any data is read
    return check_config(cfg)  # dataset, task, scheme (and the dataset's own keys) agree


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Parse ``["key=value", "model_kwargs.F1=8", ...]`` into a dict (values still strings).

    Dotted keys ``model_kwargs.NAME=VALUE`` (or ``teacher_kwargs.NAME=VALUE``) set one model hyper-parameter; VALUE is read as JSON
    where possible (``8``, ``0.5``, ``true``) and as a string otherwise.
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value; got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        head, _, name = key.partition(".")
        if head in _KWARGS_KEYS and name:
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = value
            current = out.setdefault(head, {})
            if isinstance(current, str):  # an earlier whole `--set head={...}`: its entries, then this one
                try:
                    current = out[head] = json.loads(current)
                except json.JSONDecodeError:
                    pass
            if not isinstance(current, dict):
                raise ConfigError(f"--set {key}: {head} was set to {out[head]!r} before, not a dict of "
                                  f"hyper-parameters; set {head}={{...}} or {head}.NAME=VALUE")
            current[name] = parsed
            continue
        _check_keys([key], "--set")
        out[key] = value
    return out


def load_config_file(path: str | Path) -> tuple[dict[str, Any], str]:
    """Execute an experiment file and return (its ``config()`` dict, its docstring).

    Raises
    ------
    ConfigError
        If the file is missing, does not define ``config()``, or sets unknown keys.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment file {path} not found")
    spec = importlib.util.spec_from_file_location(f"jeeg_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "config", None)):
        raise ConfigError(f"experiment file {path} must define a function config() returning a dict")
    values = dict(module.config())
    _check_keys(values, str(path))
    return values, (module.__doc__ or "").strip()


def resolve(path: str | None, overrides: dict[str, Any]) -> CVConfig:
    """Config file (if any) → ``--set``/flag overrides on top → validated :class:`CVConfig`.

    An override of ``model`` (or ``teacher``) to another model than the file's drops the file's
    ``model_kwargs`` (``teacher_kwargs``): they were the file's model's hyper-parameters (overridden
    ones start from the new model's defaults)."""
    values: dict[str, Any] = {}
    where = "flags"
    if path is not None:
        values, _ = load_config_file(path)
        where = str(path)
    values = dict(values)
    for who, kw in (("model", "model_kwargs"), ("teacher", "teacher_kwargs")):
        # The file's hyper-parameters belong to the file's model: another model starts from its own defaults.
        if who in overrides and values.get(who, overrides[who]) != overrides[who]:
            values.pop(kw, None)
    merged = dict(values)
    for k, v in overrides.items():
        if k in _KWARGS_KEYS and isinstance(v, dict):
            merged[k] = {**dict(values.get(k, {})), **v}
        else:
            merged[k] = v
    return make_config(merged, where)


__all__ = ["CVConfig", "DISTILL_MODES", "GRID_KEYS", "PROTOCOLS", "TEACHER_RUN_KEYS", "load_config_file", "make_config", "parse_overrides", "resolve"]
