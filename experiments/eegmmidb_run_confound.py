"""Control for the 8-class ``multi_action`` task of EEGMMIDB: how far can RUNS be told apart without any cue?

Why: in EEGMMIDB each pair of ``multi_action`` classes comes from its own kind of run (runs 3/7/11
executed left/right fist, 5/9/13 executed fists/feet, 4/8/12 imagined left/right, 6/10/14 imagined
fists/feet; Schalk et al. 2004). Within-subject folds mix trials of every run, so a classifier can
score above chance by recognising the run a trial comes from (slow drifts, electrode changes,
fatigue, the subject's set for executing vs imagining) rather than the movement in the trial.

Control: the rest periods (annotation T0, no cue, 4.2 s each, ~15 per run) labelled with their
run's kind (4 classes, chance 25 %; task ``run_type_rest``), seconds 1-4 after the rest onset so
that the first second, where the previous cue's movement may still echo (post-movement beta
rebound), is left out. The same band-pass (8-30 Hz), channels (64), folds (within-subject
stratified 5-fold, seed 0) and classifiers as the MSC-T3AM experiment's CSP+LDA, plus LogVar+LR.
For scale, the same classifiers on the cue epochs (0-4 s) of ``multi_action``: 8 classes (chance
12.5 %) and the 4 run kinds the cues come from (chance 25 %).

Commands (no network). The three analyses with the two classical pipelines (minutes on a CPU)::

    python experiments/eegmmidb_run_confound.py [--subjects 1,3,7] [--out runs/run_confound]
        [--baselines csp_lda,logvar_lr]

writes ``run_confound.json`` and ``run_confound.md`` (per subject and mean accuracy). The rest
control with a network as well: ``config()`` below is EEGNet as the MSC-T3AM experiment's teacher
(``kernel_length=41``, batch 16, lr 0.01, 30 epochs, patience 10) on ``run_type_rest``, with
both pipelines on the same folds::

    jeeg cv experiments/eegmmidb_run_confound.py --sequential --out runs/run_confound/eegnet

Result: 2026-11-27, 2-core Intel Xeon CPU (shared with training runs), jax 0.10.2, mne 1.13.2,
scikit-learn 1.9.1 (``python experiments/eegmmidb_run_confound.py``). Accuracy %, mean ± std over S001, S003,
S007 (180 / 150 / 135 trials each)::

    epochs → labels                          chance   CSP+LDA       LogVar+LR
    rest → run kind                          25.0     64.3 ± 3.8    61.1 ± 2.3
    cue → run kind                           25.0     68.9 ± 5.2    69.9 ± 3.1
    cue → 8 classes                          12.5     54.4 ± 18.1   45.9 ± 9.1
    rest → run kind, held-out repetition     25.0     23.0 ± 3.5    28.4 ± 1.7
    cue → 8 classes, held-out repetition     12.5     22.2 ± 16.1   28.3 ± 6.0

"Held-out repetition": leave-one-group-out over EEGMMIDB's three repetitions of the four kinds
of run (runs 3-6, 7-10, 11-14), accuracy pooled over all test trials, so every test run is
unseen in training. S001 has all 12 runs and S003 runs 3-12, so every kind is in each training
part; S007 lacks runs 10, 13, 14, so when runs 3-6 are held out its imagined fists/feet kind
(run 6 only) is absent from training and those trials cannot be right: its held-out numbers
(rest 20.0 / 29.6 %, 8 classes 44.4 / 36.3 %) are the least clean; S001 (21.1 / 29.4 %) and
S003 (28.0 / 26.0 %) show rest at chance without that caveat.

With ``jeeg cv`` (the command above: jeeg's within-subject folds, the pipelines fitted on the
training and validation parts; 4 min), rest → run kind: CSP+LDA 62.4 ± 6.8 %, LogVar+LR
59.8 ± 3.2 %, and EEGNet 28.0 ± 4.2 % (chance: with lr 0.01 and 86-115 training trials it learns
nothing here, as it learns nothing on left vs right in the MSC-T3AM experiment's honest protocol).

Rest periods, which hold no cue, tell the four kinds of run apart almost as well as the cued
epochs do (64 against 69 %), but only when their own run is also in training: with the test runs
held out, rest is at chance (23-28 %), so what it carries is the run (drift, electrode contact,
fatigue), not a state proper to executing or imagining. The 8-class accuracy drops from 54 to
22 % (CSP+LDA) on held-out runs. So most of what separates the run kinds in a cued epoch is there
without any movement, and an 8-class accuracy well above 12.5 % under within-subject folds does
not show that movements are decoded: a classifier that only recognises the run kind and guesses
between its two classes would score up to ~34 % (0.69 / 2). Read ``multi_action`` results
(experiments/msc_t3am_eegmmidb.py) with this in mind; the left vs right tasks do not have this
confound (both classes of a task are cued within the same runs).
"""

from __future__ import annotations

#: The multi_action subjects: those whose runs present in the data folder cover all 8 classes
#: (S001 all 12 runs, S003 runs 3-12, S007 runs 3-9, 11, 12).
SUBJECTS = (1, 3, 7)
#: multi_action class → the kind of run it is cued in.
RUN_KIND = {
    f"{a}_{mode}": f"{'left_right' if a in ('left_fist', 'right_fist') else 'fists_feet'}_{mode}"
    for a in ("left_fist", "right_fist", "both_fists", "both_feet") for mode in ("executed", "imagined")
}
BASELINES = ("csp_lda", "logvar_lr")


