"""The run directory: what a ``jeeg cv`` run writes, as work finishes, and how it is read back.

* ``config.json`` — the resolved configuration, the environment (:func:`jeeg.host.environment`)
  and the code (:func:`code_identity`: jeeg's version, git commit, hash of its source), with one
  entry in ``resumed_with`` per ``--resume`` by other code;
* ``folds.jsonl`` — one line per finished (model, fold[, grid point]) with its metrics,
  predictions, learning curves and attention, appended as soon as it is scored: a crash never
  loses finished folds, and ``jeeg cv --resume`` never recomputes them;
* ``engine.json`` — how the members were grouped into compiled programs (kept for resuming);
* ``checkpoints/`` — orbax checkpoints of each program of members (every ``checkpoint_every``
  epochs, with the selected epoch's parameters), and ``checkpoints/final-<task>`` — the final
  model of ``jeeg cv --final`` (:mod:`jeeg.final`);
* ``metrics.json`` (per fold, per subject, aggregated, Wilcoxon tests; :mod:`jeeg.summary`),
  ``predictions.csv`` and the plots (:mod:`jeeg.report`);
* ``evaluate-S<subjects>/`` — the default output of ``jeeg evaluate RUN`` on new subjects
  (:mod:`jeeg.evaluate`), with the same files;
* ``.jeeg.lock`` and ``.jeeg.pid`` — the lock of the process running in the directory
  (:func:`hold_run_dir`) and its PID.

Crash and disk safety: JSON and CSV files are replaced whole (written beside, then renamed:
:func:`write_text_atomic`), a ``folds.jsonl`` line is appended in one write and cut back off if the
write fails, and orbax commits a checkpoint step by renaming its finished temporary folder, so a
SIGKILL, a full disk or a read-only folder leaves every finished fold and a state ``--resume``
continues from. :func:`run_dir_error` turns such an ``OSError`` into a :class:`RunDirError` that
says what to do.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from jeeg.errors import ConfigError, JeegError

RESULT_FILES = ("metrics.json", "predictions.csv")
RUN_STATE = ("folds.jsonl", "engine.json", "checkpoints")
LOCK_FILE, PID_FILE = ".jeeg.lock", ".jeeg.pid"
#: errno values of a disk that is full (``ENOSPC``, ``EDQUOT``: quota, ``EFBIG``: file too large).
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: errno values of a folder that cannot be written (read-only file system, no permission).
READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class RunDirError(JeegError, OSError):
    """The run directory cannot be used: its disk is full, it is read-only, or another jeeg process
    is running in it. The message names the directory and says what to do."""


class RunDirWarning(UserWarning):
    """Something about a run directory worth knowing that does not stop the run (``--resume`` by
    another jeeg version or other code). The CLI prints it as one ``jeeg: warning:`` line."""


def prepare_out_dir(out: Path, overwrite: bool, clear: bool = True) -> None:
    """Create the run directory; refuse to overwrite finished results unless asked to.

    ``clear=False`` only checks (processes other than 0 of a multi-process run).

    Raises
    ------
    ConfigError
        If ``out`` already holds results (``metrics.json`` or ``folds.jsonl``) and
        ``overwrite`` is False.
    """
    if out.exists() and not overwrite:
        existing = [f for f in (*RESULT_FILES, "folds.jsonl") if (out / f).exists()]
        if existing:
            raise ConfigError(
                f"run directory {out} already holds results ({', '.join(existing)}); "
                "choose another --out or pass --overwrite"
            )
    if not clear:
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_STATE:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)



def read_folds(out: Path, rewrite: bool) -> list[dict]:
    """The finished folds' lines of ``out/folds.jsonl`` (none if absent). A last line cut short by a
    crash is dropped, and everything after it; ``rewrite=True`` cuts the file back to the lines
    kept (a truncation: it needs no disk space and cannot lose the lines before)."""
    path = Path(out) / "folds.jsonl"
    if not path.exists():
        return []
    data = path.read_bytes()
    good: list[dict] = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl
        try:
            good.append(json.loads(data[pos:end]))
        except (json.JSONDecodeError, UnicodeDecodeError):
            break  # a write interrupted by a kill: everything after it is recomputed
        pos = end + 1
    if rewrite and pos < len(data):
        os.truncate(path, pos)
    elif rewrite and pos > len(data):  # the last line made it whole but not its newline
        with open(path, "ab") as fh:
            fh.write(b"\n")
    return good


def append_fold(out: Path, line: dict) -> None:
    """Append one finished fold's line to ``out/folds.jsonl``, in one write.

    Raises
    ------
    OSError
        If the line cannot be written (disk full, folder read-only); the file is first cut back to
        its earlier lines, so no torn line is left. ``filename`` is the file.
    """
    path = Path(out) / "folds.jsonl"
    data = memoryview((json.dumps(line) + "\n").encode())
    try:
        with open(path, "ab", buffering=0) as fh:
            size = fh.seek(0, io.SEEK_END)
            try:
                while data:  # a raw write may write part of the bytes (a filling disk), then fail
                    data = data[fh.write(data):]
            except OSError:
                fh.truncate(size)
                raise
    except OSError as e:
        raise _naming(e, path) from None


def _naming(e: OSError, path: Path) -> OSError:
    """``e`` with ``path`` as its ``filename`` (a failed ``write()`` names no file, a temporary file
    is not the one the user knows)."""
    return e if e.errno is None else type(e)(e.errno, e.strerror, str(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` whole: written to a hidden file beside it, then renamed over it,
    so a kill or a full disk leaves the old file or the new one, never a torn one.

    Raises
    ------
    OSError
        If it cannot be written (``filename``: ``path``); the old file, if any, is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise _naming(e, path) from None


def prediction_rows(ds, idx, model: str, task: str, fold, y_pred, proba, setting: int = 0) -> list[dict]:
    """``predictions.csv`` rows of the trials ``idx`` of ``ds`` (an :class:`~jeeg.data.EpochsDataset`):
    model, task, fold (one name, or one per trial), setting, subject, run, trial, index, true and
    predicted class names, and ``p_<class>`` for every class of ``proba`` (shape (len(idx), n_classes))."""
    rows = []
    for j, i in enumerate(idx):
        row = {
            "model": model, "task": task, "fold": fold if isinstance(fold, str) else fold[j], "setting": setting,
            "subject": int(ds.subject[i]), "run": int(ds.run[i]), "trial": int(ds.trial[i]), "index": int(i),
            "y_true": ds.class_names[ds.y[i]], "y_pred": ds.class_names[int(y_pred[j])],
        }
        row.update({f"p_{c}": float(proba[j, k]) for k, c in enumerate(ds.class_names)})
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` as a CSV file with the first row's keys as its header (nothing is written for no
    rows), replaced whole (:func:`write_text_atomic`): ``predictions.csv``, ``scores.csv``."""
    if not rows:
        return
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(Path(path), buf.getvalue())


