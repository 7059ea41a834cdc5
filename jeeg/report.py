"""Result tables and plots of a cross-validation run (matplotlib, Agg backend; rich tables)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.table import Table  # noqa: E402

from jeeg.metrics import METRIC_KEYS, format_mean_std  # noqa: E402

HEADERS = {
    "accuracy": "Accuracy %",
    "balanced_accuracy": "Bal. acc. %",
    "cohen_kappa": "Kappa",
    "f1_macro": "F1 macro %",
    "f1_weighted": "F1 weighted %",
}


def display_name(model: str) -> str:
    """Human name of a registered model or baseline (``stff_da`` → ``STFF-DA``)."""
    from jeeg.baselines import BASELINE_NAMES
    from jeeg.models import REGISTRY

    if model in REGISTRY:
        return REGISTRY[model].display_name
    return BASELINE_NAMES.get(model, model)


def model_label(metrics: dict, model: str) -> str:
    """Name of ``model`` in a run's tables: with its distillation mode (``MSC-T3AM + online KD (EEGNet)``)."""
    return metrics.get("labels", {}).get(model) or display_name(model)


def protocol_note(metrics: dict) -> str:
    """Table-title suffix that marks MSC-T3AM's optimistic published protocol (``protocol="paper"``)."""
    if metrics.get("protocol") == "paper":
        return " — PAPER PROTOCOL: epoch chosen on TEST accuracy (optimistic; not an estimate of generalisation)"
    return ""


def dropped_note(metrics: dict) -> str:
    """``"unscored epochs dropped: MT 4, ? 22"`` for a sleep run that dropped unscored epochs, else ``""``."""
    dropped = metrics.get("unscored_dropped") or {}
    if not dropped:
        return ""
    return "unscored epochs dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))


def _cell(stats: dict, key: str) -> str:
    scale = 1.0 if key == "cohen_kappa" else 100.0
    digits = 2 if key == "cohen_kappa" else 1
    return format_mean_std(stats[key]["mean"], stats[key]["std"], scale=scale, digits=digits)


def results_table(metrics: dict, over: str = "over_subjects") -> Table:
    """Rich table: one row per (task, model), mean ± std ``over`` subjects (or folds)."""
    unit = "subjects" if over == "over_subjects" else "folds"
    t = Table(title=f"{metrics['dataset']}: mean ± std over {unit}{protocol_note(metrics)}")
    t.add_column("Task")
    t.add_column("Model")
    for k in METRIC_KEYS:
        t.add_column(HEADERS[k], justify="right")
    for task, by_model in metrics["aggregate"].items():
        for model, agg in by_model.items():
            t.add_row(task, model_label(metrics, model), *(_cell(agg[over], k) for k in METRIC_KEYS))
    t.caption = dropped_note(metrics) or None
    return t


