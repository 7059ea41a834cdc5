"""Cross-subject decoding of left vs right fist on EEGMMIDB: EEGNet, STFF-DA and MSC-T3AM against CSP+LDA and LogVar+LR.

jeeg's main job. Every model is trained on some subjects and tested on subjects it never saw::

    python experiments/cross_subject_eegmmidb.py --out runs/cross_subject

runs, for each subject-wise scheme and each model, one ordinary ``jeeg cv`` run directory
``runs/cross_subject/<scheme>/<model>/`` (metrics.json, predictions.csv, plots, checkpoints; an
interrupted run resumes, a finished one is not run again), then writes
``runs/cross_subject/summary.md`` and ``summary.json``: mean ± std over subjects per task, the
per-subject balanced accuracies, and a paired Wilcoxon signed-rank test over subjects of every
network against the best classical baseline. One model under one scheme is also a plain
``jeeg cv`` run of this file (``config()`` is EEGNet under subject-group 5-fold)::

    jeeg cv experiments/cross_subject_eegmmidb.py --out runs/xsub_eegnet
    jeeg cv experiments/cross_subject_eegmmidb.py --set model=stff_da --scheme loso --out runs/xsub_stff_da_loso

Options of the script: ``--models eegnet,stff_da,msc_t3am`` (default: all three),
``--schemes subject_group_kfold,loso`` (``--models``/``--schemes`` run their product; the default
plan runs every network under subject-group 5-fold and EEGNet and STFF-DA under LOSO), ``--subjects 1-17``, ``--max-epochs N``,
``--seeds 0,1,2`` (seeds as members of one program; the default is seed 0 alone),
``--set KEY=VALUE`` (any config key, every run), ``--data-dir DIR`` and ``--download`` (on a machine with internet, ``--subjects 1-109 --download``
runs the same job on all 109 EEGMMIDB subjects).

Data. EEGMMIDB (Schalk et al. 2004, IEEE TBME 51(6):1034-1043, doi:10.1109/TBME.2004.827072;
Goldberger et al. 2000, PhysioNet, doi:10.1161/01.CIR.101.23.e215): every subject given (the 17 of
this checkout by default), left vs right fist **imagined** (runs 4, 8, 12) and **executed**
(runs 3, 7, 11), two tasks of 45 trials per subject. The 21 sensorimotor channels of the 64, FIR band-pass 4-30 Hz (mu and
beta), resampled from 160 to 80 Hz, 0-4 s after the cue (320 samples).

Alignment. Euclidean alignment (He & Wu 2020, IEEE TBME 67(2):399-410,
doi:10.1109/TBME.2019.2913914): each subject's trials of a task are whitened by the inverse square
root of that subject's mean trial covariance, computed from its own trials without labels (for a
test subject: its own unlabelled test trials, transductively, as in the paper). Networks and
baselines all see the aligned trials; networks also get the per-trial channel z-score.

Splits. ``subject_group_kfold``: 5 folds of whole subjects (3-4 test subjects each);
``loso``: leave one subject out. In both, 20 % of the training subjects (whole subjects) are held
out for validation; the validation loss alone selects the epoch and stops training (patience 10).
Test subjects are scored once. A subject's score is its balanced accuracy on its own trials.

Data are restricted to the 21 sensorimotor channels (FC5-FC6, C5-C6, CP5-CP6), which cuts the
networks' cost threefold on a CPU.

Models (sizes in samples set for 80 Hz): EEGNet-8,2 (Lawhern et al. 2018, J Neural Eng
15(5):056013, doi:10.1088/1741-2552/aace8c; temporal kernel 40 = 0.5 s as the paper's 64 at
128 Hz); STFF-DA (CNN → LSTM → additive attention; its kernels scale with sfreq); MSC-T3AM (Yan,
Wang & Li 2025, Neural Networks, doi:10.1016/j.neunet.2025.107806; pooling 3 → 106 tokens, 26.7
tokens/s as at 160 Hz with pooling 6). Adam with decoupled weight decay 1e-4 (AdamW), lr 1e-3,
batch 32, cosine schedule, at most 40 epochs. Baselines: CSP+LDA (6 components, Ledoit-Wolf) and
log-variance + logistic regression, fitted on every training-side subject (train + validation).

Time: 40.1 min on 2 CPU cores (2026-11-29, AMD EPYC, jax 0.10.2, commit b4fc386; the five runs
took 2.6, 3.7, 6.7, 14.2 and 12.9 min, sharing the cores with other test jobs).

Result (the script's summary.md; mean ± std balanced accuracy % over the 17 subjects, and the
paired Wilcoxon test of the network against the best baseline, CSP+LDA in every case)::

    task, scheme               EEGNet         STFF-DA              MSC-T3AM        CSP+LDA
    imagined, group 5-fold     51.2 ± 4.2     59.7 ± 8.8 (p 0.89)  50.4 ± 4.7     60.5 ± 13.8
    executed, group 5-fold     50.2 ± 6.1     63.5 ± 10.2 (p 0.23) 51.4 ± 8.0     60.1 ± 9.7
    imagined, LOSO             51.7 ± 8.7     60.3 ± 10.5 (p 0.96) not run        60.8 ± 11.8
    executed, LOSO             53.1 ± 5.0     62.9 ± 7.4 (p 0.24)  not run        60.3 ± 10.4

No network beats CSP+LDA: STFF-DA is on par with it; EEGNet and MSC-T3AM stay at chance. Their
validation loss stays near ln 2 for the first epochs, and early stopping (validation loss,
patience 10) ends many folds there (MSC-T3AM's median selected epoch is 2; 8 of EEGNet's 17
imagined LOSO folds keep epoch 1). Per-subject scores, every test and the discussion:
docs/cross_subject_eegmmidb.md.

GPU sweep (all models under both schemes, five seeds as members of one program per model, enough
epochs and patience to outlast the plateau; not run yet, no GPU was lent)::

    python experiments/cross_subject_eegmmidb.py --out runs/cross_subject_gpu --models eegnet,stff_da,msc_t3am \
        --schemes subject_group_kfold,loso --seeds 0,1,2,3,4 --max-epochs 150 --set patience=40
"""

