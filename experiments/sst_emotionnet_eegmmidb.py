"""SST-EmotionNet on EEGMMIDB: differential-entropy and temporal maps on the 64-channel montage's grid.

Command::

    jeeg cv experiments/sst_emotionnet_eegmmidb.py --out runs/sst_eegmmidb

The same trials, folds and seed as the main job (``experiments/stff_da_eegmmidb.py``: all 17
subjects, imagined and executed left vs right fist, within-subject stratified 5-fold with 20 %
validation), so SST-EmotionNet's folds are STFF-DA's. Inputs (``representation=sst_grid``,
:func:`jeeg.representations.sst_grid_inputs`): per trial, the differential entropy of δ θ α β γ
(1-50 Hz, hence the 1-50 Hz band-pass here instead of the main job's 4-40 Hz) over the 4-s
window, z-scored over channels, and 25 temporal frames of the z-scored trial; each channel at its
cell of a 9 x 9 layout made for EEGMMIDB's montage (``jeeg.grids.montage_grid``), interpolated
to 32 x 32 (cubic). Model: the official (Keras) variant of architectures.md §2.

Departures from the reference's training (Adam lr 1e-4, batch 64, 50 epochs on SEED's thousands
of 1-s samples): a subject here has 29 training trials, so batch 64 would be one update per
epoch; batch 16 and lr 1e-3 (AdamW, weight decay 1e-4) as for STFF-DA, 50 epochs, patience 20.

Result: not run yet. Cost on the 2-core x86-64 CPU here (2026-11-27, measured with three other
jobs on the cores): one batch-16 gradient step of the 32 x 32 model takes 0.63 s and the first
compile 41 s, so a fold (2 steps an epoch, 21-50 epochs) takes about 0.5-1 min and the 170 folds
about 2-3 hours with the cores to itself. It runs after the MSC-T3AM experiment, which holds the
cores until then; its table will go into the README with date and hardware.
"""


def config():
    return dict(
        dataset="eegmmidb",
        task=["left_right_imagined", "left_right_executed"],
        subjects="1-17",
        l_freq=1.0,
        h_freq=50.0,
        tmin=0.0,
        tmax=4.0,
        scheme="within_subject_stratified",
        n_folds=5,
        val_fraction=0.2,
        model="sst_emotionnet",
        model_kwargs={"grid_shape": [32, 32], "variant": "official"},
        representation="sst_grid",
        representation_kwargs={"grid_shape": [32, 32], "n_frames": 25},
        batch_size=16,
        max_epochs=50,
        lr=1e-3,
        weight_decay=1e-4,
        schedule="cosine",
        patience=20,
        monitor="val_loss",
        baselines=["csp_lda", "logvar_lr", "de_lr"],
        seed=0,
    )