def config():
    """EEGNet exactly as the MSC-T3AM experiment's ``multi_action`` teacher run, on the rest control."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("msc_t3am_eegmmidb.py")
    spec = importlib.util.spec_from_file_location("msc_t3am_eegmmidb", path)
    msc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(msc)
    cfg = msc.mode_config("multi_action", "eegnet", "honest", out=".")
    cfg.update(task=["run_type_rest"], tmin=1.0, tmax=4.0, baselines=list(BASELINES), checkpoint_every=0)
    return cfg


def load(subject: int, task: str, tmin: float, tmax: float, data_dir=None):
    from jeeg.data.eegmmidb import Preprocessing, load_eegmmidb

    prep = Preprocessing(l_freq=8.0, h_freq=30.0, tmin=tmin, tmax=tmax)
    return load_eegmmidb(subject, task, data_dir=data_dir, skip_missing_runs=True, preprocessing=prep)


def cv_accuracy(X, labels, name: str, seed: int = 0, n_folds: int = 5, groups=None) -> float:
    """Test accuracy of baseline ``name``: mean over stratified ``n_folds``-fold CV (shuffled with
    ``seed``), or, with ``groups``, leave-one-group-out, pooled over every test trial."""
    import numpy as np
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold

    from jeeg.baselines import fit_predict

    y = np.unique(np.asarray(labels), return_inverse=True)[1].astype(np.int32)
    if groups is not None:
        hits = []
        for tr, te in LeaveOneGroupOut().split(X, y, groups):
            pred, _ = fit_predict(name, X[tr], y[tr], X[te])
            hits.append(pred == y[te])
        return float(np.concatenate(hits).mean())
    accs = []
    for tr, te in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X, y):
        pred, _ = fit_predict(name, X[tr], y[tr], X[te])
        accs.append(float(np.mean(pred == y[te])))
    return float(np.mean(accs))


def repetition(run):
    """EEGMMIDB presents its four kinds of run three times: runs 3-6, 7-10, 11-14 → 0, 1, 2."""
    import numpy as np

    return (np.asarray(run) - 3) // 4


def run(subjects=SUBJECTS, data_dir=None, log=print, baselines=BASELINES) -> dict:
    """Accuracies {analysis: {baseline: {subject: acc}}} and the trial counts per subject.

    Raises
    ------
    ConfigError
        A name in ``baselines`` other than those of :data:`BASELINES` (checked before any file is read).
    """
    import numpy as np

    from jeeg.errors import ConfigError

    if unknown := [b for b in baselines if b not in BASELINES]:
        raise ConfigError(f"run-confound baselines {unknown}: choose from {', '.join(BASELINES)}")
    out: dict = {"accuracy": {}, "n_trials": {}, "chance": {}}
    for s in subjects:
        rest = load(s, "run_type_rest", 1.0, 4.0, data_dir)
        cue = load(s, "multi_action", 0.0, 4.0, data_dir)
        cue_labels = np.asarray(cue.class_names)[cue.y]
        rest_labels = np.asarray(rest.class_names)[rest.y]
        analyses = {
            "rest → run kind": (rest.X, rest_labels, 4, None),
            "cue → run kind": (cue.X, np.array([RUN_KIND[c] for c in cue_labels]), 4, None),
            "cue → 8 classes": (cue.X, cue_labels, 8, None),
            # Test runs never seen in training: run-specific drift cannot help, a state proper to
            # the kind of run (executing vs imagining, fists vs feet) still can.
            "rest → run kind, held-out repetition": (rest.X, rest_labels, 4, repetition(rest.run)),
            "cue → 8 classes, held-out repetition": (cue.X, cue_labels, 8, repetition(cue.run)),
        }
        for what, (X, y, n_classes, groups) in analyses.items():
            out["n_trials"].setdefault(what, {})[s] = int(len(y))
            out["chance"][what] = 1.0 / n_classes
            for b in baselines:
                acc = cv_accuracy(X, y, b, groups=groups)
                out["accuracy"].setdefault(what, {}).setdefault(b, {})[s] = acc
                log(f"S{s:03d} {what:37s} {b:9s} {100 * acc:5.1f} % ({len(y)} trials, chance {100 / n_classes:.1f} %)")
    return out


def table(res: dict) -> str:
    import numpy as np

    from jeeg.baselines import BASELINE_NAMES

    subjects = sorted({s for by_b in res["accuracy"].values() for accs in by_b.values() for s in accs})
    lines = ["| Epochs → labels | Chance % | Classifier | Mean accuracy % | "
             + " | ".join(f"S{s:03d}" for s in subjects) + " |", "|" + "---|" * (4 + len(subjects))]
    for what, by_b in res["accuracy"].items():
        for b, accs in by_b.items():
            vals = [accs[s] for s in subjects]
            lines.append(f"| {what} | {100 * res['chance'][what]:.1f} | {BASELINE_NAMES[b]} | "
                         f"{100 * np.mean(vals):.1f} ± {100 * np.std(vals):.1f} | "
                         + " | ".join(f"{100 * v:.1f}" for v in vals) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    import json
    from pathlib import Path

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", default=",".join(map(str, SUBJECTS)))
    p.add_argument("--out", default="runs/run_confound")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help="comma-separated pipelines (multi-class CSP+LDA takes about a minute per analysis on 2 cores)")
    args = p.parse_args()
    if unknown := [b for b in args.baselines.split(",") if b not in BASELINES]:
        p.error(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")
    res = run([int(s) for s in args.subjects.split(",")], args.data_dir, baselines=args.baselines.split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_confound.json").write_text(json.dumps(res, indent=2))
    (out / "run_confound.md").write_text(table(res) + "\n")
    print(table(res))
