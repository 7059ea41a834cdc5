"""The whole configuration is checked before any data are read (:mod:`jeeg.validate`).

Every bad configuration of the table fails in :meth:`jeeg.cv.CVRun.run` with a ConfigError that
names the key and the valid choices, in under 5 s, with the data loader and the baselines
replaced by functions that fail the test if called and nothing written to the run directory.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

from jeeg.cli import main
from jeeg.config import make_config, resolve
from jeeg.cv import CVRun
from jeeg.errors import ConfigError
from jeeg.validate import data_shape, validate

EXPERIMENTS = sorted(Path(__file__).resolve().parents[1].glob("experiments/*.py"))
#: A small valid run: EEGNet on three EEGMMIDB subjects, 1-s trials (160 samples at 160 Hz).
BASE = {"subjects": [1, 2, 3], "model": "eegnet", "model_kwargs": {"kernel_length": 16}, "tmax": 1.0,
        "baselines": ["csp_lda"], "teacher_kwargs": {"kernel_length": 16}, "checkpoint_every": 5}


@pytest.fixture
def no_data(tmp_path, monkeypatch) -> Path:
    """An empty data folder; loading data or fitting a baseline fails the test."""
    def refuse(*args, **kwargs):
        pytest.fail("data were read or a baseline was fitted before the configuration was checked")

    monkeypatch.setattr("jeeg.cv.load_for_config", refuse)
    monkeypatch.setattr("jeeg.cv.CVRun.run_baselines", refuse)
    folder = tmp_path / "no-data"
    folder.mkdir()
    return folder


def fake_run(directory: Path, values: dict, *, finished: bool = True) -> Path:
    """A run directory as a finished ``jeeg cv`` leaves it, as far as a later stage reads it before
    loading weights: config.json, metrics.json, a checkpoints folder."""
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"config": make_config(values).to_dict()}))
    (directory / "checkpoints").mkdir()
    if finished:
        (directory / "metrics.json").write_text("{}")
    return directory


# (id, config keys over BASE (callables get the tmp folder), sweep, substrings the message must hold)
OFFLINE = {"distill": "offline", "teacher": "eegnet"}
CASES = [
    ("unknown model", {"model": "eegnett"}, False, ["model='eegnett'", "choose one of", "msc_t3am", "did you mean 'eegnet'"]),
    ("unknown teacher", {"distill": "online", "teacher": "eegent"}, False, ["teacher='eegent'", "choose one of", "stff_da"]),
    ("unknown baseline", {"baselines": ["csp_lad"]}, False, ["baselines='csp_lad'", "csp_lda, logvar_lr, de_lr"]),
    ("DE bands above Nyquist", {"baselines": ["logvar_lr", "de_lr"], "resample": 80.0, "h_freq": 30.0}, False,
     ["baselines: de_lr", "'gamma' upper edge 50.0 Hz", "Nyquist", "remove it from baselines"]),
    ("baseline twice", {"baselines": ["csp_lda", "csp_lda"]}, False, ["baselines=", "twice"]),
    ("unknown representation", {"representation": "sst_gird"}, False, ["representation='sst_gird'", "raw, sst_grid"]),
    ("unknown dataset", {"dataset": "deap"}, False, ["dataset='deap'", "eegmmidb, slpdb, sleep_edf, seed, seed_iv"]),
    ("unknown task", {"task": "left_right"}, False, ["task", "left_right_imagined", "fists_feet_executed"]),
    ("unknown scheme", {"scheme": "leave_one_out"}, False, ["scheme='leave_one_out'", "loso", "subject_group_kfold"]),
    ("scheme of another dataset", {"scheme": "seed_protocol"}, False, ["scheme='seed_protocol'", "within_subject_stratified"]),
    ("unknown alignment", {"alignment": "euclid"}, False, ["alignment='euclid'", "euclidean", "riemann"]),
    ("unknown distill mode", {"distill": "offlne"}, False, ["distill='offlne'", "none, offline, online"]),
    ("unknown protocol", {"protocol": "papers"}, False, ["protocol='papers'", "honest, paper"]),
    ("unknown key", {"learning_rate": 0.1}, False, ["unknown config key 'learning_rate'", "Valid keys", "lr"]),
    ("misspelt model kwarg", {"model_kwargs": {"kernel_lenght": 64}}, False,
     ["model_kwargs", "'kernel_lenght'", "model='eegnet'", "did you mean 'kernel_length'", "sep_kernel_length"]),
    ("negative filters", {"model_kwargs": {"F1": -3}}, False, ["model_kwargs={'F1': -3}", "defaults: F1=8", "kernel_length=64"]),
    ("zero filters", {"model_kwargs": {"F1": 0}}, False, ["model_kwargs={'F1': 0}", "defaults: F1=8"]),
    ("zero pool", {"model": "msc_t3am", "model_kwargs": {"pool": 0}}, False, ["model='msc_t3am'", "model_kwargs={'pool': 0}", "pool="]),
    ("absurd kernel", {"model_kwargs": {"kernel_length": 10**9}}, False, ["model_kwargs", "kernel_length", "implausibly large"]),
    ("string size", {"model": "stff_da", "model_kwargs": {"F1": "a"}}, False, ["model='stff_da'", "model_kwargs={'F1': 'a'}", "defaults: F1=16"]),
    ("trials too short for EEGNet", {"tmax": 0.1}, False, ["model='eegnet'", "n_times=16", "tmax", "defaults:"]),
    ("trials too short for MSC-T3AM", {"model": "msc_t3am", "model_kwargs": {}, "tmax": 0.05}, False,
     ["model='msc_t3am'", "n_times=8", "tmin, tmax, resample"]),
    ("bad teacher kwarg", {"distill": "online", "teacher_kwargs": {"F3": 2}}, False,
     ["teacher_kwargs", "'F3'", "teacher='eegnet'", "F1, D, F2"]),
    ("grid model on raw trials", {"model": "sst_emotionnet", "model_kwargs": {}}, False,
     ["model='sst_emotionnet'", "takes trials of shape (30, 32, 32)", "representation_kwargs"]),
    ("raw takes no options", {"representation_kwargs": {"n_frames": 5}}, False, ["representation 'raw'", "representation_kwargs"]),
    ("too many frames", {"model": "sst_emotionnet", "model_kwargs": {}, "representation": "sst_grid",
                         "representation_kwargs": {"n_frames": 10**6}}, False, ["representation_kwargs", "n_frames"]),
    ("unknown montage", {"model": "sst_emotionnet", "model_kwargs": {}, "representation": "sst_grid",
                         "representation_kwargs": {"montage": "standard_1002"}}, False,
     ["representation_kwargs", "montage 'standard_1002'", "built-in montages", "biosemi64"]),
    ("unknown representation option", {"model": "sst_emotionnet", "model_kwargs": {}, "representation": "sst_grid",
                                       "representation_kwargs": {"frames": 5}}, False, ["representation_kwargs", "frames"]),
    ("unknown channel", {"channels": "C3,Cx,C4"}, False, ["'Cx'", "valid names", "FC5"]),
    ("unknown input channel", {"model_channels": ["C3-Q1"]}, False, ["model_channels", "'C3-Q1'", "channels present", "FC5"]),
    ("channel picks of a grid", {"model": "sst_emotionnet", "model_kwargs": {}, "representation": "sst_grid",
                                 "model_channels": ["C3"]}, False, ["model_channels", "representation='sst_grid'"]),
    ("teacher channels without a teacher", {"teacher_channels": ["C3"]}, False, ["teacher_channels", "distill=online|offline"]),
    ("unknown subject", {"subjects": [1, 200]}, False, ["[200]", "1..109"]),
    ("slpdb subject", {"dataset": "slpdb", "task": "sleep_4class", "subjects": [1, 5], "model": "utime",
                       "model_kwargs": {}, "baselines": []}, False, ["slpdb has no subject(s) [5]", "its subjects are [1, 2, 3, 4, 14"]),
    ("sleep_edf night", {"dataset": "sleep_edf", "task": "sleep_4class", "subjects": [0, 1], "runs": [1, 3], "model": "utime",
                         "model_kwargs": {}, "baselines": []}, False, ["runs [3]", "runs are 1 and 2"]),
    ("sleep task", {"dataset": "sleep_edf", "task": "sleep_6class", "model": "utime", "model_kwargs": {}}, False,
     ["sleep_6class", "sleep_4class, sleep_3class, sleep_5class"]),
    ("two sleep tasks", {"dataset": "slpdb", "task": "sleep_4class,sleep_3class", "subjects": [1], "model": "utime",
                         "model_kwargs": {}, "baselines": []}, False, ["one task of sleep_4class, sleep_3class, sleep_5class"]),
    ("run of another task", {"runs": [3]}, False, ["run 3", "runs 4, 8, 12"]),
    ("band above Nyquist", {"h_freq": 90.0}, False, ["h_freq=90.0", "Nyquist"]),
    ("more groups than subjects", {"scheme": "subject_group_kfold", "n_folds": 5}, False, ["n_folds=5", "n_folds=2..3"]),
    ("loso on two subjects", {"scheme": "loso", "subjects": [1, 2]}, False, ["subjects", "at least 3 subjects"]),
    ("more run blocks than runs", {"scheme": "within_subject_run_blocks", "n_folds": 4}, False, ["n_folds=4", "n_folds=2..3"]),
    ("one fold", {"n_folds": 1}, False, ["n_folds=1", "n_folds >= 2"]),
    ("negative seed", {"seed": -1}, False, ["seed=-1", "0..2**63-1"]),
    ("lr not a number", {"lr": float("nan")}, False, ["lr=nan", "finite"]),
    ("grid in jeeg cv", {"grid": {"lr": [1e-3, 3e-3]}}, False, ["grid=", "jeeg sweep"]),
    ("sweep without grid", {}, True, ["grid", "needs a grid", "lr, weight_decay, seed"]),
    ("grid key", {"grid": {"batch_size": [8, 16]}}, True, ["grid", "batch_size", "lr, weight_decay, seed"]),
    ("grid lr zero", {"grid": {"lr": [1e-3, 0]}}, True, ["grid['lr'] value 0", "lr must be > 0"]),
    ("grid seed fraction", {"grid": {"seed": [0, 1.5]}}, True, ["grid['seed'] value 1.5", "int"]),
    ("grid weight decay negative", {"grid": {"weight_decay": [0, -1e-4]}}, True,
     ["grid['weight_decay'] value -0.0001", "weight decay must be >= 0"]),
    ("grid value twice", {"grid": {"weight_decay": [0, 0.0]}}, True, ["grid['weight_decay']", "twice"]),
    ("offline without teacher_run", OFFLINE, False, ["distill=offline", "teacher_run=DIR"]),
    ("kd features online", {"distill": "online", "kd_loss": "features"}, False, ["kd_loss=features", "distill=offline"]),
    ("kd features without feature groups", {**OFFLINE, "teacher": "utime", "teacher_kwargs": {}, "kd_loss": "features", "model_channels": ["C3-C4"],
                                            "teacher_run": lambda root: str(root / "nowhere")}, False,
     ["kd_loss='features'", "eegnet give(s) no feature groups", "kd_loss='logits'"]),
    ("teacher_run missing", {**OFFLINE, "teacher_run": lambda root: str(root / "nowhere")}, False,
     ["teacher_run", "nowhere", "no config.json", "jeeg cv --model eegnet"]),
    ("teacher_run not a run", {**OFFLINE, "teacher_run": lambda root: str(fake_run(root / "bad", BASE).parent)}, False,
     ["teacher_run", "no config.json"]),
    ("teacher_run unfinished", {**OFFLINE, "teacher_run": lambda root: str(fake_run(
        root / "cut", {**BASE, "data_dir": str(root / "no-data")}, finished=False))}, False,
     ["teacher_run", "unfinished", "--resume"]),
    ("teacher_run other trials", {**OFFLINE, "teacher_run": lambda root: str(fake_run(
        root / "t2", {**BASE, "data_dir": str(root / "no-data"), "tmax": 2.0}))}, False,
     ["teacher_run", "tmax=2.0 there vs 1.0 here", "same data, split and seed"]),
    ("teacher_run other model", {**OFFLINE, "teacher_run": lambda root: str(fake_run(
        root / "t3", {**BASE, "data_dir": str(root / "no-data"), "model": "stff_da", "model_kwargs": {}}))}, False,
     ["teacher_run", "trained model 'stff_da', not the teacher 'eegnet'"]),
    ("teacher_run other teacher kwargs", {**OFFLINE, "teacher_run": lambda root: str(fake_run(
        root / "t4", {**BASE, "data_dir": str(root / "no-data"), "model_kwargs": {"kernel_length": 32}}))}, False,
     ["teacher_run", "model_kwargs {'kernel_length': 32}", "must be equal"]),
    ("teacher_run corrupt config.json", {**OFFLINE, "teacher_run": lambda root: _corrupt(root / "t5")}, False,
     ["teacher_run", "not a jeeg run's config.json"]),
    ("init_run other model kwargs", {"init_run": lambda root: str(fake_run(
        root / "i1", {**BASE, "data_dir": str(root / "no-data"), "model_kwargs": {"kernel_length": 8}}))}, False,
     ["init_run", "must be equal"]),
    ("init_run other folds", {"init_run": lambda root: str(fake_run(
        root / "i2", {**BASE, "data_dir": str(root / "no-data"), "n_folds": 3}))}, False,
     ["init_run", "n_folds=3 there vs 5 here"]),
    ("init_run a sweep", {"init_run": lambda root: str(fake_run(
        root / "i3", {**BASE, "data_dir": str(root / "no-data"), "grid": {"seed": [0, 1]}}))}, False,
     ["init_run", "is a sweep"]),
]


def _corrupt(directory: Path) -> str:
    directory.mkdir()
    (directory / "config.json").write_text("{not json")
    return str(directory)


@pytest.mark.parametrize(("overrides", "sweep", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_configuration_fails_fast_before_any_data(overrides, sweep, expected, no_data, tmp_path):
    values = {**BASE, "data_dir": str(no_data)}
    values.update({k: v(tmp_path) if callable(v) else v for k, v in overrides.items()})
    out = tmp_path / "run"
    out.mkdir()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        cfg = make_config(values, "test")
        if sweep != bool(cfg.grid):  # the command (cv or sweep) disagrees with the grid: the CLI's check
            validate(cfg, sweep=sweep)
        CVRun(cfg, out).run()  # validate() first: the loader and baselines above would fail the test
    elapsed = time.perf_counter() - t0
    message = str(info.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "\n" not in message
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert list(out.iterdir()) == []  # nothing written


def test_there_are_at_least_thirty_distinct_bad_configurations():
    assert len({c[0] for c in CASES}) == len(CASES) >= 30


def test_a_finished_compatible_chain_is_accepted(no_data, tmp_path):
    """No false refusal: a matching teacher run for offline KD, and an init run of the same model."""
    values = {**BASE, "data_dir": str(no_data)}
    teacher = fake_run(tmp_path / "teacher", values)
    validate(make_config({**values, **OFFLINE, "teacher_run": str(teacher)}))
    validate(make_config({**values, "init_run": str(teacher)}))
    validate(make_config({**values, "grid": {"lr": [1e-3, 3e-3], "seed": [0, 1]}}), sweep=True)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_every_experiment_file_validates(path, no_data):
    t0 = time.perf_counter()
    validate(resolve(str(path), {"data_dir": str(no_data)}))
    assert time.perf_counter() - t0 < 5


def test_every_run_of_the_main_job_validates_and_a_bad_one_stops_the_job_before_any_run(no_data, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("xsub", EXPERIMENTS[0].parent / "cross_subject_eegmmidb.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    for model in job.MODELS:
        for scheme in job.SCHEMES:
            validate(make_config(job.run_config(model, scheme, data_dir=str(no_data))))
    validate(make_config(job.run_config("eegnet", "loso", seeds=(0, 1, 2), data_dir=str(no_data))), sweep=True)
    # A typo in the last planned run stops the job before the first run starts.
    monkeypatch.setattr(CVRun, "run", lambda self: pytest.fail("a run started"))
    monkeypatch.setitem(job.MODELS, "msc_t3am", {"model": "msc_t3am", "model_kwargs": {"pol": 3}})
    with pytest.raises(ConfigError, match="'pol' is not a hyper-parameter of model='msc_t3am'"):
        job.run_all(tmp_path / "out", {"subject_group_kfold": ["eegnet", "msc_t3am"]}, overrides={"data_dir": str(no_data)})
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_misspelt_model_at_once(no_data, tmp_path, capsys):
    """The issue's example: a typo in --model once ran every baseline fold (6 minutes) first."""
    out = tmp_path / "run"
    t0 = time.perf_counter()
    code = main(["cv", str(EXPERIMENTS[0].parent / "stff_da_eegmmidb.py"), "--model", "eegnett", "--data-dir",
                 str(no_data), "--out", str(out), "--quiet"])
    elapsed = time.perf_counter() - t0
    captured = capsys.readouterr()
    assert code == 2 and elapsed < 5
    lines = captured.err.strip().splitlines()
    assert lines == [("jeeg: error: model='eegnett' is not a valid model; choose one of: eegnet, msc_t3am, sst_emotionnet, "
                      "stff_da, utime (did you mean 'eegnet'?)")]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()
    code = main(["sweep", str(EXPERIMENTS[0].parent / "stff_da_eegmmidb.py"), "--grid", "lr=1e-3,0", "--data-dir",
                 str(no_data), "--out", str(out), "--quiet"])
    assert code == 2 and "grid['lr'] value 0" in capsys.readouterr().err and not out.exists()


def test_data_shape_from_the_edf_header(eegmmidb_root):
    """The sampling frequency comes from the first EDF's header (read without its samples)."""
    cfg = make_config({**BASE, "data_dir": str(eegmmidb_root), "tmin": 0.5, "tmax": 2.5, "channels": "C3,Cz,C4"})
    assert data_shape(cfg) == (3, 320, 160.0, 2, ("C3", "Cz", "C4"))
    assert data_shape(cfg.replace(resample=80.0, h_freq=30.0))[:3] == (3, 160, 80.0)
