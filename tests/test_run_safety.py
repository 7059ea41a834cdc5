"""Crash, disk and concurrency safety of ``jeeg cv`` run directories (real EEGMMIDB data, S001-S002).

* a SIGKILL inside an orbax checkpoint save (every array of the step written, not yet committed)
  leaves a run that ``--resume`` finishes bitwise-identical to an uninterrupted one;
* a full disk (``ENOSPC`` while appending to ``folds.jsonl``, committing a checkpoint, writing
  ``predictions.csv``) and a read-only folder give one clear error, keep every finished fold, and
  ``--resume`` then finishes the run bitwise-identical;
* a second process on a run directory is refused through its lock (``filelock``), before it can
  clear anything, and a killed holder leaves no stale lock;
* ``--resume`` by another jeeg version or other code warns, naming the old and new values, and goes on.

One tiny config throughout: EEGNet with 2 filters, 2 subjects x 2 folds (4 members in one
program), 3 epochs, a checkpoint every epoch, the log-variance baseline.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jeeg
from jeeg import rundir
from jeeg.cli import main
from jeeg.compare import compare_runs

pytestmark = pytest.mark.slow

TINY = [
    "--task", "left_right_imagined", "--subjects", "1,2", "--model", "eegnet", "--max-epochs", "3",
    "--set", "n_folds=2", "--set", "batch_size=16", "--set", "checkpoint_every=1", "--set", "baselines=logvar_lr",
    "--set", "model_kwargs.F1=2", "--set", "model_kwargs.D=1", "--set", "model_kwargs.F2=2", "--quiet",
]
PROGRAM = "eegnet-0000"  # the one program of members: its checkpoints are checkpoints/eegnet-0000/<epoch>

# Runs `jeeg` with orbax's commit of one checkpoint step held up: every array of step STALL_STEP is in
# its temporary folder, the rename that commits it not yet done. The test SIGKILLs the process there.
DRIVER = '''
import os, sys, time
from pathlib import Path
from orbax.checkpoint._src.path import atomicity

commit = atomicity.AtomicRenameTemporaryPath.finalize

async def stalled(self):
    final = Path(str(self.get_final()))
    if final.name == os.environ["STALL_STEP"] and final.parent.name == os.environ["STALL_PROGRAM"]:
        Path(os.environ["STALL_MARKER"]).write_text(str(self.get()))
        time.sleep(600)
    return await commit(self)

atomicity.AtomicRenameTemporaryPath.finalize = stalled
from jeeg.cli import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.fixture(scope="module")
def ref(eegmmidb_root, tmp_path_factory):
    """The uninterrupted reference run (in this process) and the argv that makes it anywhere."""
    base = tmp_path_factory.mktemp("safety")

    def argv(out: Path) -> list[str]:
        return ["cv", *TINY, "--data-dir", str(eegmmidb_root), "--cache-dir", str(base / "cache"), "--out", str(out)]

    assert main(argv(base / "ref")) == 0
    return base, argv


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "folds.jsonl").read_text().splitlines()]


def _tmp_steps(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").rglob("*orbax-checkpoint-tmp*"))


def _resume(out: Path) -> int:
    return main(["cv", "--resume", str(out), "--quiet"])


# ------------------------------------------------------------------------------ SIGKILL inside a save
def test_sigkill_inside_a_checkpoint_save_then_resume_is_bitwise_identical(ref, tmp_path, capsys):
    import jax

    base, argv = ref
    out, marker = tmp_path / "killed", tmp_path / "stalled"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": str(jax.device_count()),
           "STALL_STEP": "1", "STALL_PROGRAM": PROGRAM, "STALL_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, str(driver), *argv(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the run never reached the save of epoch 1: {proc.poll()} {proc.stderr.read()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Killed inside the save: step 1 written but uncommitted; step 0 is the latest; no model fold scored.
    stalled = Path(marker.read_text())
    assert stalled.parent == out / "checkpoints" / PROGRAM and stalled.is_dir() and any(stalled.rglob("*"))
    assert sorted(p.name for p in stalled.parent.iterdir()) == ["0", stalled.name]
    assert _tmp_steps(out) == [stalled.name]
    assert [line["record"]["model"] for line in _lines(out)] == ["logvar_lr"] * 4
    assert not (out / "metrics.json").exists()

    # The killed process's lock died with it; the resume restores epoch 0 and drops the torn step.
    assert _resume(out) == 0
    assert compare_runs(base / "ref", out) is None  # metrics.json, predictions.csv, every checkpoint array
    assert _lines(out) == _lines(base / "ref")  # every fold's record, predictions and learning curves
    assert _tmp_steps(out) == []
    assert (out / "predictions.csv").read_bytes() == (base / "ref" / "predictions.csv").read_bytes()


# ------------------------------------------------------------------------------ full disk, read-only folder
class _FullDisk:
    """A file open for writing whose ``write`` puts half its bytes on disk, then fails as a full disk does."""

    def __init__(self, fh):
        self.fh = fh

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.fh, name)


def _disk_full_at(monkeypatch, name: str, after: int = 0) -> None:
    """The disk fills while jeeg.rundir writes file ``name`` for the ``after + 1``-th time."""
    real, opened = open, []

    def fake_open(path, mode="r", *args, **kwargs):
        fh = real(path, mode, *args, **kwargs)
        if Path(path).name == name and ("a" in mode or "w" in mode):
            opened.append(path)
            if len(opened) > after:
                return _FullDisk(fh)
        return fh

    monkeypatch.setattr(rundir, "open", fake_open, raising=False)


def _commit_fails_at(monkeypatch, step: str) -> None:
    """Orbax's commit of checkpoint ``step`` of the program fails as on a full disk."""
    from orbax.checkpoint._src.path import atomicity

    commit = atomicity.AtomicRenameTemporaryPath.finalize

    async def full(self):
        if Path(str(self.get_final())).name == step:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.get()))
        return await commit(self)

    monkeypatch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", full)