def write_predictions(out: Path, rows: list[dict]) -> None:
    """``predictions.csv``: one row per test trial (:func:`write_csv`)."""
    write_csv(Path(out) / "predictions.csv", rows)


# ------------------------------------------------------------------------------ disk errors
def run_dir_error(out: Path, e: OSError) -> RunDirError | OSError:
    """The :class:`RunDirError` for an ``OSError`` met while writing the run directory ``out``: it
    names the file, the reason, how many finished folds are kept, and what to do (free space or
    make the folder writable, then ``jeeg cv --resume``; or choose another ``--out`` when nothing
    was finished). ``e`` itself when it is no such error: another errno, or a file outside ``out``
    (a recording that cannot be read is not the run directory's fault)."""
    if isinstance(e, JeegError) or e.errno not in FULL_ERRNOS | READ_ONLY_ERRNOS:
        return e
    out = Path(out)
    if e.filename is not None:
        try:
            Path(e.filename).resolve().relative_to(out.resolve())
        except ValueError:
            return e
    elif e.errno not in FULL_ERRNOS:  # no file named: only a full disk is surely ours
        return e
    try:
        n = len(read_folds(out, rewrite=False))
    except (OSError, ValueError):
        n = 0
    full = e.errno in FULL_ERRNOS
    fix = "free some space on its disk" if full else f"make {out if out.exists() else out.parent} writable"
    where = f"cannot write {e.filename or out}: {e.strerror or e}"
    if n and (out / "config.json").is_file():
        return RunDirError(
            f"{where}; the {n} finished folds in {out / 'folds.jsonl'} are kept: {fix} (or move {out} to "
            f"another {'disk' if full else 'place'}), then continue the run with: jeeg cv --resume {out}")
    return RunDirError(f"{where}; {fix}, or choose another --out")


