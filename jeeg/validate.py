"""The whole configuration of a ``jeeg cv`` / ``jeeg sweep`` run checked before any data are read.

:func:`validate` is called by :meth:`jeeg.cv.CVRun.run` (before the data are loaded and the
baselines run), by the CLI before it makes the run directory, and by the main job script
(``experiments/cross_subject_eegmmidb.py``) for every planned run before the first starts. It
takes seconds: the networks are built and applied abstractly (:func:`jax.eval_shape`: shapes and
dtypes only, no weights allocated, nothing compiled), on the input shape the data will have,
computed from the config (EEGMMIDB: the sampling frequency from the header of the first EDF when
it is on disk, :func:`data_shape`).

Checked, in order: every key and value (:func:`jeeg.config.make_config`: key names, types,
ranges, dataset / task / scheme, distillation options); the data request (subjects, runs,
channels, epoch window, band-pass against the files' Nyquist frequency); the split scheme against
the number of subjects and runs; the baselines (names, and each but CSP+LDA fitted on a few
synthetic trials of the data's shape: e.g. DE bands above the Nyquist frequency); the grid of a sweep; the input representation and
its kwargs; the model and, when distilling, the teacher with their kwargs and input channels
(and, for ``kd_loss="features"``, the attention-transfer loss between their feature groups);
the runs a distillation chain reads (``teacher_run``, ``init_run``: finished, same folds, same
model, read from their ``config.json`` without loading weights).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jeeg.baselines import BASELINES, fit_predict
from jeeg.checkpoints import check_init_run, check_teacher_run
from jeeg.config import GRID_KEYS, CVConfig, make_config
from jeeg.data import DataShape, dataset_spec
from jeeg.data.eegmmidb import TASKS
from jeeg.engine.distill import attention_transfer_loss
from jeeg.errors import ConfigError, choice_error
from jeeg.models import REGISTRY, build_model, get_model_spec
from jeeg.representations import REPRESENTATIONS, model_inputs, sst_grid_inputs
from jeeg.run.setup import input_maps

#: Most weights a network may have (5e8 float32 = 2 GB per member): more is a size typed wrong.
MAX_PARAMS = 5e8
#: Arguments of every model's constructor that come from the data, not from ``model_kwargs``.
_DATA_ARGS = ("self", "n_chans", "n_outputs", "n_times", "sfreq", "rngs")


def data_shape(cfg: CVConfig) -> DataShape:
    """The shape of the trials ``cfg`` asks for, computed without reading them, by the dataset's
    spec (:func:`jeeg.data.dataset_spec`): EEGMMIDB (:func:`jeeg.data.eegmmidb.cv_shape`: 64
    channels or ``channels``, ``sfreq`` from ``resample`` or the first EDF's header), SEED / SEED-IV
    (:func:`jeeg.data.seed.cv_shape`), the sleep datasets (:func:`jeeg.data.sleep.cv_shape`) and
    MOABB's (:mod:`jeeg.data.moabb_datasets`: the first subject's trials, through MOABB's cache).

    Raises
    ------
    ConfigError
        The request checks of the dataset (unknown subject, run or channel); an epoch window
        without a sample or longer than any recording; ``h_freq`` at or above the files' Nyquist
        frequency.
    """
    shape = dataset_spec(cfg.dataset).shape(cfg)
    if shape.n_times < 1:
        raise ConfigError(f"tmin={cfg.tmin}, tmax={cfg.tmax}: the epoch window holds no sample at {shape.sfreq:g} Hz; "
                          "widen it (tmax > tmin)")
    return shape


def _check_scheme(cfg: CVConfig) -> None:
    """Fold counts the subjects and runs can support (SEED / SEED-IV check theirs in
    :func:`jeeg.data.seed.check_cv_config`)."""
    if dataset_spec(cfg.dataset).own_schemes:
        return
    n_subjects = len(set(cfg.subjects))
    if cfg.scheme != "loso" and cfg.n_folds < 2:
        raise ConfigError(f"n_folds={cfg.n_folds}: scheme={cfg.scheme!r} needs n_folds >= 2")
    if cfg.scheme == "subject_group_kfold" and cfg.n_folds > n_subjects:
        raise ConfigError(f"n_folds={cfg.n_folds}: scheme=subject_group_kfold deals whole subjects into n_folds groups "
                          f"and has {n_subjects} subject(s); set n_folds=2..{n_subjects} or add subjects")
    if cfg.scheme in ("loso", "subject_group_kfold") and n_subjects < 3:
        raise ConfigError(f"subjects: scheme={cfg.scheme!r} needs at least 3 subjects (test, validation, training); "
                          f"got {n_subjects}; use a within_subject_* scheme or add subjects")
    if cfg.scheme == "within_subject_run_blocks" and cfg.dataset == "eegmmidb":
        n_runs = min(len([r for r in TASKS[t].runs if cfg.runs is None or r in cfg.runs]) for t in cfg.task)
        if cfg.n_folds > n_runs:
            raise ConfigError(f"n_folds={cfg.n_folds}: within_subject_run_blocks deals each subject's runs of a task "
                              f"into n_folds blocks and a task here has {n_runs} run(s); set n_folds=2..{n_runs}")


def _check_baselines(cfg: CVConfig, shape: DataShape) -> None:
    for name in cfg.baselines:
        if name not in BASELINES:
            raise choice_error("baselines", name, BASELINES, "baseline")
    if len(set(cfg.baselines)) != len(cfg.baselines):
        raise ConfigError(f"baselines={list(cfg.baselines)} names a baseline twice; list each once")
    if "csp_lda" in cfg.baselines and shape.n_chans < 2:
        raise ConfigError(f"baselines: csp_lda needs at least 2 channels (spatial filters); channels gives {shape.n_chans}")
    for name in cfg.baselines:  # fitted on a few synthetic trials of the data's shape: bands vs Nyquist, sizes
        if name == "csp_lda":  # any >= 2 channels fit (its fit costs a second at 64 channels: not repeated here)
            continue
        if (problem := _baseline_fit(name, shape.n_chans, shape.n_times, shape.sfreq, shape.n_classes)) is not None:
            raise ConfigError(f"baselines: {name} cannot be fitted to trials of {shape.n_chans} channels x "
                              f"{shape.n_times} samples at {shape.sfreq:g} Hz: {problem}; remove it from baselines or "
                              "change the data keys (channels, tmin, tmax, resample)")


@functools.lru_cache(maxsize=64)
def _baseline_fit(name: str, n_chans: int, n_times: int, sfreq: float, n_classes: int) -> str | None:
    """Fit baseline ``name`` on 4 synthetic trials per class and predict 2 (noise: only shapes and
    options are tested). Returns None, or what went wrong."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), 4)
    X = 10.0 * rng.standard_normal((len(y), n_chans, min(n_times, 4000)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_predict(name, X, y, X[:2], sfreq=sfreq, n_classes=n_classes)
    except Exception as e:  # noqa: BLE001 - ConfigError and any failure on these shapes
        return str(e) if isinstance(e, ConfigError) else f"{type(e).__name__}: {e}"
    return None


def _check_grid(cfg: CVConfig, sweep: bool) -> None:
    """A sweep's grid: its keys (:data:`jeeg.config.GRID_KEYS`), and each value as valid as the key
    set alone (:func:`jeeg.config.make_config`: ``lr > 0``, ``weight_decay >= 0``, ``seed`` in
    0..2**63-1), each once."""
    if sweep and not cfg.grid:
        raise ConfigError(f"grid: jeeg sweep needs a grid over {', '.join(GRID_KEYS)}, e.g. --grid lr=1e-3,3e-3 "
                          "--grid seed=0,1")
    if not sweep and cfg.grid:
        raise ConfigError(f"grid={cfg.grid} is for jeeg sweep; jeeg cv trains one setting (remove grid, or run jeeg sweep)")
    for key, values in cfg.grid.items():
        if key not in GRID_KEYS:
            raise choice_error("grid key", key, GRID_KEYS, "key for a grid")
        seen = []
        for v in values:
            if isinstance(v, (bool, dict, list, tuple)) or v is None:
                raise ConfigError(f"grid[{key!r}]: {v!r} is not a number; list numbers, e.g. {key}=1e-3,3e-3")
            try:
                one = make_config({**cfg.to_dict(), key: v, "grid": {}}, f"grid[{key!r}]")
            except ConfigError as e:
                raise ConfigError(f"grid[{key!r}] value {v!r}: {e}") from None
            val = getattr(one, key)
            if val in seen:
                raise ConfigError(f"grid[{key!r}] lists {v!r} twice; list each value once")
            seen.append(val)


def _representation_shape(cfg: CVConfig, shape: DataShape) -> tuple[int, ...] | None:
    """The per-trial shape of the model's input before any channel map: the raw trials
    ``(n_chans, n_times)`` or the representation's output (computed from two synthetic trials of
    the data's shape, so every ``representation_kwargs`` value is exercised). None where the
    channel names are only known from the recording."""
    if cfg.representation not in REPRESENTATIONS:
        raise choice_error("representation", cfg.representation, REPRESENTATIONS, "representation")
    if cfg.representation == "raw":
        model_inputs("raw", np.zeros((1, 1, 1), np.float32), shape.sfreq, ("x",), standardize=False,
                     **cfg.representation_kwargs)
        return (shape.n_chans, shape.n_times)
    if shape.ch_names is None:
        return None
    X = np.random.default_rng(0).standard_normal((2, shape.n_chans, shape.n_times)).astype(np.float32)
    try:
        out = model_inputs(cfg.representation, X, shape.sfreq, shape.ch_names, standardize=cfg.standardize,
                           **cfg.representation_kwargs)
    except ConfigError as e:
        raise ConfigError(f"representation={cfg.representation!r} with representation_kwargs="
                          f"{cfg.representation_kwargs}: {e}") from None
    except Exception as e:  # noqa: BLE001 - any failure on synthetic trials is a bad option value
        params = [p for p in inspect.signature(_representation_fn(cfg.representation)).parameters
                  if p not in ("X", "sfreq", "ch_names")]
        raise ConfigError(f"representation_kwargs={cfg.representation_kwargs} of representation="
                          f"{cfg.representation!r} fail ({type(e).__name__}: {e}); its options: {', '.join(params)}") from None
    return tuple(out.shape[1:])


def _representation_fn(name: str):
    return {"sst_grid": sst_grid_inputs}[name]


def _hyper_parameters(name: str) -> dict:
    """``{name: default}`` of a registered model's hyper-parameters (its ``model_kwargs``)."""
    params = inspect.signature(get_model_spec(name).cls.__init__).parameters
    return {p: (v.default if v.default is not inspect.Parameter.empty else "required")
            for p, v in params.items() if p not in _DATA_ARGS and v.kind is not v.VAR_KEYWORD}


@functools.lru_cache(maxsize=256)
def _abstract_build(name: str, kwargs_json: str, n_chans: int, n_times: int, sfreq: float, n_classes: int,
                    fed_shape: tuple[int, ...] | None) -> str | None:
    """Build model ``name`` and apply it to a batch of 2 trials of ``fed_shape`` under
    :func:`jax.eval_shape` (no weights allocated). Returns None, or what went wrong."""
    kwargs = json.loads(kwargs_json)
    limit = max(4096, 4 * n_times)
    huge = [k for k, v in kwargs.items() if any(isinstance(x, int) and not isinstance(x, bool) and abs(x) > limit
                                                 for x in (v if isinstance(v, list) else [v]))]
    if huge:  # a size far beyond the trial: a typo, and tracing it could take hours (a Python loop per tap)
        return f"{huge[0]}={kwargs[huge[0]]} is implausibly large for trials of {n_times} samples (limit {limit})"

    def build():
        return build_model(name, n_chans, n_classes, n_times, sfreq, rngs=nnx.Rngs(params=0), **kwargs)

    try:
        leaves = jax.tree_util.tree_leaves_with_path(nnx.state(nnx.eval_shape(build)))
    except ConfigError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a model that cannot be built from these values: a bad value
        return f"{type(e).__name__}: {e}"
    shapes = [(jax.tree_util.keystr(p), tuple(getattr(x, "shape", ()))) for p, x in leaves]
    if empty := [f"{p} {shp}" for p, shp in shapes if 0 in shp]:
        return f"weights {', '.join(empty[:3])} have no element (a size of 0: n_times too short or a size set to 0)"
    n_params = sum(int(np.prod(shp, dtype=np.float64)) for _, shp in shapes)
    if n_params > MAX_PARAMS:
        return f"it would have {n_params:.3g} weights (more than {MAX_PARAMS:.0e}): a size is far too large"

    def run():
        model = build()
        want = tuple(getattr(model, "input_shape", None) or (n_chans, n_times))
        if fed_shape is not None and want != tuple(fed_shape):
            raise ConfigError(f"the model takes trials of shape {want} but is fed {tuple(fed_shape)}; make "
                              "model_kwargs match representation_kwargs (e.g. grid_shape, n_frames)")
        return model(jnp.zeros((2, *want), jnp.float32), train=False)

    try:
        out = jax.eval_shape(run)
    except ConfigError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a model that cannot be applied with these values: a bad value
        return f"{type(e).__name__}: {e}"
    logits = out[0] if isinstance(out, tuple) else out
    if tuple(logits.shape) != (2, n_classes):
        return f"it gives outputs of shape {tuple(logits.shape)} for 2 trials, not (2, {n_classes})"
    return None


def check_model(key: str, name: str, kwargs: dict, n_chans: int, n_times: int, sfreq: float, n_classes: int,
                fed_shape: tuple[int, ...] | None = None) -> None:
    """Check that the registered model ``name`` (config key ``key``: ``model`` or ``teacher``) with
    ``kwargs`` (``model_kwargs`` / ``teacher_kwargs``) can be built for ``n_chans`` x ``n_times``
    trials at ``sfreq`` Hz with ``n_classes`` outputs, and applied to inputs of ``fed_shape``
    (default (n_chans, n_times)), abstractly.

    Raises
    ------
    ConfigError
        An unknown model (the registered ones listed, with the closest), a hyper-parameter the model
        does not take (its hyper-parameters listed, with the closest), or one whose value (or the
        data's shape) the model cannot be built or applied with (the model's hyper-parameters and
        defaults listed).
    """
    kw_key = f"{key}_kwargs"
    if not isinstance(name, str) or name not in REGISTRY:
        raise choice_error(key, name, sorted(REGISTRY), "model")
    hyper = _hyper_parameters(name)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(REGISTRY[name].cls.__init__).parameters.values())
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{kw_key} must be a dict of {name}'s hyper-parameters; got {kwargs!r}")
    for k in kwargs:
        if not takes_any and k not in hyper:
            close = difflib.get_close_matches(str(k), list(hyper), n=2)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            raise ConfigError(f"{kw_key}: {k!r} is not a hyper-parameter of {key}={name!r}; choose among: "
                              f"{', '.join(hyper) or 'none'}{hint}")
    try:
        kwargs_json = json.dumps(kwargs, sort_keys=True)
    except (TypeError, ValueError):
        raise ConfigError(f"{kw_key}={kwargs!r}: values must be numbers, strings, booleans or lists of them") from None
    problem = _abstract_build(name, kwargs_json, int(n_chans), int(n_times), float(sfreq), int(n_classes),
                              None if fed_shape is None else tuple(fed_shape))
    if problem is not None:
        defaults = ", ".join(f"{k}={v!r}" for k, v in hyper.items())
        raise ConfigError(
            f"{key}={name!r} with {kw_key}={kwargs} cannot be built for this data (n_chans={n_chans}, n_times={n_times} "
            f"at {sfreq:g} Hz, {n_classes} classes): {problem}. Change {kw_key} (its hyper-parameters, with defaults: "
            f"{defaults}) or the data keys (channels, {key}_channels, tmin, tmax, resample, representation_kwargs)")


def _check_networks(cfg: CVConfig, shape: DataShape) -> None:
    """The model and (when distilling) the teacher, each on the input it will be fed."""
    rep = _representation_shape(cfg, shape)
    maps = {"model": None, "teacher": None}
    if cfg.model_channels or cfg.teacher_channels:
        if shape.ch_names is not None or cfg.representation != "raw":
            maps = input_maps(cfg, shape.ch_names or ())
        else:  # sleep recordings name their channels: only the count is known here
            maps = {w: np.zeros((len(getattr(cfg, f"{w}_channels")), shape.n_chans)) if getattr(cfg, f"{w}_channels")
                    else None for w in maps}
    who = [("model", cfg.model, cfg.model_kwargs)]
    if cfg.distill != "none":
        who.append(("teacher", cfg.teacher, cfg.teacher_kwargs))
    built = {}
    for key, name, kwargs in who:
        m = maps[key]
        n_in = shape.n_chans if m is None else m.shape[0]
        fed = (n_in, shape.n_times) if m is not None else rep
        check_model(key, name, dict(kwargs), n_in, shape.n_times, shape.sfreq, shape.n_classes, fed)
        built[key] = (name, dict(kwargs), n_in, fed)
    if cfg.distill != "none" and cfg.kd_loss == "features":
        problem = _feature_transfer(json.dumps([built["model"], built["teacher"]], sort_keys=True), shape.n_times,
                                    shape.sfreq, shape.n_classes, cfg.at_normalise)
        if problem is not None:
            raise ConfigError(f"kd_loss='features' (attention transfer from teacher={cfg.teacher!r} to model="
                              f"{cfg.model!r}): {problem}. Use kd_loss='logits', or a teacher and model with the same "
                              "feature groups (e.g. both utime)")


@functools.lru_cache(maxsize=64)
def _feature_transfer(pair_json: str, n_times: int, sfreq: float, n_classes: int, at_normalise: str) -> str | None:
    """Apply student and teacher with ``return_features=True`` and the attention-transfer loss
    (:func:`jeeg.engine.distill.attention_transfer_loss`) under :func:`jax.eval_shape`.
    Returns None, or what went wrong."""
    def feats(name, kwargs, n_in, fed):
        model = build_model(name, n_in, n_classes, n_times, sfreq, rngs=nnx.Rngs(params=0), **kwargs)
        shape = tuple(fed) if fed is not None else tuple(getattr(model, "input_shape", None) or (n_in, n_times))
        return model(jnp.zeros((2, *shape), jnp.float32), train=False, return_features=True)[1]

    (s_args, t_args) = json.loads(pair_json)
    try:
        jax.eval_shape(lambda: attention_transfer_loss(feats(*t_args), feats(*s_args), at_normalise))
    except ConfigError as e:
        return str(e)
    except TypeError as e:
        if "return_features" in str(e):
            who = [a[0] for a in (s_args, t_args) if "return_features" not in _call_parameters(a[0])]
            return f"{' and '.join(sorted(set(who)))} give(s) no feature groups (no return_features)"
        return f"TypeError: {e}"
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"
    return None


def _call_parameters(name: str) -> tuple[str, ...]:
    return tuple(inspect.signature(get_model_spec(name).cls.__call__).parameters)


def _check_chain(cfg: CVConfig) -> None:
    """``teacher_run`` / ``init_run``: finished runs on the same folds, of the teacher / this model
    (:func:`jeeg.checkpoints.check_teacher_run`, :func:`jeeg.checkpoints.check_init_run`: their
    ``config.json``, ``metrics.json`` and checkpoint folder, no weights loaded)."""
    if cfg.distill == "offline":
        check_teacher_run(cfg)
    if cfg.init_run:
        check_init_run(cfg)


def validate(cfg: CVConfig, *, sweep: bool = False) -> None:
    """Check the whole resolved configuration of a ``jeeg cv`` (``sweep=False``) or ``jeeg sweep``
    (``sweep=True``) run before any data are read or any baseline is fitted (see the module
    docstring for what is checked). Takes about a second; reads at most one EDF header.

    Raises
    ------
    ConfigError
        Naming the key, the bad value and the valid choices.
    """
    if not isinstance(cfg, CVConfig):
        raise ConfigError(f"validate takes a CVConfig (jeeg.config.make_config); got {type(cfg).__name__}")
    cfg = make_config(cfg.to_dict(), "config")  # every key, type and range; dataset, task and scheme
    _check_grid(cfg, sweep)
    _check_scheme(cfg)
    shape = data_shape(cfg)
    _check_baselines(cfg, shape)
    _check_networks(cfg, shape)
    _check_chain(cfg)


__all__ = ["DataShape", "check_model", "data_shape", "validate"]