MODELS = {
    "eegnet": {"model": "eegnet", "model_kwargs": {"kernel_length": 40}},
    "stff_da": {"model": "stff_da", "model_kwargs": {}},
    "msc_t3am": {"model": "msc_t3am", "model_kwargs": {"pool": 3}},
}
SCHEMES = {
    "subject_group_kfold": {"scheme": "subject_group_kfold", "n_folds": 5},
    "loso": {"scheme": "loso"},
}
#: The default plan, sized for 2 CPU cores: every network under subject-group 5-fold, and the two
#: cheaper ones (EEGNet, STFF-DA) under leave-one-subject-out too. ``--models``/``--schemes`` run
#: their full product.
DEFAULT_PLAN = {"subject_group_kfold": ["eegnet", "stff_da", "msc_t3am"], "loso": ["eegnet", "stff_da"]}
#: The sensorimotor channels over the hand areas (3 rows x 7 around C3, Cz, C4).
SENSORIMOTOR = ["FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
                "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6"]


def config():
    return dict(
        dataset="eegmmidb",
        task=["left_right_imagined", "left_right_executed"],
        subjects="1-17",
        l_freq=4.0,
        h_freq=30.0,
        resample=80.0,
        tmin=0.0,
        tmax=4.0,
        channels=SENSORIMOTOR,
        alignment="euclidean",
        scheme="subject_group_kfold",
        n_folds=5,
        val_fraction=0.2,
        model="eegnet",
        model_kwargs={"kernel_length": 40},
        batch_size=32,
        max_epochs=40,
        lr=1e-3,
        weight_decay=1e-4,
        schedule="cosine",
        patience=10,
        monitor="val_loss",
        baselines=["csp_lda", "logvar_lr"],
        seed=0,
        checkpoint_every=10,
    )


def run_config(model: str, scheme: str, seeds=(0,), **overrides) -> dict:
    """The config of one (model, scheme) run: this file's ``config()`` with the model's and the
    scheme's keys; several seeds become members of one program (``grid={"seed": seeds}``)."""
    cfg = {**config(), **MODELS[model], **SCHEMES[scheme], **overrides}
    seeds = [int(s) for s in seeds]
    if len(seeds) > 1:
        cfg["grid"] = {"seed": seeds}
    else:
        cfg["seed"] = seeds[0]
    return cfg