def markdown_table(metrics: dict, over: str = "over_subjects") -> str:
    """The same table as :func:`results_table`, as GitHub markdown (for README/docstrings)."""
    cols = ["Task", "Model", *(HEADERS[k] for k in METRIC_KEYS)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for task, by_model in metrics["aggregate"].items():
        for model, agg in by_model.items():
            cells = [task, model_label(metrics, model), *(_cell(agg[over], k) for k in METRIC_KEYS)]
            lines.append("| " + " | ".join(cells) + " |")
    if note := dropped_note(metrics):
        lines += ["", note]
    return "\n".join(lines)


def statistics_lines(metrics: dict) -> list[str]:
    """One line per task and model: the paired Wilcoxon signed-rank test over subjects of the
    model against the best baseline (``metrics["statistics"]``, :func:`jeeg.summary.paired_tests`)."""
    lines = []
    for task, st in (metrics.get("statistics") or {}).items():
        for row in st.get("tests", []):
            if row["mean_difference"] is None:
                continue
            p = "n/a (fewer than 2 non-zero differences)" if row["p_value"] is None else f"p = {row['p_value']:.3g}"
            lines.append(
                f"{task}: {model_label(metrics, row['model'])} - {display_name(row['baseline'])} "
                f"{100 * row['mean_difference']:+.1f} points {st['metric'].replace('_', ' ')} over "
                f"{row['n_subjects']} subjects ({row['wins']} higher, {row['losses']} lower, {row['ties']} tied); "
                f"paired Wilcoxon signed-rank, two-sided {p}")
    return lines


def sweep_table(metrics: dict) -> Table:
    """Rich table of a sweep: every grid point's mean validation score and test accuracy.

    The chosen grid point (best mean validation ``monitor``) is marked; test columns are shown
    for inspection only and never used for the choice.
    """
    sw = metrics["sweep"]
    mon = sw["monitor"]
    t = Table(title=f"sweep: grid point chosen on mean {mon} (validation only)")
    for col in ("", "lr", "weight decay", "seed", f"mean {mon}", "test acc. %", "test kappa"):
        t.add_column(col, justify="right")
    for row in sw["settings"]:
        mark = "*" if row["setting"] in sw["chosen_settings"] else ""
        t.add_row(mark, f"{row['lr']:g}", f"{row['weight_decay']:g}", str(row["seed"]), f"{row[f'mean_{mon}']:.4f}",
                  f"{100 * row['mean_test_accuracy']:.1f}", f"{row['mean_test_cohen_kappa']:.2f}")
    return t


def plot_confusion_matrices(metrics: dict, path: Path) -> None:
    """Row-normalised confusion matrices summed over folds: rows = tasks, columns = models."""
    tasks, models, names = metrics["tasks"], metrics["models"], metrics["class_names"]
    fig, axes = plt.subplots(
        len(tasks), len(models), figsize=(3.2 * len(models) + 0.8, 3.0 * len(tasks) + 0.5), squeeze=False
    )
    for i, task in enumerate(tasks):
        for j, model in enumerate(models):
            ax = axes[i, j]
            cm = np.asarray(metrics["aggregate"][task][model]["confusion_matrix"], float)
            norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
            ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
            for a in range(cm.shape[0]):
                for b in range(cm.shape[1]):
                    ax.text(b, a, f"{int(cm[a, b])}", ha="center", va="center",
                            color="white" if norm[a, b] > 0.5 else "black", fontsize=8)
            ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(len(names)), names, fontsize=7)
            ax.set_title(f"{model_label(metrics, model)}\n{task}", fontsize=8)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("true", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _curves(curves: list[list[float]]) -> np.ndarray:
    """Curves of unequal length as one (n_curves, n_epochs) array, NaN after a curve ends."""
    n = max(len(c) for c in curves)
    a = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        a[i, : len(c)] = c
    return a


def plot_learning_curves(histories: list[dict], path: Path) -> None:
    """Every fold's training and validation loss and accuracy against epoch, per task.

    Thin lines are single folds; the thick line is the mean over the folds **still training at
    that epoch** (stopped folds leave it), and the third panel shows how many folds that is at each
    epoch, so a late mean of a few folds cannot pass for all of them. A dot marks each fold's
    selected epoch (``best_epoch``, chosen on validation) on its validation curve, and the third
    panel's bars count the folds selected at each epoch.
    """
    tasks = list(dict.fromkeys(h["task"] for h in histories))
    fig, axes = plt.subplots(len(tasks), 3, figsize=(14, 3.4 * len(tasks)), squeeze=False)
    for i, task in enumerate(tasks):
        hs = [h for h in histories if h["task"] == task]
        for j, (metric, label) in enumerate((("loss", "cross-entropy"), ("accuracy", "accuracy"))):
            ax = axes[i, j]
            for part, colour in (("train", "C0"), ("val", "C1")):
                a = _curves([h[f"{part}_{metric}"] for h in hs])
                ep = np.arange(1, a.shape[1] + 1)
                for row in a:
                    ax.plot(ep, row, color=colour, lw=0.5, alpha=0.3)
                with warnings.catch_warnings():  # epochs where every fold has stopped are all-NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ax.plot(ep, np.nanmean(a, 0), color=colour, lw=2,
                            label=f"{part}: mean of the folds still training")
                if part == "val":
                    best = [(h.get("best_epoch"), row) for h, row in zip(hs, a) if h.get("best_epoch") is not None]
                    if best:
                        ax.scatter([b + 1 for b, _ in best], [row[b] for b, row in best], s=12, color="k", zorder=3,
                                   label=f"selected epoch ({len(best)} folds)")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.set_title(f"{task}: {len(hs)} folds", fontsize=9)
            ax.legend(fontsize=7)
        ax = axes[i, 2]
        a = _curves([h["val_loss"] for h in hs])
        ep = np.arange(1, a.shape[1] + 1)
        ax.step(ep, np.sum(~np.isnan(a), 0), where="mid", color="C2", label="folds still training")
        best = [h["best_epoch"] + 1 for h in hs if h.get("best_epoch") is not None]
        if best:
            ax.bar(*np.unique(best, return_counts=True), width=0.8, color="k", alpha=0.5, label="folds selected here")
        ax.set_xlabel("epoch")
        ax.set_ylabel("folds")
        ax.set_ylim(0, len(hs) + 0.5)
        ax.set_title("folds behind each mean", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_attention(attention: list[dict], ds, path: Path) -> None:
    """Mean attention weight over time per true class on the test trials (± s.e.m.), per task.

    Each attention token covers ``n_times / n_tokens`` samples; it is drawn at the centre of its
    window in s relative to the cue.
    """
    tasks = list(dict.fromkeys(a["task"] for a in attention))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.4), squeeze=False)
    for i, task in enumerate(tasks):
        ax = axes[0, i]
        alpha = np.concatenate([a["alpha"] for a in attention if a["task"] == task])
        y = np.concatenate([a["y"] for a in attention if a["task"] == task])
        n_tok = alpha.shape[1]
        width = ds.n_times / n_tok / ds.sfreq
        t = ds.tmin + (np.arange(n_tok) + 0.5) * width
        for c, name in enumerate(ds.class_names):
            sel = alpha[y == c]
            if len(sel) == 0:
                continue
            m, sem = sel.mean(0), sel.std(0) / np.sqrt(len(sel))
            ax.plot(t, m, label=f"{name} (n={len(sel)})")
            ax.fill_between(t, m - sem, m + sem, alpha=0.2)
        ax.axhline(1.0 / n_tok, color="grey", ls=":", lw=1, label="uniform")
        ax.set_xlabel("time from cue (s)")
        ax.set_ylabel("attention weight α")
        ax.set_title(f"{task}: attention over time (test trials)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_hypnogram(onset: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, class_names, path: Path,
                   title: str = "") -> None:
    """True and predicted hypnograms of one night (stage per scored epoch against time).

    Parameters
    ----------
    onset : ndarray, shape (n_epochs,)
        Epoch onsets in s from the start of the recording (unscored gaps stay empty).
    y_true, y_pred : ndarray int, shape (n_epochs,)
        Class indices into ``class_names`` (wake first, as jeeg's sleep tasks order them).
    class_names : sequence of str
    path : Path
        PNG written here.
    """
    order = np.argsort(onset)
    hours = np.asarray(onset)[order] / 3600.0
    fig, axes = plt.subplots(2, 1, figsize=(10, 4), sharex=True, sharey=True)
    for ax, y, name in zip(axes, (y_true, y_pred), ("scored", "predicted")):
        ax.step(hours, np.asarray(y)[order], where="post", lw=0.8, color="k" if name == "scored" else "C3")
        ax.set_ylabel(name)
        ax.set_yticks(range(len(class_names)), list(class_names))
        ax.invert_yaxis()
    acc = float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")
    axes[0].set_title(f"{title} (epoch accuracy {100 * acc:.1f} %)" if title else f"epoch accuracy {100 * acc:.1f} %")
    axes[1].set_xlabel("time (h)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)



def write_run_plots(out: Path, metrics: dict, lines: list[dict], ds, model: str) -> None:
    """A run directory's plots from its ``metrics.json`` and ``folds.jsonl`` lines (of the grid
    point chosen in a sweep): ``confusion_matrix.png``, ``learning_curves.png``,
    ``attention.png`` (models with attention) and ``hypnogram.png`` (sleep staging)."""
    out = Path(out)
    chosen = metrics.get("sweep", {}).get("chosen_setting", 0)
    histories = [
        {"best_epoch": ln["record"].get("best_epoch"),
         **{k: [np.nan if x is None else x for x in v] if isinstance(v, list) else v for k, v in ln["history"].items()}}
        for ln in lines if ln["history"] and ln["history"]["setting"] == chosen
    ]
    attention = [
        {**a, "y": np.asarray(a["y"]), "alpha": np.asarray(a["alpha"], np.float32)}
        for a in (ln["attention"] for ln in lines) if a and a["setting"] == chosen
    ]
    plot_confusion_matrices(metrics, out / "confusion_matrix.png")
    if histories:
        plot_learning_curves(histories, out / "learning_curves.png")
    if attention:
        plot_attention(attention, ds, out / "attention.png")
    if str(ds.task[0]).startswith("sleep_"):
        preds = next((ln["predictions"] for ln in lines
                      if ln["record"]["model"] == model and ln["record"].get("setting", 0) == chosen), None)
        if preds:
            night = (preds[0]["subject"], preds[0]["run"])
            rows = [r for r in preds if (r["subject"], r["run"]) == night]
            idx = np.array([r["index"] for r in rows])
            code = {c: i for i, c in enumerate(ds.class_names)}
            plot_hypnogram(ds.onset[idx], ds.y[idx], np.array([code[r["y_pred"]] for r in rows]), ds.class_names,
                           out / "hypnogram.png", f"{model}, subject {night[0]} night {night[1]}")
