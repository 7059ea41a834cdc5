"""Knowledge distillation: MSC-T3AM's EEGNet teacher (Yan, Wang & Li, Neural Networks 2025,
doi 10.1016/j.neunet.2025.107806; code github.com/BICN001/MSC-T3AM @ 71cc802, ``net_train.py``) and
the cross-modal sleep-staging stages of Joshi et al. (arXiv 2112.07252, 2211.13125; code
github.com/acrophase/Sleep_Staging_KD @ e40bcef, ``4_class/models/``).

:class:`DistillTrainer` trains teacher + student pairs as members, online (both updated in one
jitted step) or offline (a trained teacher frozen inside the student's step). The student learns
from the teacher's logits (:func:`kd_loss`) or from its intermediate features
(:func:`attention_transfer_loss`); teacher and student may see different channels of the same
trials (cross-modal: a 64-channel EEG teacher, a single-lead student).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jeeg.engine.checkpoint import state_from_flat
from jeeg.engine.loop import MemberState, TrainConfig, _unchunk, _valid_means
from jeeg.engine.trainer import Trainer
from jeeg.errors import ConfigError
from jeeg.models import apply_constraints, build_model

REDUCTIONS = ("reference", "batchmean")
#: What the student learns from: the teacher's logits (:func:`kd_loss`) or its features (:func:`attention_transfer_loss`).
KD_LOSSES = ("logits", "features")
AT_NORMALISE = ("sample", "batch")


def _check_kd_options(temperature: float, reduction: str, loss: str = "logits", at_normalise: str = "sample") -> None:
    if reduction not in REDUCTIONS:
        raise ConfigError(f"kd reduction must be one of {REDUCTIONS}; got {reduction!r}")
    if temperature <= 0:
        raise ConfigError(f"kd temperature must be > 0; got {temperature}")
    if loss not in KD_LOSSES:
        raise ConfigError(f"kd loss must be one of {KD_LOSSES}; got {loss!r}")
    if at_normalise not in AT_NORMALISE:
        raise ConfigError(f"attention-transfer normalisation must be one of {AT_NORMALISE}; got {at_normalise!r}")


def attention_map(feature: jax.Array, normalise: str = "sample", eps: float = 1e-12) -> jax.Array:
    """Spatial attention map of a feature tensor (Zagoruyko & Komodakis, ICLR 2017, eq. 2 with p = 2).

    Parameters
    ----------
    feature : Array, shape (batch, channels, length)
    normalise : {"sample", "batch"}
        L2 normalisation of the map ``a = Σ_c f²``: ``"sample"`` over the positions of each example
        (the standard attention transfer, jeeg's default); ``"batch"`` over the batch axis at each
        position, as the sleep-staging reference code does (``F.normalize(a, dim=0)``).
    eps : float
        Floor of the norm (PyTorch ``F.normalize``'s default).

    Returns
    -------
    Array, shape (batch, length)
    """
    a = jnp.sum(jnp.square(feature), axis=1)
    axis = 1 if normalise == "sample" else 0
    return a / jnp.maximum(jnp.linalg.norm(a, axis=axis, keepdims=True), eps)


def attention_transfer_loss(teacher_features: dict, student_features: dict, normalise: str = "sample",
                            per_sample: bool = False) -> jax.Array:
    """Attention-transfer loss over feature groups (Zagoruyko & Komodakis, "Paying more attention to
    attention", ICLR 2017, arXiv 1612.03928; as Joshi et al.'s "feature training" stage, code
    github.com/acrophase/Sleep_Staging_KD @ e40bcef, ``4_class/models/FEAT_TRAINING.py``).

    For every tensor pair the loss is ``mean |a_T − a_S|`` of the two :func:`attention_map` s;
    tensors are averaged within a group (a list, e.g. the five encoder outputs of U-Time), then
    the groups are averaged. The teacher's features are wrapped in ``stop_gradient``.

    Parameters
    ----------
    teacher_features, student_features : dict
        Group name → Array (batch, channels, length) or list of them, the same groups and lengths
        in both (channel counts may differ: the map sums over channels).
    normalise : {"sample", "batch"}
        See :func:`attention_map`.
    per_sample : bool
        Return each example's loss (its mean over the batch is the loss).

    Returns
    -------
    Array, scalar, or shape (batch,) with ``per_sample``

    Raises
    ------
    ConfigError
        If the groups, the number of tensors in a group or a tensor's batch/length differ.
    """
    if set(teacher_features) != set(student_features):
        raise ConfigError(f"teacher and student feature groups differ: {sorted(teacher_features)} vs {sorted(student_features)}")
    group_losses = []
    for name in sorted(teacher_features):
        t, s = teacher_features[name], student_features[name]
        t, s = (list(v) if isinstance(v, (list, tuple)) else [v] for v in (t, s))
        if len(t) != len(s):
            raise ConfigError(f"feature group {name!r}: teacher has {len(t)} tensors, student {len(s)}")
        losses = []
        for ft, fs in zip(t, s):
            if (ft.shape[0], ft.shape[-1]) != (fs.shape[0], fs.shape[-1]):
                raise ConfigError(f"feature group {name!r}: teacher tensor {ft.shape} and student tensor {fs.shape} "
                                  "differ in batch or length (batch, channels, length)")
            at = attention_map(jax.lax.stop_gradient(ft), normalise)
            losses.append(jnp.mean(jnp.abs(at - attention_map(fs, normalise)), axis=-1))  # (batch,)
        group_losses.append(sum(losses) / len(losses))
    per = sum(group_losses) / len(group_losses)
    return per if per_sample else jnp.mean(per)


def kd_loss(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    labels: jax.Array,
    *,
    temperature: float = 1.5,
    kd_weight: float = 1.0,
    reduction: str = "reference",
    t_squared: bool = False,
    ce_weight: float = 1.0,
) -> jax.Array:
    """Student loss ``ce_weight · CE(y, s) + kd_weight · KL(softmax(t/T) ‖ softmax(s/T))`` (Hinton et al. 2015).

    MSC-T3AM (§1): T = 1.5, weights 1 : 1, reference reduction, no T². The sleep-staging KD
    (§4, ``α·T²·KL + (1−α)·CE`` with α = 0.5, T = 1): ``kd_weight=α, ce_weight=1−α, t_squared=True``.

    Parameters
    ----------
    student_logits, teacher_logits : Array, shape (batch, n_classes)
        The teacher's logits are wrapped in ``stop_gradient``: only the student learns from it.
    labels : Array int, shape (batch,)
    temperature : float
        Softening temperature T (MSC-T3AM: 1.5).
    kd_weight : float
        Weight of the distillation term; CE has weight 1 (MSC-T3AM: 1 : 1).
    reduction : {"reference", "batchmean"}
        ``"reference"``: PyTorch ``KLDivLoss(reduction='mean')`` as the MSC-T3AM code uses it, the
        sum of the element-wise terms divided by batch x n_classes (the batch-mean KL divided by
        n_classes). ``"batchmean"``: the batch-mean KL, the mathematically usual form.
    t_squared : bool
        Multiply the distillation term by T² (Hinton et al.'s gradient-scale correction; the
        reference code does not).
    ce_weight : float
        Weight of the cross-entropy term.

    Returns
    -------
    Array, scalar
        The mean loss over the batch.

    Raises
    ------
    ConfigError
        For an unknown ``reduction`` or a temperature ≤ 0.
    """
    _check_kd_options(temperature, reduction)
    ce = optax.softmax_cross_entropy_with_integer_labels(student_logits, labels).mean()
    log_p_s = jax.nn.log_softmax(student_logits / temperature, axis=-1)
    log_p_t = jax.nn.log_softmax(jax.lax.stop_gradient(teacher_logits) / temperature, axis=-1)
    elementwise = jnp.exp(log_p_t) * (log_p_t - log_p_s)  # target · (log target − input)
    kl = elementwise.sum() / student_logits.shape[0]
    if reduction == "reference":
        kl = kl / student_logits.shape[-1]
    if t_squared:
        kl = kl * temperature**2
    return ce_weight * ce + kd_weight * kl


class DistillTrainer(Trainer):
    """Teacher + student pairs as members: both forward passes and updates in ONE jitted step.

    Every member holds a teacher and a student (``params`` and ``batch_stats`` are dicts
    ``{"student": ..., "teacher": ...}`` stacked over members; ``opt_state`` holds the student's
    and, online only, the teacher's optimiser state). Each step computes the
    teacher's outputs on the batch and the student's loss against them.

    * ``mode="online"`` (MSC-T3AM's best setting): the teacher trains at the same time on the
      same mini-batch with its own cross-entropy; both updates happen in the same step.
    * ``mode="offline"``: the teacher is given (:meth:`fit`'s ``teacher``: the member-stacked
      state of a finished teacher run, e.g. restored from its orbax checkpoint), runs in eval mode
      under ``stop_gradient`` and is never updated: its parameters and batch statistics stay
      bitwise unchanged.

    The student's loss is :func:`kd_loss` on the logits (``loss="logits"``) or, offline only,
    :func:`attention_transfer_loss` on the models' feature groups (``loss="features"``, the
    sleep-staging "feature training" stage; both models must accept ``return_features=True``,
    e.g. U-Time). Evaluation, early stopping and the returned test logits are the student's; in
    the feature stage the validation loss is the feature loss (the reference keeps the epoch of
    minimal validation feature loss). Parameters as :class:`~jeeg.engine.trainer.Trainer` (``input_map``:
    the student's input channels), plus the teacher's registry name and hyper-parameters,
    ``teacher_input_map`` (the teacher's input channels of the same trials: cross-modal
    distillation) and the loss options (MSC-T3AM, github.com/BICN001/MSC-T3AM ``net_train.py`` ``KD_train``: T = 1.5,
    weight 1, reference reduction, no T²; sleep staging, github.com/acrophase/Sleep_Staging_KD
    ``4_class/models/KD_TEMP.py``: ``kd_weight=ce_weight=0.5, temperature=1, t_squared=True``).
    """

    def __init__(self, student: str, student_kwargs: dict, teacher: str, teacher_kwargs: dict,
                 n_chans: int, n_outputs: int, n_times: int, sfreq: float, config: TrainConfig, *,
                 mode: str = "online", temperature: float = 1.5, kd_weight: float = 1.0,
                 reduction: str = "reference", t_squared: bool = False, ce_weight: float = 1.0,
                 loss: str = "logits", at_normalise: str = "sample", teacher_input_map: np.ndarray | None = None,
                 **kwargs):
        if mode not in ("online", "offline"):
            raise ConfigError(f"distillation mode must be online or offline; got {mode!r}")
        _check_kd_options(temperature, reduction, loss, at_normalise)
        if loss == "features" and mode != "offline":
            raise ConfigError("attention transfer (kd loss 'features') learns from a trained teacher: use distill=offline")
        self.mode, self.teacher_name, self.loss_kind, self.at_normalise = mode, teacher, loss, at_normalise
        self.kd = dict(temperature=temperature, kd_weight=kd_weight, reduction=reduction, t_squared=t_squared,
                       ce_weight=ce_weight)
        self.teacher_input_map = None if teacher_input_map is None else np.asarray(teacher_input_map, np.float32)
        if self.teacher_input_map is not None and (self.teacher_input_map.ndim != 2 or self.teacher_input_map.shape[1] != n_chans):
            raise ConfigError(f"teacher_input_map must have shape (n_inputs, n_chans={n_chans}); "
                              f"got {self.teacher_input_map.shape}")
        self.teacher_chans = n_chans if self.teacher_input_map is None else self.teacher_input_map.shape[0]

        def make_teacher(key):
            return build_model(teacher, self.teacher_chans, n_outputs, n_times, sfreq, rngs=nnx.Rngs(params=key),
                               **teacher_kwargs)

        self._make_teacher = make_teacher
        self.t_graphdef = nnx.graphdef(nnx.eval_shape(lambda: make_teacher(jax.random.key(0))))
        self._teacher_state: MemberState | None = None
        super().__init__(student, student_kwargs, n_chans, n_outputs, n_times, sfreq, config, **kwargs)

    # ------------------------------------------------------------------ pure single-member functions
    def _init_one(self, key, lr, weight_decay) -> MemberState:
        _, sp, ss = nnx.split(self._make(jax.random.fold_in(key, 0)), nnx.Param, nnx.BatchStat)
        _, tp, ts = nnx.split(self._make_teacher(jax.random.fold_in(key, 2)), nnx.Param, nnx.BatchStat)
        tx = self._tx(lr, weight_decay)
        # A frozen (offline) teacher is never updated: it carries no optimiser state.
        opt = {"student": tx.init(sp), **({"teacher": tx.init(tp)} if self.mode == "online" else {})}
        return MemberState({"student": sp, "teacher": tp}, {"student": ss, "teacher": ts}, opt)

    def _call(self, model, x, train: bool, key=None):
        """(logits, features or None) of ``model`` on its inputs ``x``."""
        kw = {"rngs": nnx.Rngs(dropout=key)} if train else {}
        if self.loss_kind == "features":
            return model(x, train=train, return_features=True, **kw)
        return model(x, train=train, **kw), None

    def _student_loss(self, s_logits, s_feats, t_logits, t_feats, y, per_sample: bool = False):
        if self.loss_kind == "features":
            return attention_transfer_loss(t_feats, s_feats, self.at_normalise, per_sample=per_sample)
        return kd_loss(s_logits, t_logits, y, **self.kd)  # stop_gradient on the teacher inside

    def _train_step_one(self, state: MemberState, x, y, key, lr, weight_decay):
        online = self.mode == "online"
        xs, xt = self._mapped(x, self.input_map), self._mapped(x, self.teacher_input_map)

        def loss_fn(params, stats):
            student = nnx.merge(self.graphdef, params["student"], jax.tree.map(jnp.asarray, stats["student"]))
            s_logits, s_feats = self._call(student, xs, True, jax.random.fold_in(key, 0))
            if online:
                teacher = nnx.merge(self.t_graphdef, params["teacher"], jax.tree.map(jnp.asarray, stats["teacher"]))
                t_logits, t_feats = self._call(teacher, xt, True, jax.random.fold_in(key, 1))
                t_loss = optax.softmax_cross_entropy_with_integer_labels(t_logits, y).mean()
                t_stats = nnx.state(teacher, nnx.BatchStat)
            else:
                frozen = jax.lax.stop_gradient(params["teacher"])
                t_logits, t_feats = self._call(nnx.merge(self.t_graphdef, frozen, stats["teacher"]), xt, False)
                t_loss, t_stats = 0.0, stats["teacher"]
            s_loss = self._student_loss(s_logits, s_feats, t_logits, t_feats, y)
            new_stats = {"student": nnx.state(student, nnx.BatchStat), "teacher": t_stats}
            return s_loss + t_loss, (new_stats, s_logits, s_loss)

        (_, (stats, logits, s_loss)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, state.batch_stats)
        tx = self._tx(lr, weight_decay)
        names = ("student", "teacher") if online else ("student",)
        params, opt_state = dict(state.params), dict(state.opt_state)
        for name in names:
            upd, opt_state[name] = tx.update(grads[name], state.opt_state[name], state.params[name])
            graphdef = self.graphdef if name == "student" else self.t_graphdef
            model = nnx.merge(graphdef, optax.apply_updates(state.params[name], upd), stats[name])
            apply_constraints(model)
            _, params[name], stats[name] = nnx.split(model, nnx.Param, nnx.BatchStat)
        acc = jnp.mean(jnp.argmax(logits, -1) == y)
        return MemberState(params, stats, opt_state), s_loss, acc

    def _evaluate_one(self, params, stats, X, Y, idx, n_valid):
        if self.loss_kind != "features":
            return super()._evaluate_one(params["student"], stats["student"], X, Y, idx, n_valid)
        # feature stage: the validation loss is the feature loss; one student forward per chunk
        # gives its logits, intermediates and features together
        student = nnx.merge(self.graphdef, params["student"], stats["student"])
        teacher = nnx.merge(self.t_graphdef, params["teacher"], stats["teacher"])

        def chunk(i):
            s_logits, aux, s_feats = student(self._mapped(X[i], self.input_map), train=False,
                                             return_attention=True, return_features=True)
            t_logits, t_feats = self._call(teacher, self._mapped(X[i], self.teacher_input_map), False)
            return s_logits, aux, self._student_loss(s_logits, s_feats, t_logits, t_feats, Y[i], per_sample=True)

        logits, aux, per = jax.lax.map(chunk, idx.reshape(-1, self.eval_chunk))
        logits, (aux, per) = logits.reshape(idx.shape[0], -1), _unchunk((aux, per), idx.shape[0])
        return (logits, aux, *_valid_means(per, logits, Y[idx], n_valid))

    # ------------------------------------------------------------------ states of finished runs
    def teacher_state(self, flat: dict[str, np.ndarray], where: str = "teacher checkpoint") -> MemberState:
        """A member-stacked teacher :class:`~jeeg.engine.loop.MemberState` from flat arrays.

        Parameters
        ----------
        flat : dict
            ``{"params/<module path>/value" | "batch_stats/<...>": array (K, ...)}``, as
            :func:`jeeg.checkpoints.load_teacher_run` reads them from a teacher run's checkpoints.
        where : str
            Named in errors (the teacher run's directory).

        Raises
        ------
        ConfigError
            If an array of the teacher model is missing (a checkpoint of another model) or has
            another shape (trained with other n_chans, n_times, n_outputs or hyper-parameters).
        """
        n_times = self._data_shape[1]
        desc = (f"teacher {self.teacher_name!r} at n_chans={self.teacher_chans}, n_times={n_times}, "
                f"n_outputs={self.n_outputs}")
        return state_from_flat(lambda: self._make_teacher(jax.random.key(0)), flat, desc, where)

    def _with_init(self, state: MemberState, init: MemberState, n_members: int) -> MemberState:
        student = super()._with_init(
            MemberState(state.params["student"], state.batch_stats["student"], None), init, n_members)
        return MemberState({**state.params, "student": student.params},
                           {**state.batch_stats, "student": student.batch_stats}, state.opt_state)

    # ------------------------------------------------------------------ host-side driver
    def _post_init(self, state: MemberState, n_members: int) -> MemberState:
        if self.mode == "online":
            return state
        t = self._teacher_state
        if t is None:
            raise ConfigError("offline distillation needs the trained teacher: fit(..., teacher=state of a teacher run)")
        want = jax.tree.map(lambda a: a.shape[1:], (state.params["teacher"], state.batch_stats["teacher"]))
        got = jax.tree.map(lambda a: np.shape(a)[1:], (t.params, t.batch_stats))
        if jax.tree.structure(want) != jax.tree.structure(got) or want != got:
            raise ConfigError(
                f"the teacher state does not fit teacher model {self.teacher_name!r} at these shapes "
                "(n_chans, n_times, n_outputs or hyper-parameters differ, or it is another model's state)"
            )
        stack = lambda a: self._stack_members(a, n_members)  # noqa: E731
        params = {**state.params, "teacher": jax.tree.map(stack, t.params)}
        stats = {**state.batch_stats, "teacher": jax.tree.map(stack, t.batch_stats)}
        return MemberState(params, stats, state.opt_state)

    def fit(self, X, Y, members, keys, on_epoch=None, checkpointing=None, hparams=None, init=None,
            teacher: MemberState | None = None):
        """:meth:`Trainer.fit` for teacher + student pairs; ``teacher`` (offline mode): the
        member-stacked :class:`~jeeg.engine.loop.MemberState` of a teacher run with the same members
        (``FitResult.state``), one teacher per member; ``init``: the students' starting state.

        Raises
        ------
        ConfigError
            Offline without a teacher, or a teacher state that does not fit the teacher model.
        """
        self._teacher_state = teacher
        try:
            return super().fit(X, Y, members, keys, on_epoch=on_epoch, checkpointing=checkpointing, hparams=hparams,
                               init=init)
        finally:
            self._teacher_state = None
