"""STFF-DA vs CSP+LDA vs log-variance LR on PhysioNet EEGMMIDB, left vs right fist.

Command (the README's main job)::

    jeeg cv experiments/stff_da_eegmmidb.py --out runs/stff_da_eegmmidb

Protocol: all 17 subjects present in ../shared/data (S001-S017), imagined (runs 4, 8, 12) and
executed (runs 3, 7, 11) left vs right fist as two tasks, 45 trials per subject and task; within-
subject stratified 5-fold cross-validation, 20 % of each training side held out for validation
(early stopping and epoch selection), the test fold scored once. 64 channels, 160 Hz, 4-40 Hz
FIR band-pass, window 0-4 s after the cue (640 samples), per-trial channel-wise z-score for
STFF-DA; CSP+LDA and LogVar+LR see µV and are fitted on the whole training side.

Departures from jeeg's STFF-DA defaults (batch 64, 200 epochs, patience 30; the STFF-DA paper
has no public code, so they are jeeg's own choice after EEGNet, Lawhern et al., J. Neural Eng.
2018, doi 10.1088/1741-2552/aace8c, and ACRNN, Tao et al., IEEE Trans. Affective Comput. 2020,
doi 10.1109/TAFFC.2020.3025777), because a subject has only 45 trials per task (29 in a training
part): with batch 64 every epoch is ONE update and the network stayed at chance (training loss
0.69 after 50 updates, measured on S001). Batch 16 gives 2 updates per epoch; 100 epochs with
patience 20 keep the 170 folds within about an hour on 2 CPU cores.

Result: 2026-11-27, 2-core x86-64 CPU, no GPU, jax 0.10.2;
measured at commit cf462ec, where `jeeg cv` trained one fold after another as `--sequential`
does now; wall time 57 min. Mean ± std over the 17 subjects
(each subject: mean of its 5 folds)::

    | Task | Model | Accuracy % | Bal. acc. % | Kappa | F1 macro % | F1 weighted % |
    |---|---|---|---|---|---|---|
    | left_right_imagined | STFF-DA | 55.0 ± 11.1 | 55.6 ± 10.7 | 0.11 ± 0.21 | 45.6 ± 14.4 | 45.6 ± 14.8 |
    | left_right_imagined | CSP+LDA | 59.7 ± 15.1 | 59.7 ± 15.3 | 0.19 ± 0.31 | 57.9 ± 16.1 | 58.2 ± 15.9 |
    | left_right_imagined | LogVar+LR | 59.5 ± 9.2 | 59.5 ± 9.3 | 0.19 ± 0.18 | 57.6 ± 9.6 | 58.0 ± 9.5 |
    | left_right_executed | STFF-DA | 56.7 ± 11.0 | 57.2 ± 11.0 | 0.14 ± 0.22 | 49.0 ± 14.3 | 49.1 ± 14.4 |
    | left_right_executed | CSP+LDA | 59.6 ± 12.2 | 59.6 ± 12.0 | 0.19 ± 0.24 | 58.1 ± 12.6 | 58.4 ± 12.7 |
    | left_right_executed | LogVar+LR | 62.7 ± 11.3 | 63.0 ± 11.4 | 0.26 ± 0.23 | 61.4 ± 11.6 | 61.6 ± 11.6 |

STFF-DA stays below both classical baselines here, on both tasks. Three things we saw in the
per-fold records (`metrics.json`) explain most of it. Each subject has only 45 trials per task,
so a training part holds 29 trials and the validation part 7. In 79 of the 170 STFF-DA folds
(46 %) the selected network predicts one class for every test trial (balanced accuracy exactly
50 %): that is why macro F1 (45–49 %) is far below accuracy. The epoch is chosen on a 7-trial
validation loss, so the choice is noisy; the median selected epoch is 16 and the median stop 36.
The STFF-DA paper trains on the larger BCI IV datasets. This table is the honest
within-subject protocol on small data, not a reproduction of the paper's numbers. The wall time
includes other test runs that shared the 2 cores for about half of the run.
"""


def config():
    return dict(
        dataset="eegmmidb",
        task=["left_right_imagined", "left_right_executed"],
        subjects="1-17",
        l_freq=4.0,
        h_freq=40.0,
        tmin=0.0,
        tmax=4.0,
        scheme="within_subject_stratified",
        n_folds=5,
        val_fraction=0.2,
        model="stff_da",
        batch_size=16,
        max_epochs=100,
        lr=1e-3,
        weight_decay=1e-4,
        schedule="cosine",
        patience=20,
        monitor="val_loss",
        baselines=["csp_lda", "logvar_lr"],
        seed=0,
    )
