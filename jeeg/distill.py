"""Knowledge-distillation losses (MSC-T3AM's EEGNet teacher → student; architectures.md §1).

:class:`DistillTrainer` trains teacher + student pairs as members, online (both updated in one
jitted step) or offline (a trained teacher frozen inside the student's step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models import apply_constraints, build_model
from jeeg.train import MemberState, TrainConfig, Trainer, to_host

REDUCTIONS = ("reference", "batchmean")


def _check_kd_options(temperature: float, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ConfigError(f"kd reduction must be one of {REDUCTIONS}; got {reduction!r}")
    if temperature <= 0:
        raise ConfigError(f"kd temperature must be > 0; got {temperature}")


def kd_loss(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    labels: jax.Array,
    *,
    temperature: float = 1.5,
    kd_weight: float = 1.0,
    reduction: str = "reference",
    t_squared: bool = False,
) -> jax.Array:
    """Student loss ``CE(y, s) + kd_weight · KL(softmax(t/T) ‖ softmax(s/T))`` (Hinton et al. 2015).

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
    return ce + kd_weight * kl


class DistillTrainer(Trainer):
    """Teacher + student pairs as members: both forward passes and updates in ONE jitted step.

    Every member holds a teacher and a student (``params``, ``batch_stats`` and ``opt_state`` are
    dicts ``{"student": ..., "teacher": ...}`` stacked over members). Each step computes the
    teacher's logits on the batch and the student's loss :func:`kd_loss` against them.

    * ``mode="online"`` (MSC-T3AM's best setting): the teacher trains at the same time on the
      same mini-batch with its own cross-entropy; both updates happen in the same step.
    * ``mode="offline"``: the teacher is given (:meth:`fit`'s ``teacher``: the member-stacked
      state of a finished teacher run, e.g. restored from its orbax checkpoint), runs in eval mode
      under ``stop_gradient`` and is never updated: its parameters and batch statistics stay
      bitwise unchanged.

    Evaluation, early stopping and the returned test logits are the student's. Parameters as
    :class:`~jeeg.train.Trainer`, plus the teacher's registry name and hyper-parameters and the
    :func:`kd_loss` options (architectures.md §1: T = 1.5, weight 1, reference reduction, no T²).
    """

    def __init__(self, student: str, student_kwargs: dict, teacher: str, teacher_kwargs: dict,
                 n_chans: int, n_outputs: int, n_times: int, sfreq: float, config: TrainConfig, *,
                 mode: str = "online", temperature: float = 1.5, kd_weight: float = 1.0,
                 reduction: str = "reference", t_squared: bool = False, **kwargs):
        if mode not in ("online", "offline"):
            raise ConfigError(f"distillation mode must be online or offline; got {mode!r}")
        _check_kd_options(temperature, reduction)
        self.mode, self.teacher_name = mode, teacher
        self.kd = dict(temperature=temperature, kd_weight=kd_weight, reduction=reduction, t_squared=t_squared)

        def make_teacher(key):
            return build_model(teacher, n_chans, n_outputs, n_times, sfreq, rngs=nnx.Rngs(params=key), **teacher_kwargs)

        self._make_teacher = make_teacher
        self.t_graphdef = nnx.graphdef(nnx.eval_shape(lambda: make_teacher(jax.random.key(0))))
        self._teacher_state: MemberState | None = None
        super().__init__(student, student_kwargs, n_chans, n_outputs, n_times, sfreq, config, **kwargs)

    # ------------------------------------------------------------------ pure single-member functions
    def _init_one(self, key, lr, weight_decay) -> MemberState:
        _, sp, ss = nnx.split(self._make(jax.random.fold_in(key, 0)), nnx.Param, nnx.BatchStat)
        _, tp, ts = nnx.split(self._make_teacher(jax.random.fold_in(key, 2)), nnx.Param, nnx.BatchStat)
        tx = self._tx(lr, weight_decay)
        return MemberState({"student": sp, "teacher": tp}, {"student": ss, "teacher": ts},
                           {"student": tx.init(sp), "teacher": tx.init(tp)})

    def _train_step_one(self, state: MemberState, x, y, key, lr, weight_decay):
        online = self.mode == "online"

        def loss_fn(params, stats):
            student = nnx.merge(self.graphdef, params["student"], jax.tree.map(jnp.asarray, stats["student"]))
            s_logits = student(x, train=True, rngs=nnx.Rngs(dropout=jax.random.fold_in(key, 0)))
            if online:
                teacher = nnx.merge(self.t_graphdef, params["teacher"], jax.tree.map(jnp.asarray, stats["teacher"]))
                t_logits = teacher(x, train=True, rngs=nnx.Rngs(dropout=jax.random.fold_in(key, 1)))
                t_loss = optax.softmax_cross_entropy_with_integer_labels(t_logits, y).mean()
                t_stats = nnx.state(teacher, nnx.BatchStat)
            else:
                frozen = jax.lax.stop_gradient(params["teacher"])
                t_logits = nnx.merge(self.t_graphdef, frozen, stats["teacher"])(x, train=False)
                t_loss, t_stats = 0.0, stats["teacher"]
            s_loss = kd_loss(s_logits, t_logits, y, **self.kd)  # stop_gradient on the teacher inside
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
        return super()._evaluate_one(params["student"], stats["student"], X, Y, idx, n_valid)

    # ------------------------------------------------------------------ teacher of a finished run
    def teacher_state(self, flat: dict[str, np.ndarray], where: str = "teacher checkpoint") -> MemberState:
        """A member-stacked teacher :class:`~jeeg.train.MemberState` from flat arrays.

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
        from jeeg.checkpoints import leaf_name

        _, tp, ts = nnx.split(nnx.eval_shape(lambda: self._make_teacher(jax.random.key(0))), nnx.Param, nnx.BatchStat)
        n_chans, n_times = self._data_shape
        desc = (f"teacher {self.teacher_name!r} at n_chans={n_chans}, n_times={n_times}, "
                f"n_outputs={self.n_outputs}")
        parts = {}
        for part, template in (("params", tp), ("batch_stats", ts)):
            leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
            out = []
            for kp, leaf in leaves:
                name = f"{part}/{leaf_name(kp)}"
                if name not in flat:
                    raise ConfigError(f"{where} has no array {name}: it holds another model's state than {desc}")
                if flat[name].shape[1:] != leaf.shape:
                    raise ConfigError(
                        f"{where}: {name} has shape {flat[name].shape[1:]} but {desc} needs {leaf.shape}; "
                        "the teacher was trained on other shapes or hyper-parameters")
                out.append(flat[name])
            parts[part] = jax.tree_util.tree_unflatten(treedef, out)
        return MemberState(parts["params"], parts["batch_stats"], None)

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

        def stack(a):  # the teacher of member k is member k of the teacher run (padding: member 0)
            a = np.asarray(to_host(a))
            n = a.shape[0]
            if n < n_members:
                a = np.concatenate([a, np.repeat(a[:1], n_members - n, 0)])
            return self.put_members(a[:n_members])

        params = {**state.params, "teacher": jax.tree.map(stack, t.params)}
        stats = {**state.batch_stats, "teacher": jax.tree.map(stack, t.batch_stats)}
        return MemberState(params, stats, state.opt_state)

    def fit(self, X, Y, members, keys, on_epoch=None, checkpointing=None, hparams=None, teacher: MemberState | None = None):
        """:meth:`Trainer.fit` for teacher + student pairs; ``teacher`` (offline mode): the
        member-stacked :class:`~jeeg.train.MemberState` of a teacher run with the same members
        (``FitResult.state``), one teacher per member.

        Raises
        ------
        ConfigError
            Offline without a teacher, or a teacher state that does not fit the teacher model.
        """
        self._teacher_state = teacher
        try:
            return super().fit(X, Y, members, keys, on_epoch=on_epoch, checkpointing=checkpointing, hparams=hparams)
        finally:
            self._teacher_state = None
