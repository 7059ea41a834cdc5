"""The compiled training loop of a member stack: training state and pure, jitted functions, no I/O.

A *member* is one independent training run (a fold, a seed, a hyper-parameter point). The engine
always trains a stack of K members: every leaf of :class:`MemberState` has a leading member axis.
Members differ only in their data: each draws fixed-size mini-batches from its own padded index
array into one device-resident copy of the dataset, so members with folds of unequal size share
one shape and one trace.

The run is the program (the shape of purejaxrl's ``make_train``): :meth:`CompiledLoop._run_chunk`
trains every member for a chunk of epochs inside XLA: ``lax.scan`` over the steps of an epoch,
inside a ``lax.while_loop`` over epochs that ends when the member stops. Mini-batches, keys, the
validation pass, early stopping, the best-epoch parameters, NaN/Inf isolation and the learning
curves are computed on the device; :class:`jeeg.engine.trainer.Trainer` drives chunks from the
host.

Randomness: member key ``k`` → init ``fold_in(k, 0)``; training ``fold_in(k, 1)`` → epoch
``fold_in(·, epoch)`` → shuffling ``fold_in(·, 0)`` and dropout of step ``s`` ``fold_in(·, s + 1)``.

Model selection uses the validation part only; the test part is scored once, with the parameters
of the selected epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jeeg.engine.mesh import MEMBER_AXES, default_member_axis, member_mesh, over_members
from jeeg.errors import ConfigError
from jeeg.models import apply_constraints, build_model


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and model-selection settings (defaults: jeeg's own choice for STFF-DA, which has no public code).

    Attributes
    ----------
    batch_size : int
        Trials per mini-batch; capped at the smallest training part among the members.
    max_epochs : int
        Upper bound on epochs.
    lr, weight_decay : float
        AdamW peak learning rate and decoupled weight decay (Loshchilov & Hutter 2019).
    schedule : {"cosine", "warmup_cosine", "constant"}
        Learning-rate schedule over ``max_epochs`` epochs (cosine decays to 0).
    warmup_epochs : int
        Linear warm-up length for ``warmup_cosine``.
    patience : int
        Stop a member after this many epochs without improvement of ``monitor``.
    monitor : {"val_loss", "val_accuracy", "last"}
        Validation quantity that selects the epoch (ties → lower validation loss, then earlier).
        ``"last"``: no selection and no early stopping — every epoch replaces the kept parameters,
        so a member keeps its last epoch's (fixed-length training, e.g. the final model trained on
        every trial, :mod:`jeeg.final`, where no trial is left to select an epoch on).
    eval_batch_size : int
        Trials per forward pass when scoring validation/test parts.
    """

    batch_size: int = 64
    max_epochs: int = 200
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 0
    patience: int = 30
    monitor: str = "val_loss"
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "warmup_cosine", "constant"):
            raise ConfigError(f"schedule must be cosine, warmup_cosine or constant; got {self.schedule!r}")
        if self.monitor not in ("val_loss", "val_accuracy", "last"):
            raise ConfigError(f"monitor must be val_loss, val_accuracy or last; got {self.monitor!r}")
        for name in ("batch_size", "max_epochs", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1; got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0; got {self.lr}")


class MemberState(NamedTuple):
    """Trainable state of K members; every leaf has leading axis K."""

    params: nnx.State
    batch_stats: nnx.State
    opt_state: optax.OptState


@dataclass
class MemberData:
    """Index arrays of one member into the device-resident dataset (sorted int64)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _unchunk(tree, n: int):
    """Arrays (n_chunks, chunk, ...) of a ``lax.map`` over evaluation chunks → (n, ...)."""
    return jax.tree.map(lambda a: a.reshape((n,) + a.shape[2:]), tree)


def _valid_means(per_trial_loss, logits, y, n_valid):
    """Mean loss and accuracy over the first ``n_valid`` trials of an evaluation part (padding ignored)."""
    mask = jnp.arange(y.shape[0]) < n_valid
    n = jnp.maximum(n_valid, 1)
    return jnp.sum(per_trial_loss * mask) / n, jnp.sum((jnp.argmax(logits, -1) == y) * mask) / n


def _where(pred: jax.Array, new, old):
    """``new`` where the scalar ``pred`` holds, else ``old``, leaf by leaf over two pytrees."""
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


class CompiledLoop:
    """The jitted programs of one model, one data shape and one member formulation (pure, no I/O).

    Parameters
    ----------
    model : str
        Registry name (see :data:`jeeg.models.REGISTRY`).
    model_kwargs : dict
        Hyper-parameters passed to the model constructor.
    n_chans, n_outputs, n_times : int
        Input shape (n_chans, n_times) and number of classes.
    sfreq : float
        Sampling frequency in Hz.
    config : TrainConfig
    batch_size : int
        Effective mini-batch size (≤ every member's training part).
    n_train_pad : int
        Length to which training index arrays are padded; sets steps per epoch.
    n_eval_pad : int
        Longest validation/test part among the members; evaluation pads to it (in chunks of at
        most ``config.eval_batch_size``) so that every part shares one shape.
    mesh : Mesh, optional
        1-D mesh with axis ``"members"`` (default :func:`member_mesh`: all devices). The member
        axis is sharded over it; the dataset is replicated. K is padded to a multiple of the
        device count with inactive copies of member 0.
    input_map : ndarray, shape (n_inputs, n_chans), optional
        Linear map from the data's channels to the network's inputs, applied to every batch
        inside the jitted programs (:func:`jeeg.representations.derivation_matrix`: a channel
        pick, a sign flip or a bipolar derivation, e.g. a single-lead student of a 64-channel
        recording). The network is built with ``n_inputs`` channels; the data keep ``n_chans``.
    unroll : int
        Steps of an epoch unrolled in the compiled ``lax.scan`` (a speed knob).
    member_axis : {"map", "vmap"}, optional
        How the compiled run spreads over members (:meth:`_over_members`). Default: ``"map"`` on
        CPU devices (members one after the other: a CPU's cores are already busy with one member,
        and each member's result is bitwise what it would be alone), ``"vmap"`` on accelerators.

    Notes
    -----
    ``train_step`` and ``evaluate`` are traced once per Trainer (``chex.assert_max_traces`` in
    the tests): all members and folds share shapes through padding.
    """

    def __init__(
        self,
        model: str,
        model_kwargs: dict,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        config: TrainConfig,
        *,
        batch_size: int,
        n_train_pad: int,
        n_eval_pad: int,
        mesh: jax.sharding.Mesh | None = None,
        input_map: np.ndarray | None = None,
        unroll: int = 1,
        member_axis: str | None = None,
    ):
        self.config = config
        self.mesh = member_mesh() if mesh is None else mesh
        self.n_devices = self.mesh.devices.size
        self.member_sharding = NamedSharding(self.mesh, P("members"))
        self.replicated = NamedSharding(self.mesh, P())
        self.eval_chunk = max(1, min(config.eval_batch_size, n_eval_pad))
        self.n_eval_pad = math.ceil(max(n_eval_pad, 1) / self.eval_chunk) * self.eval_chunk
        self.batch_size = int(batch_size)
        self.steps_per_epoch = math.ceil(n_train_pad / self.batch_size)
        self.n_train_pad = self.steps_per_epoch * self.batch_size

        self.input_map = None if input_map is None else np.asarray(input_map, np.float32)
        if self.input_map is not None and (self.input_map.ndim != 2 or self.input_map.shape[1] != n_chans):
            raise ConfigError(f"input_map must have shape (n_inputs, n_chans={n_chans}); got {self.input_map.shape}")
        self.member_axis = default_member_axis(self.mesh) if member_axis is None else member_axis
        if self.member_axis not in MEMBER_AXES:
            raise ConfigError(f"member_axis must be one of {MEMBER_AXES}; got {member_axis!r}")
        model_chans = n_chans if self.input_map is None else self.input_map.shape[0]
        self.model_kwargs = dict(model_kwargs)

        def make(key: jax.Array) -> nnx.Module:
            return build_model(model, model_chans, n_outputs, n_times, sfreq, rngs=nnx.Rngs(params=key), **model_kwargs)

        self._make = make
        abstract = nnx.eval_shape(lambda: make(jax.random.key(0)))
        # Per-trial input shape: (n_chans, n_times), or the model's own (e.g. electrode-grid cubes).
        self.input_shape = (n_chans, n_times) if self.input_map is not None else (
            tuple(getattr(abstract, "input_shape", (n_chans, n_times))))
        self.n_outputs, self._data_shape = n_outputs, (n_chans, n_times)
        self.graphdef = nnx.graphdef(abstract)
        self.unroll = int(unroll)
        if self.unroll < 1:
            raise ConfigError(f"unroll must be ≥ 1; got {unroll}")
        #: Fresh member states from keys and hyper-parameters, members one after another (a vmapped
        #: init of STFF-DA's orthogonal LSTM kernel, a batched QR, hung XLA:CPU with two devices and
        #: two members each; jax 0.10.2, 2026-11-29).
        self.init = jax.jit(lambda keys, lr, wd: over_members(
            lambda m, _: self._init_one(m["key"], m["lr"], m["wd"]), self.mesh, "map")({"key": keys, "lr": lr, "wd": wd}, None))
        #: The member-vmapped step alone (the step benchmarks time it; the compiled run calls
        #: ``_step_member`` inside :meth:`_epoch_one`).
        self.train_step = jax.jit(jax.vmap(self._masked_step_one, in_axes=(0, None, None, 0, 0, 0, 0, 0)))
        # One member's step and evaluation, traced once and reused by every program that calls them.
        self._step_member = jax.jit(self._masked_step_one)
        self._eval_member = jax.jit(self._evaluate_one)
        self.evaluate = jax.jit(self._evaluate_members)
        # The carry (state, best state, loop bookkeeping) stays sharded over members from chunk to chunk.
        self.run_chunk = jax.jit(self._run_chunk, donate_argnums=(0,), out_shardings=self.member_sharding)
        self._programs: dict = {}  # compiled run_chunk per abstract signature (member count, dtypes)

    # ------------------------------------------------------------------ pure single-member functions
    @staticmethod
    def _mapped(x: jax.Array, input_map: np.ndarray | None) -> jax.Array:
        """``input_map @ x`` for a batch (batch, n_chans, n_times); ``x`` itself without a map."""
        return x if input_map is None else jnp.einsum("ic,bct->bit", jnp.asarray(input_map), x)

    def _schedule(self, lr) -> optax.Schedule:
        c, total = self.config, self.config.max_epochs * self.steps_per_epoch
        if c.schedule == "constant":
            return optax.constant_schedule(lr)
        if c.schedule == "cosine":
            return optax.cosine_decay_schedule(lr, total)
        warm = min(c.warmup_epochs * self.steps_per_epoch, total - 1)
        return optax.warmup_cosine_decay_schedule(0.0, lr, max(warm, 1), total)

    def _tx(self, lr, weight_decay) -> optax.GradientTransformation:
        """AdamW for one member with its own peak learning rate and weight decay (may be traced).

        The decay is stored in the optimiser state at init (optax reads numeric injected
        hyper-parameters from the state); the schedule is rebuilt from ``lr`` in every step.
        ``optax.flatten``: the moments are one vector over all parameters, so the update is a few
        operations instead of a few per parameter tensor (the same element-wise arithmetic).
        MSC-T3AM's run program has 46,500 HLO instructions instead of 61,900 and compiles in 11.9
        s instead of 15.5 (``benchmarks/results/cpu/compile_times.json``, 2-core CPU, 2026-11-30,
        commits 5fad120 and 871e426).
        """
        adamw = optax.inject_hyperparams(optax.adamw)(learning_rate=self._schedule(lr), weight_decay=weight_decay)
        return optax.flatten(adamw)

    def _init_one(self, key: jax.Array, lr, weight_decay) -> MemberState:
        _, params, stats = nnx.split(self._make(jax.random.fold_in(key, 0)), nnx.Param, nnx.BatchStat)
        return MemberState(params, stats, self._tx(lr, weight_decay).init(params))

    def _train_step_one(self, state: MemberState, x: jax.Array, y: jax.Array, key: jax.Array, lr, weight_decay):
        def loss_fn(params, batch_stats):
            # Rebuild the BatchStat variables inside this trace so that BatchNorm may update them.
            model = nnx.merge(self.graphdef, params, jax.tree.map(jnp.asarray, batch_stats))
            logits = model(self._mapped(x, self.input_map), train=True, rngs=nnx.Rngs(dropout=key))
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return loss, (nnx.state(model, nnx.BatchStat), logits)

        (loss, (stats, logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state.batch_stats
        )
        updates, opt_state = self._tx(lr, weight_decay).update(grads, state.opt_state, state.params)
        model = nnx.merge(self.graphdef, optax.apply_updates(state.params, updates), stats)
        apply_constraints(model)
        _, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
        acc = jnp.mean(jnp.argmax(logits, -1) == y)
        return MemberState(params, stats, opt_state), loss, acc

    def _batches_one(self, train_idx, n_train, key):
        """Shuffled mini-batch indices of one member's epoch, shape (steps_per_epoch, batch_size).

        Only the first ``n_train`` entries of the padded ``train_idx`` are drawn. The last batch
        wraps round to the start of the permutation, so every batch holds real trials only
        (BatchNorm-safe); steps past ``ceil(n_train / batch_size)`` are masked by the caller.
        """
        B, S = self.batch_size, self.steps_per_epoch
        slot = jnp.arange(train_idx.shape[0])
        u = jnp.where(slot < n_train, jax.random.uniform(key, slot.shape), 2.0)
        order = train_idx[jnp.argsort(u)]
        return order[jnp.arange(S * B) % jnp.maximum(n_train, 1)].reshape(S, B)

    def _masked_step_one(self, state, X, Y, batch_idx, do, key, lr, weight_decay):
        """One step of one member on trials ``batch_idx``.

        ``do=False`` leaves the state unchanged; so does a step whose loss or new parameters are
        not finite, which is reported in the returned ``failed`` flag (fault isolation).
        """
        new, loss, acc = self._train_step_one(state, X[batch_idx], Y[batch_idx], key, lr, weight_decay)
        # One reduction over all parameters at once. A chain of per-leaf `all(isfinite)` results
        # was fused into every leaf's select, one copy of the chain per leaf: 45 000 of U-Time's
        # 129 000 instructions and most of its XLA:CPU compile time.
        flat = jnp.concatenate([leaf.ravel() for leaf in jax.tree.leaves(new.params)])
        finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(flat))
        apply = do & finite
        return _where(apply, new, state), loss, acc, do & ~finite

    def _over_members(self, f: Callable) -> Callable:
        """``f(member, shared)`` of ONE member over the member axis (:func:`jeeg.engine.mesh.over_members`)."""
        return over_members(f, self.mesh, self.member_axis)

    def _epoch_one(self, c: dict, d: dict, X, Y) -> dict:
        """One epoch of ONE member: ``steps_per_epoch`` masked steps (``lax.scan``), the validation
        pass, early stopping, best-epoch parameters, NaN/Inf isolation and the history.

        ``c``: ``{"state", "best", "loop"}`` of the member; ``d``: its padded index arrays, key and
        hyper-parameters. Keys: epoch ``fold_in(fold_in(k, 1), epoch)``, shuffling
        ``fold_in(·, 0)``, dropout of step ``s`` ``fold_in(·, s + 1)``.
        """
        conf, B, S = self.config, self.batch_size, self.steps_per_epoch
        loop = c["loop"]
        e = loop["epoch"]
        ekey = jax.random.fold_in(jax.random.fold_in(d["key"], 1), e)
        batches = self._batches_one(d["train_idx"], d["n_train"], jax.random.fold_in(ekey, 0))
        n_steps = (d["n_train"] + B - 1) // B

        def one_step(state, s):
            do = s < n_steps
            state, loss, acc, failed = self._step_member(state, X, Y, batches[s], do, jax.random.fold_in(ekey, s + 1),
                                                         d["lr"], d["weight_decay"])
            return state, (loss, acc, do & ~failed, failed)

        state, (losses, accs, done, fails) = jax.lax.scan(one_step, c["state"], jnp.arange(S), unroll=self.unroll)
        n = jnp.maximum(done.sum(), 1)
        tr_loss, tr_acc = (jnp.sum(jnp.where(done, v, 0.0)) / n for v in (losses, accs))
        _, _, va_loss, va_acc = self._eval_member(state.params, state.batch_stats, X, Y, d["val_idx"], d["n_val"])
        logs = {"train_loss": tr_loss, "train_accuracy": tr_acc, "val_loss": va_loss, "val_accuracy": va_acc}
        hist = {name: h.at[e].set(logs[name].astype(h.dtype)) for name, h in loop["history"].items()}
        failed_now = fails.any()
        if conf.monitor == "last":  # fixed length: every epoch is the kept one, nothing stops early
            score, improved = va_loss, jnp.ones((), bool)
        else:
            score = va_loss if conf.monitor == "val_loss" else -va_acc
            improved = (score < loop["best_score"]) | ((score == loop["best_score"]) & (va_loss < loop["best_loss"]))
        best_epoch = jnp.where(improved, e, loop["best_epoch"])
        stop = failed_now if conf.monitor == "last" else (e - best_epoch >= conf.patience) | failed_now
        loop = dict(
            loop, epoch=e + 1, active=~stop, history=hist, best_epoch=best_epoch,
            failed_step=jnp.where(failed_now, e * S + jnp.argmax(fails), loop["failed_step"]),
            best_score=jnp.where(improved, score, loop["best_score"]),
            best_loss=jnp.where(improved, va_loss, loop["best_loss"]),
            stopped_epoch=jnp.where(stop, e, loop["stopped_epoch"]),
        )
        return {"state": state, "best": _where(improved, state, c["best"]), "loop": loop}

    def _chunk_one(self, member: dict, shared: dict) -> dict:
        """Epochs ``epoch`` … ``end − 1`` of ONE member as a ``lax.while_loop`` that ends early when
        the member stops (``member``: ``{"carry", "data"}``; ``shared``: ``X``, ``Y``, ``end``)."""

        def more(c):
            return (c["loop"]["epoch"] < shared["end"]) & c["loop"]["active"]

        return jax.lax.while_loop(more, lambda c: self._epoch_one(c, member["data"], shared["X"], shared["Y"]),
                                  member["carry"])

    def _run_chunk(self, carry: dict, data: dict, end: jax.Array) -> dict:
        """The compiled chunk: every member's epochs up to ``end`` (:meth:`_chunk_one` over the
        member axis, :meth:`_over_members`). Pure: the host sees the run only between chunks."""
        member = {"carry": carry, "data": {k: v for k, v in data.items() if k not in ("X", "Y")}}
        return self._over_members(self._chunk_one)(member, {"X": data["X"], "Y": data["Y"], "end": end})

    def _evaluate_members(self, params, stats, X, Y, idx, n_valid):
        """:meth:`_evaluate_one` over the member axis of ``params``, ``stats``, ``idx``, ``n_valid``."""

        def one(m, s):
            return self._eval_member(m["params"], m["stats"], s["X"], s["Y"], m["idx"], m["n"])

        return self._over_members(one)({"params": params, "stats": stats, "idx": idx, "n": n_valid}, {"X": X, "Y": Y})

    def _evaluate_one(self, params, stats, X, Y, idx, n_valid):
        """Logits, model intermediates, mean loss and accuracy over the first ``n_valid`` of idx."""
        model = nnx.merge(self.graphdef, params, stats)
        chunks = idx.reshape(-1, self.eval_chunk)
        logits, aux = jax.lax.map(
            lambda i: model(self._mapped(X[i], self.input_map), train=False, return_attention=True), chunks)
        logits, aux = logits.reshape(idx.shape[0], -1), _unchunk(aux, idx.shape[0])
        y = Y[idx]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return (logits, aux, *_valid_means(ce, logits, y, n_valid))

