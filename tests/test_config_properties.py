"""Property-based test of config resolution and validation (hypothesis): whatever keys, values and
types a config file or ``--set`` gives ``jeeg cv`` / ``jeeg sweep``, the only failure is a
:class:`~jeeg.errors.ConfigError` with a message, never another exception (a traceback).

Examples are derandomised (the same ones every run) and few enough to keep CI fast (~20 s). No data
are read: ``data_dir`` points at an empty folder and validation computes the data's shape from
the config.
"""

from __future__ import annotations

import json
import math
import typing
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jeeg.config import CVConfig, make_config, parse_overrides, resolve
from jeeg.errors import ConfigError
from jeeg.validate import validate

KEYS = [f.name for f in fields(CVConfig)]
NAMES = ["eegmmidb", "seed", "slpdb", "eegnet", "eegnett", "stff_da", "msc_t3am", "utime", "sst_emotionnet", "raw",
         "sst_grid", "loso", "subject_group_kfold", "within_subject_stratified", "within_subject_run_blocks",
         "left_right_imagined", "fists_feet_executed", "sleep_4class", "emotion", "csp_lda", "de_lr", "logvar_lr",
         "online", "offline", "none", "features", "logits", "paper", "honest", "euclidean", "C3", "C3-C4", "-Cz",
         "1-3", "1,2,3", "0", "-1", "true", "null", "", "1e-3", "nan", "inf", "val_loss", "last", "cosine"]
KWARG_NAMES = ["F1", "D", "F2", "kernel_length", "kernel_lenght", "pool", "pool1", "grid_shape", "n_frames", "variant",
               "temporal_conv", "depth", "drop", "layout", "montage", "bands", "method", "x"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 300), st.sampled_from([0, 1, 2, 3, 16, 64, 2**40, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(NAMES), st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KWARG_NAMES + KEYS[:5]), inner,
                                                                         max_size=3)),
    max_leaves=6,
)
kwargs_dicts = st.dictionaries(st.sampled_from(KWARG_NAMES), values, max_size=2)
grids = st.dictionaries(st.sampled_from(["lr", "weight_decay", "seed", "batch_size", "tmax"]),
                        st.one_of(st.lists(scalars, max_size=3), scalars), max_size=2)
bad_keys = st.one_of(st.sampled_from(["modle", "lr_", "teacher_kwarg", "grid.lr"]), st.text(max_size=6))
keys = st.integers(0, 7).flatmap(lambda i: bad_keys if i == 0 else st.sampled_from(KEYS))
HINTS = typing.get_type_hints(CVConfig)


def plausible(key: str):
    """Values of roughly the key's type (so that examples get past the type checks into validation),
    or anything."""
    hint = HINTS.get(key, str)
    base = {str: st.sampled_from(NAMES), int: st.integers(-2, 70), bool: st.booleans(),
            float: st.one_of(st.floats(-1, 100), st.sampled_from([0.0, 0.5, 4.0, 1e-3, math.inf, math.nan]))}
    args = typing.get_args(hint)
    kind = next((a for a in args if a is not type(None)), hint)
    if typing.get_origin(kind) is tuple:
        elem = typing.get_args(kind)[0]
        kind_st = st.one_of(st.lists(st.integers(-1, 120) if elem is int else st.sampled_from(NAMES), max_size=4),
                            st.sampled_from(["1-3", "1,2", "3-1", "C3,C4", "x"]))
    elif kind is dict:
        kind_st = grids if key == "grid" else kwargs_dicts
    else:
        kind_st = base.get(kind, values)
    return st.one_of(kind_st, kind_st, kind_st, st.none(), values)


@st.composite
def configs(draw):
    """A small valid base (EEGNet on three EEGMMIDB subjects) or nothing, with 0-4 keys set to random values."""
    base = {"subjects": [1, 2, 3], "model": "eegnet", "model_kwargs": {"kernel_length": 16}, "tmax": 1.0,
            "baselines": ["csp_lda"], "teacher_kwargs": {"kernel_length": 16}}
    out = dict(base) if draw(st.integers(0, 3)) else {}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(keys)
        out[key] = draw(plausible(key))
    return out


