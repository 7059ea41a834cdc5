"""STFF-DA vs CSP+LDA vs log-variance LR on PhysioNet EEGMMIDB, left vs right fist.

Command (the README's main job)::

    jeeg cv experiments/stff_da_eegmmidb.py --out runs/stff_da_eegmmidb

Protocol: all 17 subjects present in ../shared/data (S001-S017), imagined (runs 4, 8, 12) and
executed (runs 3, 7, 11) left vs right fist as two tasks, 45 trials per subject and task; within-
subject stratified 5-fold cross-validation, 20 % of each training side held out for validation
(early stopping and epoch selection), the test fold scored once. 64 channels, 160 Hz, 4-40 Hz
FIR band-pass, window 0-4 s after the cue (640 samples), per-trial channel-wise z-score for
STFF-DA; CSP+LDA and LogVar+LR see µV and are fitted on the whole training side.

Result: RESULT_PLACEHOLDER
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
        batch_size=64,
        max_epochs=200,
        lr=1e-3,
        weight_decay=1e-4,
        schedule="cosine",
        patience=30,
        monitor="val_loss",
        baselines=["csp_lda", "logvar_lr"],
        seed=0,
    )
