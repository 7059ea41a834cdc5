"""SST-EmotionNet on EEGMMIDB: differential-entropy and temporal maps on the 64-channel montage's grid.

Command::

    jeeg cv experiments/sst_emotionnet_eegmmidb.py --out runs/sst_eegmmidb

The same trials, folds and seed as the main job (``experiments/stff_da_eegmmidb.py``: all 17
subjects, imagined and executed left vs right fist, within-subject stratified 5-fold with 20 %
validation), so SST-EmotionNet's folds are STFF-DA's. Inputs (``representation=sst_grid``,
:func:`jeeg.representations.sst_grid_inputs`): per trial, the differential entropy of δ θ α β γ
(1-50 Hz, hence the 1-50 Hz band-pass here instead of the main job's 4-40 Hz) over the 4-s
window, z-scored over channels, and 25 temporal frames of the z-scored trial; each channel at
its cell of a 9 x 9 layout made for EEGMMIDB's montage (``jeeg.grids.montage_grid``),
interpolated to 32 x 32 (cubic). Model: the official Keras variant of SST-EmotionNet (Jia et
al., ACM MM 2020, doi 10.1145/3394171.3413724, Sec. 3; code github.com/ziyujia/SST-EmotionNet @
187e03f, ``model/model.py`` with ``config/SEED.ini``).

Departures from the reference's training (Adam lr 1e-4, batch 64, 50 epochs on SEED's thousands
of 1-s samples): a subject here has 29 training trials, so batch 64 would be one update per
epoch; batch 16 and lr 1e-3 (AdamW, weight decay 1e-4) as for STFF-DA, 50 epochs, patience 20.

Baselines: CSP+LDA and LogVar+LR as in the main job, but on this run's 1-50 Hz signals, and DE+LR
(``de_lr``: the five DE values of every channel over the trial, standardised, into logistic
regression), the classical baseline on the features the spatial-spectral stream sees.

Result (2026-11-27, 2-core x86-64 CPU, no GPU, jax 0.10.2; SST-EmotionNet, CSP+LDA and LogVar+LR
at commit 23affe0, one fold after another; DE+LR added to the same run directory at 9116d4c with
``--resume``, which left every earlier record unchanged). The 170 SST-EmotionNet folds took about
100 min of the cores (median 30 s a fold), part of it shared with other jobs. Balanced accuracy
%, mean ± std over the 17 subjects (each the mean of its 5 folds), imagined / executed:

* SST-EmotionNet 50.1 ± 2.0 / 51.0 ± 2.5 (accuracy 50.3 / 50.1, kappa 0.00 / 0.02, macro F1
  36.1 / 36.2);
* DE+LR 57.7 ± 12.9 / 59.0 ± 12.3; LogVar+LR 58.6 ± 10.4 / 62.5 ± 11.0; CSP+LDA 54.2 ± 12.1 /
  58.2 ± 15.9.

SST-EmotionNet is at chance. In 65 of 85 imagined and 68 of 85 executed folds the selected network
predicts one class for every test trial (hence macro F1 near 36 %); the epoch chosen on the
7-trial validation loss is early (median 7 / 4, median stop 27 / 24). The features carry the
classes: DE+LR, on the same trials' DE values (per channel, before the grid and the per-trial
z-score over channels), beats SST-EmotionNet on 14 / 12 of the 17 subjects (paired Wilcoxon
signed-rank test over subjects, p = 0.025 / 0.017). What fails is fitting a 519,162-parameter network, made
for SEED's thousands of samples per subject, on 29 training trials. Beside STFF-DA on the same
folds (the main job, rerun at fba8cf5, which reproduced its README table to every printed digit):
5.4 / 6.2 points of balanced accuracy lower, STFF-DA higher on 12 / 11 subjects, p = 0.051 / 0.059.
The README's main-job section has the table.
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