@contextmanager
def disk_errors(out: Path) -> Iterator[None]:
    """Turn an ``OSError`` of a full or read-only run directory ``out`` raised inside into the
    :class:`RunDirError` of :func:`run_dir_error` (other errors pass unchanged)."""
    try:
        yield
    except OSError as e:
        err = run_dir_error(out, e)
        if err is e:
            raise
        raise err from e


# ------------------------------------------------------------------------------ one process per run directory
@contextmanager
def hold_run_dir(out: Path) -> Iterator[None]:
    """Hold the lock of run directory ``out`` (made if absent) while the block runs: a second jeeg
    process that starts or resumes a run there is refused, at once. The lock is
    ``out/.jeeg.lock`` (:class:`filelock.FileLock`, an OS lock that a killed process loses, so it
    never goes stale); ``out/.jeeg.pid`` names the holder for the refusal's message.

    Raises
    ------
    RunDirError
        If another process holds the lock (the message names the directory and that process's
        PID and host), or ``out`` cannot be made or written.
    """
    from filelock import FileLock, Timeout

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / LOCK_FILE), timeout=0)
        lock.acquire()
    except Timeout:
        holder = ""
        try:
            holder = f" (PID {(out / PID_FILE).read_text().strip()})"
        except OSError:
            pass
        raise RunDirError(
            f"run directory {out} is in use by another jeeg process{holder}; wait for it to finish "
            "(or stop it), or choose another --out") from None
    except OSError as e:
        err = run_dir_error(out, e if e.filename else _naming(e, out))
        if err is e:
            raise
        raise err from e
    try:
        try:
            (out / PID_FILE).write_text(f"{os.getpid()} on {socket.gethostname()}\n")
        except OSError:
            pass  # only the refusal's message needs it
        yield
    finally:
        try:
            (out / PID_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        lock.release()


# ------------------------------------------------------------------------------ which code made a run
def source_hash() -> str:
    """SHA-256 of the jeeg package's source: every ``.py`` file under ``jeeg/``, by relative path
    and content (the same for a git checkout and a pip install of the same code)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def code_identity() -> dict:
    """The jeeg that runs: ``version`` (``jeeg.__version__``), ``git_commit`` (short hash,
    ``+changes`` when jeeg's code differs from it, ``?`` outside a checkout;
    :func:`jeeg.host.git_commit`), ``git_dirty`` and ``source_sha256`` (:func:`source_hash`)."""
    import jeeg
    from jeeg.host import git_commit

    commit = git_commit()
    return {"version": jeeg.__version__, "git_commit": commit, "git_dirty": commit.endswith("+changes"),
            "source_sha256": source_hash()}


def write_run_config(out: Path, config: dict, environment: dict) -> None:
    """``out/config.json``: the configuration, environment and code (:func:`code_identity`) of a
    new run, written whole (:func:`write_text_atomic`)."""
    doc = {"config": config, "environment": environment, "code": code_identity()}
    write_text_atomic(Path(out) / "config.json", json.dumps(doc, indent=2))


def check_resumed_code(out: Path, write: bool = True) -> list[str]:
    """Compare the code that started run ``out`` (``config.json``'s ``code``) with this one; for
    each difference, warn (:class:`RunDirWarning`) naming the old and the new value: the jeeg
    version, and the code (source hash, with the git commits). The resume goes on: finished folds
    stay as the old code computed them. ``write``: record this code in ``config.json``'s
    ``resumed_with`` when it differs. Returns the warnings' messages."""
    path = Path(out) / "config.json"
    doc = json.loads(path.read_text())
    old, new = doc.get("code") or {}, code_identity()
    msgs = []
    if old.get("version") != new["version"]:
        msgs.append(f"{out} was started by jeeg {old.get('version', '(version not recorded)')} and is resumed by "
                    f"jeeg {new['version']}; its finished folds stay as the old version computed them")
    if old.get("source_sha256") != new["source_sha256"]:
        was = (f"git {old['git_commit']}, source sha256 {old['source_sha256'][:12]}" if old.get("source_sha256")
               else "code not recorded")
        msgs.append(f"{out} was started by other jeeg code ({was}) than resumes it (git {new['git_commit']}, "
                    f"source sha256 {new['source_sha256'][:12]}); its finished folds stay as the old code computed them")
    for m in msgs:
        warnings.warn(m, RunDirWarning, stacklevel=2)
    if msgs and write:
        import datetime as _dt

        entry = {**new, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        doc["resumed_with"] = [*doc.get("resumed_with", []), entry]
        write_text_atomic(path, json.dumps(doc, indent=2))
    return msgs
