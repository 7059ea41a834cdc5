"""The one recipe from a configuration and a dataset to what the engine trains.

:func:`input_maps` (the channel derivations the model and the teacher are fed),
:func:`model_inputs_for` (the trials in the model's representation) and :func:`build_trainer`
(a :class:`jeeg.engine.Trainer`, or a :class:`jeeg.engine.DistillTrainer` for a distillation
run) are what cross-validation (:class:`jeeg.cv.CVRun`), the final models
(:func:`jeeg.final.train_final`), ``jeeg evaluate`` and validation (:mod:`jeeg.validate`) call,
so that they build the same thing the same way.
"""

from __future__ import annotations

import numpy as np

from jeeg.config import CVConfig
from jeeg.engine import DistillTrainer, TrainConfig, Trainer
from jeeg.errors import ConfigError
from jeeg.representations import derivation_matrix, model_inputs


def input_maps(cfg: CVConfig, ch_names) -> dict[str, np.ndarray | None]:
    """The model's and the teacher's input maps (``model_channels`` / ``teacher_channels``;
    ``None``: every channel as it is), each of shape (n_inputs, n_chans).

    Raises
    ------
    ConfigError
        A channel spec the recording cannot give, or channel specs with a representation other
        than the raw trials.
    """
    out: dict[str, np.ndarray | None] = {"model": None, "teacher": None}
    for who, key in (("model", "model_channels"), ("teacher", "teacher_channels")):
        specs = getattr(cfg, key)
        if specs:
            if cfg.representation != "raw":
                raise ConfigError(f"{key} selects channels of the raw trials; representation={cfg.representation!r} "
                                  "takes every channel")
            out[who] = derivation_matrix(ch_names, specs, key)
    return out


def model_inputs_for(cfg: CVConfig, ds) -> np.ndarray:
    """The dataset's trials in the configuration's representation (:func:`jeeg.representations.model_inputs`
    with ``cfg.representation``, ``cfg.standardize`` and ``cfg.representation_kwargs``).

    ``ds`` is an :class:`jeeg.data.EpochsDataset` (X (trials, n_chans, n_times) in µV, ``sfreq``
    in Hz, ``ch_names``). Returns float32 (trials, *input_shape)."""
    return model_inputs(cfg.representation, ds.X, ds.sfreq, ds.ch_names, standardize=cfg.standardize,
                        **cfg.representation_kwargs)


def build_trainer(cfg: CVConfig, ds, *, batch_size: int, n_train_pad: int, n_eval_pad: int,
                  train_config: TrainConfig | None = None, plain: bool = False) -> Trainer:
    """The trainer of ``cfg``'s model on ``ds``'s trials: a :class:`jeeg.engine.DistillTrainer`
    when the run distils (``cfg.distill`` ``"offline"`` or ``"online"``) unless ``plain``, else a
    :class:`jeeg.engine.Trainer`.

    Parameters
    ----------
    cfg : CVConfig
    ds : EpochsDataset
        Gives ``n_chans``, ``n_classes``, ``n_times``, ``sfreq`` (Hz) and ``ch_names``.
    batch_size, n_train_pad, n_eval_pad : int
        Mini-batch size and the padded lengths of every member's training and evaluation parts
        (one compiled program serves members of these sizes).
    train_config : TrainConfig, optional
        Default ``cfg.train_config()``.
    plain : bool
        The model alone, even in a distillation run (``jeeg evaluate`` applies a trained student).

    Raises
    ------
    ConfigError
        See :func:`input_maps` and the trainers.
    """
    tcfg = cfg.train_config() if train_config is None else train_config
    maps = input_maps(cfg, ds.ch_names)
    data = (ds.n_chans, ds.n_classes, ds.n_times, ds.sfreq, tcfg)
    shapes = dict(batch_size=batch_size, n_train_pad=n_train_pad, n_eval_pad=n_eval_pad)
    if cfg.distill == "none" or plain:
        return Trainer(cfg.model, dict(cfg.model_kwargs), *data, input_map=maps["model"], **shapes)
    return DistillTrainer(
        cfg.model, dict(cfg.model_kwargs), cfg.teacher, dict(cfg.teacher_kwargs), *data, mode=cfg.distill,
        temperature=cfg.kd_temperature, kd_weight=cfg.kd_weight, reduction=cfg.kd_reduction,
        t_squared=cfg.kd_t_squared, ce_weight=cfg.kd_ce_weight, loss=cfg.kd_loss, at_normalise=cfg.at_normalise,
        input_map=maps["model"], teacher_input_map=maps["teacher"], **shapes,
    )