def run_all(out, plan: dict, seeds=(0,), overrides=None, log=print) -> dict:
    """Run every (scheme, model) of ``plan`` (``{scheme: [model, ...]}``) not yet finished, in
    ``out/<scheme>/<model>``.

    Returns ``{scheme: {model: metrics}}``. An interrupted run resumes from its checkpoints; a
    finished one is read back. Errors are raised (the configuration is checked for every run
    before any data are read)."""
    import json
    from pathlib import Path

    from jeeg.config import make_config
    from jeeg.cv import CVRun
    from jeeg.rundir import prepare_out_dir
    from jeeg.validate import validate

    configs = {(s, m): make_config(run_config(m, s, seeds, **(overrides or {})), f"{s}/{m}")
               for s, models in plan.items() for m in models}
    for cfg in configs.values():  # every planned run, whole (model, data, chain), before the first starts
        validate(cfg, sweep=bool(cfg.grid))
    results: dict = {}
    for (scheme, model), cfg in configs.items():
        run = Path(out) / scheme / model
        if not (run / "metrics.json").exists():
            resume = (run / "config.json").exists()
            log(f"[{scheme}] {model}: {'resuming' if resume else 'training'} -> {run}")
            if not resume:
                prepare_out_dir(run, overwrite=False)
            CVRun(cfg, run, resume=resume).run()
        results.setdefault(scheme, {})[model] = json.loads((run / "metrics.json").read_text())
    return results


def summarise(results: dict) -> tuple[str, dict]:
    """Markdown tables and their numbers: per scheme and task, every network and baseline's
    mean ± std over subjects, its per-subject balanced accuracy, and the paired Wilcoxon test of
    every network against the best baseline (:func:`jeeg.summary.paired_tests`)."""
    import numpy as np

    from jeeg.report import display_name
    from jeeg.summary import paired_tests

    keys = ("balanced_accuracy", "accuracy", "cohen_kappa", "f1_weighted")
    lines, data = [], {}
    for scheme, by_model in results.items():
        for task in next(iter(by_model.values()))["tasks"]:
            per_subject, stats, order = {}, {}, []
            baselines = list(next(iter(by_model.values()))["models"][1:])
            for model, m in by_model.items():
                for name in (model, *baselines):
                    if name in per_subject:
                        continue
                    per_subject[name] = {int(s): v for s, v in m["per_subject"][task][name].items()}
                    stats[name] = m["aggregate"][task][name]["over_subjects"]
                    order.append(name)
            networks = [n for n in order if n not in baselines]
            tests = paired_tests({n: {s: v["balanced_accuracy"] for s, v in ps.items()} for n, ps in per_subject.items()},
                                 networks, baselines, "balanced_accuracy")
            subjects = sorted({s for ps in per_subject.values() for s in ps})
            data[f"{scheme}/{task}"] = {"stats": stats, "per_subject": per_subject, "tests": tests}
            lines += [f"### {task}, {scheme} ({len(subjects)} subjects)", "",
                      "| Model | Bal. acc. % | Accuracy % | Kappa | F1 weighted % | vs best baseline | p (Wilcoxon) |",
                      "|---|---|---|---|---|---|---|"]
            by_test = {t["model"]: t for t in tests["tests"]}
            for name in order:
                s = stats[name]
                cells = [display_name(name)]
                for k in keys:
                    scale, dig = (1, 2) if k == "cohen_kappa" else (100, 1)
                    cells.append(f"{scale * s[k]['mean']:.{dig}f} ± {scale * s[k]['std']:.{dig}f}")
                t = by_test.get(name)
                if t and t["mean_difference"] is not None:
                    cells += [f"{100 * t['mean_difference']:+.1f} ({t['wins']}/{t['losses']}/{t['ties']})",
                              "n/a" if t["p_value"] is None else f"{t['p_value']:.3g}"]
                else:
                    cells += ["best baseline" if name == tests["best_baseline"] else "", ""]
                lines.append("| " + " | ".join(cells) + " |")
            lines += ["", "Per subject, balanced accuracy %:", "",
                      "| Model | " + " | ".join(f"S{s:03d}" for s in subjects) + " |", "|" + "---|" * (1 + len(subjects))]
            for name in order:
                lines.append(f"| {display_name(name)} | "
                             + " | ".join(f"{100 * per_subject[name][s]['balanced_accuracy']:.0f}"
                                          if s in per_subject[name] else "" for s in subjects) + " |")
            lines.append("")
    lines.append("vs best baseline: mean difference in balanced accuracy, points (subjects higher/lower/tied); "
                 "p: paired Wilcoxon signed-rank test over subjects, two-sided.")
    lines += ["", "### Training of the networks", "",
              "| Scheme | Model | Folds | Median selected epoch (1-based) | Median last epoch | "
              "Folds predicting one class for every test trial |", "|---|---|---|---|---|---|"]
    for scheme, by_model in results.items():
        for model, m in by_model.items():
            recs = [r for r in m["folds"] if r["model"] == model]
            one_class = sum(int(np.sum(np.sum(r["confusion_matrix"], 0) > 0) == 1) for r in recs)
            row = {"folds": len(recs), "median_best_epoch": float(np.median([r["best_epoch"] + 1 for r in recs])),
                   "median_stopped_epoch": float(np.median([r["stopped_epoch"] + 1 for r in recs])),
                   "one_class_folds": one_class}
            data.setdefault("training", {}).setdefault(scheme, {})[model] = row
            lines.append(f"| {scheme} | {display_name(model)} | {row['folds']} | {row['median_best_epoch']:g} | "
                         f"{row['median_stopped_epoch']:g} | {one_class} |")
    return "\n".join(lines), data


