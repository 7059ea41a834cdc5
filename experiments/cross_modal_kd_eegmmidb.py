"""Cross-modal distillation on EEGMMIDB: a 64-channel EEG U-Time teacher into a single-lead student.

The machinery of the sleep-staging distillation of Joshi et al. (arXiv 2112.07252, 2021; IEEE
MeMeA 2022, arXiv 2211.13125; code github.com/acrophase/Sleep_Staging_KD @ e40bcef: an EEG
teacher distilled into a single-lead ECG student) on the real recordings available here: the
teacher sees all 64 EEG channels, the student one bipolar lead, C3 − C4 (the classic
motor-imagery derivation; a stand-in for the single ECG lead). Both are Joshi et al.'s modified
1-D U-Time (Perslev et al., NeurIPS 2019, arXiv 1910.11162, with ReLU before BatchNorm; code
``4_class/models/``): ``model=utime``, one segment = the whole 4-s trial. Each stage is one
``jeeg cv`` run; later stages read the orbax checkpoints of earlier ones (``teacher_run``,
``init_run``)::

    jeeg cv experiments/cross_modal_kd_eegmmidb.py --sequential --set model_channels= --out runs/xkd/teacher
    jeeg cv experiments/cross_modal_kd_eegmmidb.py --sequential --out runs/xkd/student
    jeeg cv experiments/cross_modal_kd_eegmmidb.py --sequential --set distill=offline \
        --set teacher_run=runs/xkd/teacher --set kd_weight=0.5 --set kd_ce_weight=0.5 \
        --set kd_temperature=1 --set kd_t_squared=true --out runs/xkd/kd
    jeeg cv experiments/cross_modal_kd_eegmmidb.py --sequential --set distill=offline \
        --set teacher_run=runs/xkd/teacher --set kd_loss=features --out runs/xkd/feat
    jeeg cv experiments/cross_modal_kd_eegmmidb.py --sequential --set init_run=runs/xkd/feat --out runs/xkd/feat_ce
    jeeg cv experiments/cross_modal_kd_eegmmidb.py --sequential --set init_run=runs/xkd/feat \
        --set distill=offline --set teacher_run=runs/xkd/teacher --set kd_weight=0.5 --set kd_ce_weight=0.5 \
        --set kd_temperature=1 --set kd_t_squared=true --out runs/xkd/feat_kd

or every stage in order, resuming what is unfinished, with the summary table (weighted F1 first)::

    python experiments/cross_modal_kd_eegmmidb.py --out runs/xkd [--subjects 1-5] [--task ...] [--max-epochs N]

Stages (Joshi et al.'s names; code ``4_class/models/*.py``): ``teacher`` (EEG_base: 64
channels), ``student`` (ECG_base: C3-C4 alone), ``kd`` (KD_temp, SD+CL: α·T²·KL + (1−α)·CE,
α = 0.5, T = 1, KLDivLoss 'mean'), ``feat`` (attention transfer, Zagoruyko & Komodakis, ICLR
2017, arXiv 1612.03928, eq. 2, on the five U-Time feature groups, teacher frozen, per-sample
normalisation; its checkpoint is the epoch of least validation feature loss), ``feat_ce``
(Feat_WCE, AT+CL: from ``feat``, then CE), ``feat_kd`` (Feat_Temp, AT+SD+CL, the proposed
method: from ``feat``, then the KD loss).

Split: subject-wise, as Joshi et al. (who split the MASS subjects 80/10/10; code
``Dataset_split/``): ``subject_group_kfold``, 5 folds over the 17 subjects, each test fold 3-4
unseen subjects, 20 % of the training subjects held out for validation; every subject is tested
once. Imagined left vs right fist, 45 trials per subject (765 in all).

Departures from Joshi et al.'s setup (code ``4_class/train.py``): EEGMMIDB motor imagery instead
of MASS sleep (no PSG signals here); 5 subject folds instead of one 80/10/10 split; batch 64
instead of 256 (about 480 training trials per fold); 30 epochs with patience 10 on the
validation loss instead of 150 epochs checkpointed on validation weighted F1; 8-30 Hz band-pass
and per-trial z-score instead of per-epoch min-max scaling (the sleep recipe of
:mod:`jeeg.data.sleep` applies to the sleep datasets). Adam lr 1e-3 as the reference (AdamW,
weight decay 0, constant rate).

Result: 2026-11-30, commit 7b33892, the 2-core AMD EPYC CPU here with nothing else running, no
GPU, jax 0.10.2, ``python experiments/cross_modal_kd_eegmmidb.py --out runs/xkd`` (all 6 stages,
17 subjects, 18 min wall). Mean ± std over the 17 subjects, each tested once in its fold
(``summary.md``)::

    stage                                              F1 weighted %  accuracy %   kappa
    EEG teacher, 64 channels (EEG_base)                 39.3 ± 7.7    50.6 ± 4.1    0.01 ± 0.07
    CSP+LDA, 64 channels                                46.2 ± 13.1   54.4 ± 8.6    0.09 ± 0.16
    C3-C4 student alone (ECG_base)                      37.5 ± 7.5    49.9 ± 2.8    0.01 ± 0.04
    student + KD (KD_temp: SD+CL)                       36.4 ± 5.7    50.1 ± 4.0    0.00 ± 0.07
    student after attention transfer only (AT)          38.1 ± 7.2    49.7 ± 3.5   -0.01 ± 0.06
    AT, then CE (Feat_WCE: AT+CL)                       45.5 ± 9.4    50.2 ± 7.1    0.01 ± 0.14
    AT, then KD (Feat_Temp: AT+SD+CL, proposed)         44.4 ± 10.0   48.6 ± 9.7   -0.02 ± 0.19

Every network is at chance (accuracy 48.6-50.6 %, kappa ≈ 0): the U-Time teacher itself does not
learn cross-subject imagined left/right on 17 subjects (its epoch is selected at 0 in 4 of 5
folds), so there is nothing to distil, and the differences in weighted F1 (36-46 %) only reflect
how unevenly each network splits its predictions between the two classes, not skill. CSP+LDA
reaches 54 %. The machinery runs end to end on real data; a KD effect needs a teacher that
learns (Joshi et al.'s sleep-staging setting, e.g. ``dataset=slpdb`` with its signals downloaded).
"""