def _check(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ConfigError as e:
        assert str(e).strip(), "a ConfigError without a message"


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cfg=configs(), sweep=st.booleans())
def test_config_dicts_fail_only_with_a_config_error(cfg, sweep, tmp_path_factory):
    empty = tmp_path_factory.getbasetemp() / "no-data"
    empty.mkdir(exist_ok=True)
    cfg = {**cfg, "data_dir": str(empty)} if "data_dir" not in cfg else cfg
    if sweep and "grid" not in cfg:
        cfg["grid"] = {"lr": [1e-3, 3e-3]}

    def resolve_and_validate():
        validate(make_config(cfg, "hypothesis"), sweep=sweep)

    _check(resolve_and_validate)


def _as_set(key, value) -> str:
    """A value as the command line would give it: ``--set key=value`` text."""
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True) if not (
        isinstance(value, float) and math.isnan(value)) else "nan"
    return f"{key}={text}"


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(items=st.lists(st.tuples(st.one_of(keys, st.sampled_from(["model_kwargs.F1", "teacher_kwargs.pool",
                                                                  "representation_kwargs.n_frames"])), values),
                      max_size=3), sweep=st.booleans())
def test_command_line_sets_fail_only_with_a_config_error(items, sweep, tmp_path_factory):
    empty = tmp_path_factory.getbasetemp() / "no-data"
    empty.mkdir(exist_ok=True)

    def resolve_and_validate():
        overrides = parse_overrides([_as_set(k, v) for k, v in items] + [f"data_dir={empty}", "subjects=1-3"])
        validate(resolve("experiments/cross_subject_eegmmidb.py", overrides), sweep=sweep)

    _check(resolve_and_validate)



class _Ran(Exception):
    """Raised instead of running a configuration that passed validation."""


FLAGS = ["--set", "--grid", "--model", "--subjects", "--task", "--scheme", "--n-folds", "--max-epochs", "--seed"]
flag_values = st.one_of(
    st.sampled_from(NAMES), st.text(max_size=8),
    st.tuples(st.sampled_from(KEYS + ["model_kwargs.F1", "teacher_kwargs.pool", "lr", "seed", "batch_size", "x"]),
              st.sampled_from(NAMES + ["1e-3,3e-3", "0,1", "[1]", "{}", '{"F1": 4}', "a,b", ",", "1e400"]))
    .map(lambda kv: f"{kv[0]}={kv[1]}"),
)


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(command=st.sampled_from(["cv", "sweep"]), with_file=st.booleans(),
       args=st.lists(st.tuples(st.sampled_from(FLAGS), flag_values), max_size=3))
def test_command_lines_fail_only_with_a_one_line_error(command, with_file, args, tmp_path_factory):
    """``jeeg cv|sweep`` with random flags: a valid configuration reaches the run (stubbed here),
    anything else exits 2 with one ``jeeg: error:`` line (or argparse's usage error), no traceback."""
    import contextlib
    import io

    from jeeg.cli import main
    from jeeg.cv import CVRun

    root = tmp_path_factory.mktemp("cli")
    argv = [command, *(["experiments/stff_da_eegmmidb.py"] if with_file else []),
            *[x for flag, value in args for x in (flag, value)],
            "--data-dir", str(root / "no-data"), "--out", str(root / "run"), "--quiet"]
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setattr(CVRun, "run", lambda self: (_ for _ in ()).throw(_Ran()))
        try:
            code = main(argv)
        except _Ran:
            return
        except SystemExit as e:  # argparse: a usage error (e.g. a flag value that looks like a flag)
            assert e.code == 2
            return
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("jeeg: error: ") and len(lines[0]) > 14, err.getvalue()
