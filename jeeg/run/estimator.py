"""A scikit-learn estimator on jeeg's compiled engine: :class:`EEGClassifier`.

It takes trials as a numpy array (n_trials, n_chans, n_times) in µV or an ``mne.Epochs`` (whose
``n_chans``, ``n_times``, ``sfreq`` and ``ch_names`` it reads), trains one of jeeg's networks with
early stopping on a validation part, and predicts with the mean probability of ``n_seeds``
networks trained as members of one compiled program. It follows scikit-learn's estimator contract
(``get_params``/``set_params``/``clone``, ``classes_`` in the user's label type) and braindecode's
``EEGClassifier`` (Schirrmeister et al. 2017, doi:10.1002/hbm.23730), so MOABB's evaluations,
``cross_val_score`` and ``GridSearchCV`` run it as they run any classifier.

Repeated fits at the same shapes (the folds of ``cross_val_score``, a grid's points of equal
batch size) reuse one compiled program: the engine's trainers are kept by their configuration and
shapes (:func:`cached_trainer`), and every fit's trials are laid out in a block of the same padded
size.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.validation import check_is_fitted

from jeeg.config import CVConfig
from jeeg.data.dataset import EpochsDataset
from jeeg.engine import MemberData, Trainer, member_key
from jeeg.errors import ConfigError, DataError
from jeeg.run.setup import build_trainer, model_inputs_for

#: How many trainers (compiled programs) :func:`cached_trainer` keeps, the most recent first.
MAX_CACHED_TRAINERS = 8
_TRAINERS: OrderedDict[str, Trainer] = OrderedDict()

#: Evaluation parts are padded to a multiple of this many trials (one program for close sizes).
EVAL_BLOCK = 16


def cached_trainer(cfg: CVConfig, ds: EpochsDataset, *, batch_size: int, n_train_pad: int,
                   n_eval_pad: int) -> Trainer:
    """:func:`jeeg.run.setup.build_trainer` for ``cfg`` and ``ds``'s shapes, kept and reused for
    the same configuration, ``n_chans``, ``n_times``, ``sfreq``, class count and padded sizes, so
    that a trainer's compiled programs serve every fit at those shapes."""
    key = json.dumps({"cfg": cfg.to_dict(), "shape": [ds.n_chans, ds.n_times, ds.n_classes, ds.sfreq],
                      "ch_names": list(ds.ch_names), "pads": [batch_size, n_train_pad, n_eval_pad]},
                     sort_keys=True, default=str)
    if key in _TRAINERS:
        _TRAINERS.move_to_end(key)
        return _TRAINERS[key]
    trainer = build_trainer(cfg, ds, batch_size=batch_size, n_train_pad=n_train_pad, n_eval_pad=n_eval_pad)
    _TRAINERS[key] = trainer
    while len(_TRAINERS) > MAX_CACHED_TRAINERS:
        _TRAINERS.popitem(last=False)
    return trainer


def clear_trainer_cache() -> None:
    """Forget every kept trainer (and so its compiled programs)."""
    _TRAINERS.clear()


def _is_epochs(X) -> bool:
    """An ``mne.Epochs``, or a list of them (scikit-learn's indexing of one: a trial each)."""
    if isinstance(X, (list, tuple)):
        return bool(X) and all(_is_epochs(e) for e in X)
    return hasattr(X, "get_data") and hasattr(X, "info") and hasattr(X, "events")


def _round_up(n: int, block: int) -> int:
    return max(block, math.ceil(n / block) * block)