def run_times(out, plan: dict) -> dict:
    """``{scheme/model: minutes}`` from each run's start (its config.json) to its metrics.json."""
    import datetime as dt
    import json
    from pathlib import Path

    times = {}
    for scheme, models in plan.items():
        for model in models:
            run = Path(out) / scheme / model
            if (run / "metrics.json").exists():
                start = dt.datetime.fromisoformat(json.loads((run / "config.json").read_text())["environment"]["date"])
                times[f"{scheme}/{model}"] = round(((run / "metrics.json").stat().st_mtime - start.timestamp()) / 60, 1)
    return times


def main(argv=None) -> int:
    import argparse
    import json
    import time
    from pathlib import Path

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder of the runs (one per scheme and model)")
    p.add_argument("--models", help=f"comma-separated subset of {', '.join(MODELS)} (with --schemes: their product; "
                   "default: the DEFAULT_PLAN)")
    p.add_argument("--schemes", help=f"comma-separated subset of {', '.join(SCHEMES)}")
    p.add_argument("--subjects", help="subjects, e.g. 1-17 (default) or 1-109 with --download")
    p.add_argument("--max-epochs", type=int, dest="max_epochs")
    p.add_argument("--seeds", default="0", help="seeds trained as members of one program, e.g. 0,1,2")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--download", action="store_true", help="let MNE download missing recordings")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key of every run (repeatable), e.g. patience=30")
    args = p.parse_args(argv)
    if args.models is None and args.schemes is None:
        plan = DEFAULT_PLAN
    else:
        models = args.models.split(",") if args.models else list(MODELS)
        schemes = args.schemes.split(",") if args.schemes else list(SCHEMES)
        plan = {s: models for s in schemes}
    models = sorted({m for ms in plan.values() for m in ms})
    schemes = list(plan)
    if bad := [m for m in models if m not in MODELS] + [s for s in schemes if s not in SCHEMES]:
        p.error(f"unknown model(s)/scheme(s) {bad}; models: {', '.join(MODELS)}; schemes: {', '.join(SCHEMES)}")
    overrides = {k: getattr(args, k) for k in ("subjects", "max_epochs", "data_dir") if getattr(args, k) is not None}
    if args.download:
        overrides["download"] = True
    t0 = time.time()
    from jeeg.config import parse_overrides
    from jeeg.errors import JeegError

    try:
        overrides.update(parse_overrides(args.set))
        results = run_all(args.out, plan, args.seeds.split(","), overrides,
                          log=lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True))
    except JeegError as e:
        print(f"jeeg: error: {e}", flush=True)
        return 2
    text, data = summarise(results)
    times = run_times(args.out, plan)
    text += (f"\n\nRun times (start to metrics.json), minutes: " + ", ".join(f"{k} {v:g}" for k, v in times.items())
             + f"; {sum(times.values()):.1f} in all.\n")
    Path(args.out, "summary.md").write_text(text)
    from jeeg.host import environment, git_commit

    Path(args.out, "summary.json").write_text(json.dumps(
        {"wall_s_this_invocation": time.time() - t0, "commit": git_commit(), "environment": environment(),
         "plan": plan, "run_minutes": times, **data}, indent=2))
    print(text)
    print(f"wall time {time.time() - t0:.0f} s; runs and summary in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
