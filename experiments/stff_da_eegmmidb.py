"""STFF-DA vs CSP+LDA vs log-variance LR on PhysioNet EEGMMIDB, left vs right fist.

Command (the README's main job)::

    jeeg cv experiments/stff_da_eegmmidb.py --out runs/stff_da_eegmmidb

Protocol: all 17 subjects present in ../shared/data (S001-S017), imagined (runs 4, 8, 12) and
executed (runs 3, 7, 11) left vs right fist as two tasks, 45 trials per subject and task; within-
subject stratified 5-fold cross-validation, 20 % of each training side held out for validation
(early stopping and epoch selection), the test fold scored once. 64 channels, 160 Hz, 4-40 Hz
FIR band-pass, window 0-4 s after the cue (640 samples), per-trial channel-wise z-score for
STFF-DA; CSP+LDA and LogVar+LR see µV and are fitted on the whole training side.

Departures from the STFF-DA defaults of architectures.md §3 (batch 64, 200 epochs, patience 30),
because a subject has only 45 trials per task (29 in a training part): with batch 64 every epoch
is ONE update and the network stayed at chance (training loss 0.69 after 50 updates, measured on
S001). Batch 16 gives 2 updates per epoch; 100 epochs with patience 20 keep the 170 folds within
about an hour on 2 CPU cores.

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