class EEGClassifier(ClassifierMixin, BaseEstimator):
    """One of jeeg's networks as a scikit-learn classifier, trained on the compiled engine.

    Parameters
    ----------
    model : str
        A registered model (:func:`jeeg.models.build_model`): ``"eegnet"`` (Lawhern et al. 2018,
        doi:10.1088/1741-2552/aace8c), ``"stff_da"``, ``"msc_t3am"``, ...
    model_kwargs : dict, optional
        The model's hyper-parameters (e.g. ``{"kernel_length": 64}``).
    sfreq : float, optional
        Sampling frequency in Hz of array input (an ``mne.Epochs`` gives its own; required for arrays).
    max_epochs, batch_size, lr, weight_decay, schedule, patience, monitor
        Training, as the keys of ``jeeg cv`` (:class:`jeeg.engine.TrainConfig`): AdamW with a
        cosine schedule, early stopping after ``patience`` epochs without a better ``monitor``
        on the validation part, the parameters of the selected epoch kept.
    val_fraction : float
        Fraction of the trials held out for validation (0 < val_fraction < 1): stratified by
        class, or, when ``fit`` is given ``groups`` (subjects), whole groups.
    n_seeds : int
        Networks trained from seeds ``seed, seed + 1, ...`` as members of one compiled program;
        ``predict_proba`` averages their probabilities.
    seed : int
        The one seed every key and the validation split derive from.
    standardize : bool
        Z-score every channel of every trial (per trial: nothing is learned across trials).

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        The distinct labels seen by ``fit``, in the user's type, sorted.
    n_chans_, n_times_ : int
    sfreq_ : float
    ch_names_ : tuple of str
    history_ : dict of str → ndarray (n_seeds, n_epochs_run)
        ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` per member.
    best_epoch_ : ndarray int (n_seeds,)
        Selected epoch (0-based) of each member.
    train_indices_, val_indices_ : ndarray int
        The trials of ``X`` trained on and validated on.

    Raises
    ------
    ConfigError
        At ``fit``: an unknown model or option, ``val_fraction`` outside (0, 1), ``n_seeds`` < 1,
        a validation split that cannot be made (too few groups or trials of a class).
    DataError
        At ``fit``/``predict``: trials that are not (n_trials, n_chans, n_times), array input without
        ``sfreq``, or trials of another shape than those fitted.
    """

    def __init__(self, model: str = "eegnet", model_kwargs: dict | None = None, *, sfreq: float | None = None,
                 max_epochs: int = 100, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4,
                 schedule: str = "cosine", patience: int = 30, monitor: str = "val_loss", val_fraction: float = 0.2,
                 n_seeds: int = 1, seed: int = 0, standardize: bool = True):
        self.model = model
        self.model_kwargs = model_kwargs
        self.sfreq = sfreq
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.patience = patience
        self.monitor = monitor
        self.val_fraction = val_fraction
        self.n_seeds = n_seeds
        self.seed = seed
        self.standardize = standardize

    # ------------------------------------------------------------------ configuration
    def _config(self) -> CVConfig:
        if not 0.0 < float(self.val_fraction) < 1.0:
            raise ConfigError(f"EEGClassifier: val_fraction must lie in (0, 1); got {self.val_fraction!r}")
        if int(self.n_seeds) < 1:
            raise ConfigError(f"EEGClassifier: n_seeds must be >= 1; got {self.n_seeds!r}")
        cfg = CVConfig(model=self.model, model_kwargs=dict(self.model_kwargs or {}), batch_size=int(self.batch_size),
                       max_epochs=int(self.max_epochs), lr=float(self.lr), weight_decay=float(self.weight_decay),
                       schedule=self.schedule, patience=int(self.patience), monitor=self.monitor,
                       val_fraction=float(self.val_fraction), seed=int(self.seed), standardize=bool(self.standardize))
        cfg.train_config()  # checks the training options before any data is touched
        return cfg

    def _dataset(self, X, y=None, groups=None, *, fitted: bool = False) -> EpochsDataset:
        if _is_epochs(X):
            ds = EpochsDataset.from_epochs(X, y=np.zeros(len(X), int) if y is None and fitted else y,
                                           subject=1 if groups is None else groups)
        else:
            sfreq = self.sfreq_ if fitted else self.sfreq
            if sfreq is None:
                raise DataError("EEGClassifier: X is an array, so pass sfreq=... (Hz) to the estimator, or fit an "
                                "mne.Epochs, which carries its own")
            Xa = np.asarray(X)
            if Xa.ndim != 3:
                raise DataError(f"EEGClassifier: X must be trials (n_trials, n_chans, n_times) in µV; got shape "
                                f"{Xa.shape}")
            ch = self.ch_names_ if fitted and Xa.shape[1] == self.n_chans_ else None
            ds = EpochsDataset.from_arrays(Xa, np.zeros(len(Xa), int) if y is None else y, sfreq=sfreq, ch_names=ch,
                                           subject=groups)
        if fitted and (ds.n_chans, ds.n_times) != (self.n_chans_, self.n_times_):
            raise DataError(f"EEGClassifier: fitted on trials of {self.n_chans_} channels x {self.n_times_} samples, "
                            f"got {ds.n_chans} x {ds.n_times}")
        return ds

    def _split(self, y_codes: np.ndarray, groups) -> tuple[np.ndarray, np.ndarray]:
        n = len(y_codes)
        try:
            if groups is not None:
                g = np.asarray(groups)
                if len(np.unique(g)) < 2:
                    raise ConfigError("EEGClassifier: groups given with one group only; validation holds out whole "
                                      "groups, so give trials of >= 2 groups (subjects) or no groups")
                split = GroupShuffleSplit(n_splits=1, test_size=self.val_fraction, random_state=int(self.seed))
                tr, va = next(split.split(np.zeros(n), y_codes, g))
            else:
                split = StratifiedShuffleSplit(n_splits=1, test_size=self.val_fraction, random_state=int(self.seed))
                tr, va = next(split.split(np.zeros(n), y_codes))
        except ValueError as e:
            raise ConfigError(f"EEGClassifier: cannot hold out val_fraction={self.val_fraction} of {n} trials for "
                              f"validation: {e}") from None
        return np.sort(tr), np.sort(va)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, y=None, groups=None) -> "EEGClassifier":
        """Train ``n_seeds`` networks on ``X``, selecting each one's epoch on the validation part.

        Parameters
        ----------
        X : ndarray (n_trials, n_chans, n_times) in µV, or mne.Epochs
        y : array_like (n_trials,), optional for Epochs (default: their event names)
        groups : array_like (n_trials,), optional
            Subject (or other group) of each trial: validation then holds out whole groups.
        """
        cfg = self._config()
        if y is None and not _is_epochs(X):
            raise DataError("EEGClassifier.fit: y is required with array input")
        ds = self._dataset(X, y, groups)
        if ds.n_classes < 2:
            raise DataError(f"EEGClassifier.fit: y holds one class only ({ds.class_names[0]!r}); give >= 2")
        labels = np.asarray(y) if y is not None else None
        self.classes_ = np.unique(labels) if labels is not None else np.asarray(ds.class_names)
        tr, va = self._split(ds.y, groups)
        batch = min(cfg.batch_size, len(tr))
        n_train_pad, n_eval_pad = _round_up(len(tr), batch), _round_up(len(va), EVAL_BLOCK)
        trainer = cached_trainer(cfg, ds, batch_size=batch, n_train_pad=n_train_pad, n_eval_pad=n_eval_pad)
        inputs = model_inputs_for(cfg, ds)
        if inputs.shape[1:] != trainer.input_shape:
            raise ConfigError(f"EEGClassifier: {cfg.model} takes trials of shape {trainer.input_shape}; got "
                              f"{inputs.shape[1:]}")
        # One block of fixed size: training trials first, validation trials after, zeros in the padding.
        block = np.zeros((trainer.n_train_pad + trainer.n_eval_pad, *inputs.shape[1:]), np.float32)
        Yb = np.zeros(len(block), np.int32)
        block[: len(tr)], Yb[: len(tr)] = inputs[tr], ds.y[tr]
        off = trainer.n_train_pad
        block[off : off + len(va)], Yb[off : off + len(va)] = inputs[va], ds.y[va]
        part = MemberData(np.arange(len(tr)), off + np.arange(len(va)), off + np.arange(len(va)))
        K = int(self.n_seeds)
        keys = jax.vmap(member_key)(cfg.seed + np.arange(K), np.zeros(K, int))
        res = trainer.fit(block, Yb, [part] * K, keys)
        self.trainer_, self.state_ = trainer, res.state
        self.history_, self.best_epoch_ = res.history, res.best_epoch
        self.failed_ = res.failed
        self.n_chans_, self.n_times_, self.sfreq_, self.ch_names_ = ds.n_chans, ds.n_times, ds.sfreq, ds.ch_names
        self.train_indices_, self.val_indices_ = tr, va
        return self

    def member_proba(self, X) -> np.ndarray:
        """Class probabilities of each of the ``n_seeds`` networks, (n_seeds, n_trials, n_classes)."""
        check_is_fitted(self, "state_")
        ds = self._dataset(X, fitted=True)
        inputs = model_inputs_for(self._config(), ds)
        tr, K, B = self.trainer_, int(self.n_seeds), self.trainer_.n_eval_pad
        out = []
        for s in range(0, len(inputs), B):  # blocks of the trainer's evaluation size: one program
            chunk = np.zeros((B, *inputs.shape[1:]), np.float32)
            part = inputs[s : s + B]
            chunk[: len(part)] = part
            logits = tr.predict(self.state_, chunk, np.arange(B))[:K, : len(part)]
            out.append(np.asarray(jax.nn.softmax(logits, -1)))
        return np.concatenate(out, 1) if out else np.zeros((K, 0, len(self.classes_)), np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """Mean class probabilities of the ``n_seeds`` networks (:meth:`member_proba`),
        (n_trials, n_classes), columns in the order of ``classes_``."""
        return self.member_proba(X).mean(0)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each trial (mean of the members' probabilities), in the type
        of the labels given to ``fit``."""
        return self.classes_[self.predict_proba(X).argmax(1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


__all__ = ["EEGClassifier", "MAX_CACHED_TRAINERS", "cached_trainer", "clear_trainer_cache"]
