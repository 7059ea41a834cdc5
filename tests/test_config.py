"""Experiment configs: typed --set overrides, unknown keys, experiment files."""

from __future__ import annotations

from pathlib import Path

import pytest

from jeeg.config import load_config_file, make_config, parse_overrides, resolve
from jeeg.errors import ConfigError

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.py"))


def test_overrides_are_typed():
    cfg = make_config(parse_overrides([
        "subjects=1-3,7", "max_epochs=2", "task=left_right_imagined,left_right_executed",
        "resample=none", "standardize=false", "lr=3e-3", "model_kwargs.F1=8", "channels=C3,Cz,C4",
    ]))
    assert cfg.subjects == (1, 2, 3, 7)
    assert cfg.max_epochs == 2 and isinstance(cfg.max_epochs, int)
    assert cfg.task == ("left_right_imagined", "left_right_executed")
    assert cfg.resample is None and cfg.standardize is False and cfg.lr == 0.003
    assert cfg.model_kwargs == {"F1": 8} and cfg.channels == ("C3", "Cz", "C4")


def test_unknown_key_named_with_suggestion():
    with pytest.raises(ConfigError, match=r"unknown config key 'max_epoch'.*Did you mean max_epochs"):
        parse_overrides(["max_epoch=3"])
    with pytest.raises(ConfigError, match="unknown config key 'lrate'"):
        make_config({"lrate": 0.1})


@pytest.mark.parametrize("item,match", [
    ("max_epochs=ten", "max_epochs"), ("subjects=1-x", "subjects"), ("standardize=maybe", "standardize"),
    ("val_fraction=1.5", "val_fraction"), ("n_folds", "key=value"),
])
def test_bad_values(item, match):
    with pytest.raises(ConfigError, match=match):
        make_config(parse_overrides([item]))


def test_file_then_overrides(tmp_path):
    f = tmp_path / "exp.py"
    f.write_text('"""doc: jeeg cv exp.py"""\ndef config():\n    return dict(subjects="1-4", model_kwargs={"F1": 4, "D": 2})\n')
    cfg = resolve(str(f), parse_overrides(["subjects=2", "model_kwargs.F1=8"]))
    assert cfg.subjects == (2,) and cfg.model_kwargs == {"F1": 8, "D": 2}
    bad = tmp_path / "bad.py"
    bad.write_text("def config():\n    return dict(n_fold=3)\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'n_fold' in .*bad.py"):
        resolve(str(bad), {})
    with pytest.raises(ConfigError, match="not found"):
        resolve(str(tmp_path / "missing.py"), {})


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.name for p in EXPERIMENTS])
def test_experiment_files_are_valid_and_documented(path):
    values, doc = load_config_file(path)
    make_config(values, str(path))
    assert f"jeeg cv experiments/{path.name}" in doc, "docstring must give the exact command"
    assert "Result" in doc


def test_engine_and_preprocessing_values_checked_before_any_data_is_read():
    with pytest.raises(ConfigError, match="schedule"):
        make_config({"schedule": "linear"})
    with pytest.raises(ConfigError, match="tmax"):
        make_config({"tmin": 2.0, "tmax": 1.0})
    cfg = make_config({"lr": 0.01, "h_freq": 30})
    assert cfg.train_config().lr == 0.01 and cfg.preprocessing().h_freq == 30.0


def test_switching_model_drops_the_files_model_kwargs(tmp_path):
    from jeeg.config import resolve

    f = tmp_path / "exp.py"
    f.write_text('"""x"""\ndef config():\n    return {"model": "eegnet", "model_kwargs": {"kernel_length": 40}}\n')
    assert resolve(str(f), {}).model_kwargs == {"kernel_length": 40}
    assert resolve(str(f), {"model": "eegnet"}).model_kwargs == {"kernel_length": 40}
    assert resolve(str(f), {"model": "stff_da"}).model_kwargs == {}
    assert resolve(str(f), {"model": "stff_da", "model_kwargs": {"F1": 8}}).model_kwargs == {"F1": 8}