def _refused(capsys, *parts: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("jeeg: error: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    for part in parts:
        assert part in err, (part, err)
    return err


def test_full_disk_keeps_finished_folds_and_resume_finishes_bitwise(ref, tmp_path, monkeypatch, capsys):
    base, argv = ref
    out, want = tmp_path / "full", _lines(base / "ref")
    resume_hint = f"jeeg cv --resume {out}"

    # 1. The disk fills while the third fold's line is appended: two lines kept, none torn.
    with monkeypatch.context() as m:
        _disk_full_at(m, "folds.jsonl", after=2)
        assert main(argv(out)) == 2
    _refused(capsys, f"cannot write {out / 'folds.jsonl'}: No space left on device",
             "the 2 finished folds", "free some space", resume_hint)
    assert (out / "folds.jsonl").read_text().endswith("\n") and _lines(out) == want[:2]

    # 2. A read-only run directory (root ignores permissions: only as another user).
    if os.geteuid() != 0:
        for p in [out, *out.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        try:
            assert _resume(out) == 2
            _refused(capsys, str(out), "the 2 finished folds", f"make {out} writable", resume_hint)
        finally:
            for p in [out, *out.rglob("*")]:
                p.chmod(p.stat().st_mode | 0o200)
        assert _lines(out) == want[:2]

    # 3. The disk fills as the checkpoint of epoch 1 is committed: the baselines' four folds kept.
    with monkeypatch.context() as m:
        _commit_fails_at(m, "1")
        assert _resume(out) == 2
    _refused(capsys, f"cannot write {out / 'checkpoints' / PROGRAM / '1.orbax-checkpoint-tmp'}",
             "the 4 finished folds", resume_hint)
    assert _lines(out) == want[:4] and _tmp_steps(out) == ["1.orbax-checkpoint-tmp"]

    # 4. ... and as predictions.csv is written: every fold kept, no torn or half-written file.
    with monkeypatch.context() as m:
        _disk_full_at(m, ".predictions.csv.tmp")
        assert _resume(out) == 2
    _refused(capsys, f"cannot write {out / 'predictions.csv'}", "the 8 finished folds", resume_hint)
    assert _lines(out) == want and _tmp_steps(out) == []
    assert not (out / "predictions.csv").exists() and not (out / ".predictions.csv.tmp").exists()

    # 5. Space freed: the resume finishes the run as if nothing had happened.
    assert _resume(out) == 0
    assert compare_runs(base / "ref", out) is None
    assert _lines(out) == want


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_refused_with_what_to_do(ref, tmp_path, capsys):
    _, argv = ref
    out = tmp_path / "read-only"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(argv(out)) == 2
        _refused(capsys, str(out), "Permission denied", f"make {out} writable", "or choose another --out")
        assert list(out.iterdir()) == []
        assert main(argv(tmp_path / "read-only" / "inside")) == 2
        _refused(capsys, str(out / "inside"), "choose another --out")
    finally:
        out.chmod(0o755)


def test_disk_errors_name_the_file_and_leave_others_alone(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    rundir.write_run_config(out, {}, {})
    for i in range(3):
        rundir.append_fold(out, {"record": {"i": i}})
    e = rundir.run_dir_error(out, OSError(errno.EROFS, "Read-only file system", str(out / "engine.json")))
    assert isinstance(e, rundir.RunDirError) and isinstance(e, jeeg.JeegError)
    assert str(e) == (f"cannot write {out / 'engine.json'}: Read-only file system; the 3 finished folds in "
                      f"{out / 'folds.jsonl'} are kept: make {out} writable (or move {out} to another place), "
                      f"then continue the run with: jeeg cv --resume {out}")
    # A recording that cannot be read, or another error, is not the run directory's.
    other = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "S001R04.edf"))
    assert rundir.run_dir_error(out, other) is other
    missing = FileNotFoundError(errno.ENOENT, "No such file", str(out / "x"))
    assert rundir.run_dir_error(out, missing) is missing
    # A torn last line is cut off (a truncation: the lines before are never rewritten).
    good = (out / "folds.jsonl").read_bytes()
    with open(out / "folds.jsonl", "ab") as fh:
        fh.write(b'{"record": {"i": 3')
    assert [line["record"]["i"] for line in rundir.read_folds(out, rewrite=True)] == [0, 1, 2]
    assert (out / "folds.jsonl").read_bytes() == good


# ------------------------------------------------------------------------------ two processes, one directory
HOLDER = "import sys, time; from jeeg.rundir import hold_run_dir; h = hold_run_dir(sys.argv[1]); h.__enter__(); " \
         "print('held', flush=True); time.sleep(600)"


def test_a_second_process_on_a_run_directory_is_refused(ref, tmp_path, capsys):
    base, argv = ref
    out = tmp_path / "busy"
    out.mkdir()
    shutil.copy(base / "ref" / "config.json", out / "config.json")
    (out / "folds.jsonl").write_text('{"record": {"model": "the other process\'s work"}}\n')
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = (f"run directory {out} is in use by another jeeg process (PID {holder.pid} on ",
                "wait for it to finish")
        for extra in (["--overwrite"], []):  # refused before --overwrite could clear anything
            assert main([*argv(out), *extra]) == 2
            _refused(capsys, *busy)
        assert _resume(out) == 2
        _refused(capsys, *busy)
        assert (out / "folds.jsonl").read_text() == '{"record": {"model": "the other process\'s work"}}\n'
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The lock dies with its process, even killed: the directory is free again.
    with rundir.hold_run_dir(out):
        assert (out / rundir.PID_FILE).read_text().startswith(f"{os.getpid()} on ")
    assert not (out / rundir.PID_FILE).exists()


# ------------------------------------------------------------------------------ resumed by other code
def test_resume_by_another_version_or_code_warns_with_old_and_new(ref, tmp_path, capsys):
    base, _ = ref
    now = rundir.code_identity()
    assert now["version"] == jeeg.__version__ and len(now["source_sha256"]) == 64
    recorded = json.loads((base / "ref" / "config.json").read_text())["code"]
    assert recorded["version"] == jeeg.__version__ and recorded["git_commit"] == now["git_commit"]
    out = tmp_path / "old"
    shutil.copytree(base / "ref", out)

    def started_by(**code) -> None:
        doc = json.loads((out / "config.json").read_text())
        doc["code"] = {**rundir.code_identity(), **code}
        (out / "config.json").write_text(json.dumps(doc))

    started_by(version="0.0.1")
    assert _resume(out) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("jeeg: warning: ")]
    assert warned == [f"jeeg: warning: {out} was started by jeeg 0.0.1 and is resumed by jeeg {jeeg.__version__}; "
                      "its finished folds stay as the old version computed them"]

    started_by(git_commit="abc1234", source_sha256="0" * 64)
    assert _resume(out) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("jeeg: warning: ")]
    assert len(warned) == 1 and "other jeeg code (git abc1234, source sha256 000000000000)" in warned[0]
    assert f"(git {now['git_commit']}, source sha256 {now['source_sha256'][:12]})" in warned[0]
    # Not refused: the run is summarised again, unchanged, and config.json records who resumed it.
    assert compare_runs(base / "ref", out) is None
    doc = json.loads((out / "config.json").read_text())
    assert doc["code"]["git_commit"] == "abc1234"
    assert [r["source_sha256"] for r in doc["resumed_with"]] == [now["source_sha256"]] * 2
