"""The run directory: what a ``jeeg cv`` run writes, as work finishes, and how it is read back.

* ``config.json`` — the resolved configuration and the environment (:func:`jeeg.host.environment`);
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
  (:mod:`jeeg.evaluate`), with the same files.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from jeeg.errors import ConfigError

RESULT_FILES = ("metrics.json", "predictions.csv")
RUN_STATE = ("folds.jsonl", "engine.json", "checkpoints")


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
    crash is dropped, and everything after it; ``rewrite=True`` writes the file back without it."""
    path = Path(out) / "folds.jsonl"
    if not path.exists():
        return []
    good: list[str] = []
    for line in path.read_text().splitlines():
        try:
            json.loads(line)
        except json.JSONDecodeError:
            break  # a write interrupted by a kill: everything after it is recomputed
        good.append(line)
    if rewrite:
        path.write_text("".join(g + "\n" for g in good))
    return [json.loads(g) for g in good]


def append_fold(out: Path, line: dict) -> None:
    """Append one finished fold's line to ``out/folds.jsonl``."""
    with open(Path(out) / "folds.jsonl", "a") as fh:
        fh.write(json.dumps(line) + "\n")


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


def write_predictions(out: Path, rows: list[dict]) -> None:
    """``predictions.csv``: one row per test trial (nothing is written for no rows)."""
    if not rows:
        return
    with open(Path(out) / "predictions.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
