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
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jeeg.data.eegmmidb import Preprocessing
from jeeg.errors import ConfigError
from jeeg.train import TrainConfig

ALL_EEGMMIDB_SUBJECTS = tuple(range(1, 110))
# Preprocessing and training defaults live in one place each; CVConfig exposes them as flat keys.
_PRE, _TRAIN = Preprocessing(), TrainConfig()


@dataclass(frozen=True)
class CVConfig:
    """Every key a ``jeeg cv`` run understands.

    Data: ``dataset``, ``task`` (one name or several sharing class names), ``subjects``, ``runs``
    (``None`` = all runs of the task), ``data_dir`` (``None`` = ``MNE_DATA`` / MNE config /
    ``~/mne_data``), ``download`` (allow MNE to fetch missing files), ``cache_dir``.
    Preprocessing: ``l_freq``/``h_freq`` (Hz, MNE FIR band-pass; ``None`` disables a side),
    ``tmin``/``tmax`` (epoch window in s relative to the cue), ``resample`` (Hz or ``None``),
    ``channels`` (``None`` = all), ``standardize`` (per-trial channel-wise z-score for the neural
    model; baselines always see µV).
    Splits: ``scheme``, ``n_folds``, ``val_fraction`` (see :mod:`jeeg.splits`).
    Model and training: ``model``, ``model_kwargs`` and :class:`jeeg.train.TrainConfig` keys.
    ``baselines``: classical pipelines scored on the same folds. ``seed``: the one root seed.
    Members (:mod:`jeeg.train`): ``max_members`` — members per compiled program: ``0`` trains
    all folds (and grid points) together, split automatically into programs that fit device
    memory; ``1`` trains one fold after another; ``N`` at most N at once. ``checkpoint_every``:
    epochs between orbax checkpoints in the run directory (``0``: none; resuming needs them).
    ``grid``: ``jeeg sweep`` only — lists of ``lr``, ``weight_decay`` and/or ``seed`` whose
    product, times the folds, is trained as members.
    """

    dataset: str = "eegmmidb"
    task: tuple[str, ...] = ("left_right_imagined",)
    subjects: tuple[int, ...] = ALL_EEGMMIDB_SUBJECTS
    runs: tuple[int, ...] | None = None
    data_dir: str | None = None
    download: bool = False
    cache_dir: str | None = None
    l_freq: float | None = _PRE.l_freq
    h_freq: float | None = _PRE.h_freq
    tmin: float = _PRE.tmin
    tmax: float = _PRE.tmax
    resample: float | None = _PRE.resample
    channels: tuple[str, ...] | None = None
    standardize: bool = True
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
    grid: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    def preprocessing(self) -> Preprocessing:
        """The :class:`~jeeg.data.eegmmidb.Preprocessing` these keys describe."""
        return Preprocessing(**{f.name: getattr(self, f.name) for f in fields(Preprocessing)})

    def train_config(self) -> TrainConfig:
        """The :class:`~jeeg.train.TrainConfig` these keys describe."""
        return TrainConfig(**{f.name: getattr(self, f.name) for f in fields(TrainConfig)})

    def replace(self, **changes) -> "CVConfig":
        return make_config({**self.to_dict(), **changes})


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


_FIELDS = {f.name: f for f in fields(CVConfig)}
GRID_KEYS = ("lr", "weight_decay", "seed")


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
            if isinstance(value, (int, float)) and elem is int:
                return (int(value),)
            return tuple(elem(v) for v in value)
        if base is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
        if base is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise TypeError
            return bool(value)
        if base is int:
            if isinstance(value, float) and not value.is_integer():
                raise TypeError
            return int(value)
        if base is float:
            return float(value)
        if base is str:
            return str(value)
    except (TypeError, ValueError, json.JSONDecodeError):
        pass
    raise ConfigError(f"config key {key!r}: cannot use {value!r} as {tp}")


def make_config(values: dict[str, Any], where: str = "config") -> CVConfig:
    """Build a validated :class:`CVConfig` from a dict; raises ConfigError on unknown keys/values."""
    _check_keys(values, where)
    kwargs = {k: _coerce(k, v) for k, v in values.items()}
    if "task" in kwargs and isinstance(kwargs["task"], str):
        kwargs["task"] = (kwargs["task"],)
    cfg = CVConfig(**kwargs)
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
    cfg.preprocessing(), cfg.train_config()  # validate their values now, before any data is read
    return cfg


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Parse ``["key=value", "model_kwargs.F1=8", ...]`` into a dict (values still strings).

    Dotted keys ``model_kwargs.NAME=VALUE`` set one model hyper-parameter; VALUE is read as JSON
    where possible (``8``, ``0.5``, ``true``) and as a string otherwise.
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value; got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        if key.startswith("model_kwargs."):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = value
            out.setdefault("model_kwargs", {})[key.split(".", 1)[1]] = parsed
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
    """Config file (if any) → ``--set``/flag overrides on top → validated :class:`CVConfig`."""
    values: dict[str, Any] = {}
    where = "flags"
    if path is not None:
        values, _ = load_config_file(path)
        where = str(path)
    merged = dict(values)
    for k, v in overrides.items():
        if k == "model_kwargs" and isinstance(v, dict):
            merged["model_kwargs"] = {**dict(values.get("model_kwargs", {})), **v}
        else:
            merged[k] = v
    return make_config(merged, where)


__all__ = ["CVConfig", "GRID_KEYS", "load_config_file", "make_config", "parse_overrides", "resolve"]