from __future__ import annotations

STUDENT_LEAD = ["C3-C4"]
KD_TEMP = {"distill": "offline", "kd_weight": 0.5, "kd_ce_weight": 0.5, "kd_temperature": 1.0, "kd_t_squared": True}


def config():
    return dict(
        dataset="eegmmidb",
        task=["left_right_imagined"],
        subjects="1-17",
        l_freq=8.0,
        h_freq=30.0,
        tmin=0.0,
        tmax=4.0,
        scheme="subject_group_kfold",
        n_folds=5,
        val_fraction=0.2,
        model="utime",
        model_channels=list(STUDENT_LEAD),
        teacher="utime",
        batch_size=64,
        max_epochs=30,
        lr=1e-3,
        weight_decay=0.0,
        schedule="constant",
        patience=10,
        monitor="val_loss",
        baselines=[],
        seed=0,
    )


#: Stage → (config keys changed from ``config()``, the stages it reads: teacher_run, init_run).
STAGES = {
    "teacher": ({"model_channels": [], "baselines": ["csp_lda"]}, {}),
    "student": ({}, {}),
    "kd": (dict(KD_TEMP), {"teacher_run": "teacher"}),
    "feat": ({"distill": "offline", "kd_loss": "features"}, {"teacher_run": "teacher"}),
    "feat_ce": ({}, {"init_run": "feat"}),
    "feat_kd": (dict(KD_TEMP), {"teacher_run": "teacher", "init_run": "feat"}),
}
STAGE_LABELS = {
    "teacher": "EEG teacher, 64 channels (EEG_base)",
    "student": "C3-C4 student alone (ECG_base)",
    "kd": "student + KD (KD_temp: SD+CL)",
    "feat": "student after attention transfer only (AT)",
    "feat_ce": "AT, then CE (Feat_WCE: AT+CL)",
    "feat_kd": "AT, then KD (Feat_Temp: AT+SD+CL, proposed)",
}


def stage_config(stage: str, out, **overrides) -> dict:
    """The full config of one stage; ``out`` is the folder holding every stage's run."""
    from pathlib import Path

    keys, reads = STAGES[stage]
    return {**config(), **keys, **{k: str(Path(out) / v) for k, v in reads.items()}, **overrides}


def run_stages(out, stages, overrides: dict, log=print) -> None:
    """Run every stage not yet finished, in order, in ``out/<stage>`` (an interrupted one resumes)."""
    from pathlib import Path

    from jeeg.config import make_config
    from jeeg.cv import CVRun
    from jeeg.rundir import prepare_out_dir

    for stage in stages:
        run = Path(out) / stage
        if (run / "metrics.json").exists():
            continue
        resume = (run / "config.json").exists()
        log(f"{stage}: {'resuming' if resume else 'training'} -> {run}")
        if not resume:
            prepare_out_dir(run, overwrite=False)
        CVRun(make_config(stage_config(stage, out, max_members=1, **overrides), f"stage {stage}"), run, resume=resume).run()


def summarise(out) -> str:
    """Markdown table: weighted F1 (primary), accuracy and Cohen's kappa, mean ± std over subjects."""
    import json
    from pathlib import Path

    from jeeg.report import model_label

    lines = ["| Task | Stage | F1 weighted % | Accuracy % | Kappa |", "|---|---|---|---|---|"]
    for stage in STAGES:
        path = Path(out) / stage / "metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        for task, by_model in m["aggregate"].items():
            for model, agg in by_model.items():
                s = agg["over_subjects"]
                label = STAGE_LABELS[stage] if model == m["models"][0] else model_label(m, model)
                lines.append(f"| {task} | {label} | {100 * s['f1_weighted']['mean']:.1f} ± {100 * s['f1_weighted']['std']:.1f} "
                             f"| {100 * s['accuracy']['mean']:.1f} ± {100 * s['accuracy']['std']:.1f} "
                             f"| {s['cohen_kappa']['mean']:.2f} ± {s['cohen_kappa']['std']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    import time
    from pathlib import Path

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--subjects")
    p.add_argument("--task", help="comma-separated task(s)")
    p.add_argument("--max-epochs", type=int, dest="max_epochs")
    p.add_argument("--data-dir", dest="data_dir")
    args = p.parse_args()
    overrides = {k: getattr(args, k) for k in ("subjects", "max_epochs", "data_dir") if getattr(args, k) is not None}
    if args.task:
        overrides["task"] = args.task.split(",")
    t0 = time.time()
    run_stages(args.out, args.stages.split(","), overrides,
               log=lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True))
    text = summarise(args.out)
    Path(args.out, "summary.md").write_text(text + "\n")
    print(text)
    print(f"wall time {time.time() - t0:.0f} s")
