"""The training engine: pure jitted steps over a stack of members, early stopping on validation.

A *member* is one independent training run (a fold, a seed, a hyper-parameter point). The engine
always trains a stack of K members: every leaf of :class:`MemberState` has a leading member axis
and one ``jax.jit`` program steps them all (``jax.vmap`` over members); a single run is K = 1.
Members differ only in their data: each draws fixed-size mini-batches from its own padded index
array into one device-resident copy of the dataset, so members with folds of unequal size share
one shape and one trace (``shared/design/conventions.md`` §1).

Randomness: member key ``k`` → init ``fold_in(k, 0)``; training ``fold_in(k, 1)`` → epoch
``fold_in(·, epoch)`` → shuffling ``fold_in(·, 0)`` and dropout of step ``s`` ``fold_in(·, s + 1)``.

Model selection uses the validation part only; the test part is scored once, with the parameters
of the selected epoch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jeeg.errors import ConfigError
from jeeg.models import apply_constraints, build_model


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and model-selection settings (defaults: architectures.md §3, STFF-DA).

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
    monitor : {"val_loss", "val_accuracy"}
        Validation quantity that selects the epoch (ties → lower validation loss, then earlier).
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
        if self.monitor not in ("val_loss", "val_accuracy"):
            raise ConfigError(f"monitor must be val_loss or val_accuracy; got {self.monitor!r}")
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


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns for K members.

    Attributes
    ----------
    history : dict of str → ndarray (K, n_epochs_run)
        ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` (NaN once a member stopped).
    best_epoch : ndarray int (K,)
        Selected epoch (0-based) per member.
    stopped_epoch : ndarray int (K,)
        Last epoch each member trained.
    test_logits : list of ndarray (n_test_k, n_outputs)
    test_aux : list of dict of ndarray (n_test_k, ...)
        Model intermediates on the test trials (e.g. ``attention`` (n_test_k, n_tokens)).
    state : MemberState
        Parameters of the selected epoch, stacked over members (member axis padded to a multiple
        of the device count; the first K are the members).
    failed : ndarray bool (K,)
        Members whose loss or parameters turned NaN/Inf; frozen at their last finite state.
    failed_step : ndarray int (K,)
        Global step (``epoch · steps_per_epoch + step``) of the failure, −1 if none.
    """

    history: dict[str, np.ndarray]
    best_epoch: np.ndarray
    stopped_epoch: np.ndarray
    test_logits: list[np.ndarray]
    test_aux: list[dict[str, np.ndarray]]
    state: MemberState
    failed: np.ndarray
    failed_step: np.ndarray


@dataclass(frozen=True)
class Checkpointing:
    """Where and how often :meth:`Trainer.fit` saves its whole loop state with orbax.

    Attributes
    ----------
    directory : Path
        Folder of the orbax ``CheckpointManager`` (one per stack of members).
    every : int
        Save after every ``every`` epochs, and always when training ends.
    resume : bool
        Continue from the latest checkpoint in ``directory`` if there is one.
    """

    directory: Path
    every: int = 10
    resume: bool = True


def member_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh named ``"members"`` over ``devices`` (default: every device of every process)."""
    devices = list(jax.devices() if devices is None else devices)
    return jax.make_mesh((len(devices),), ("members",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)


def to_host(x) -> np.ndarray:
    """A (possibly multi-host sharded) array as one numpy array on every process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def state_from_flat(make_model: Callable[[], nnx.Module], flat: dict[str, np.ndarray], desc: str, where: str) -> MemberState:
    """A member-stacked :class:`MemberState` (no optimiser state) of the model ``make_model`` builds,
    from flat arrays ``{"params/<module path>/value" | "batch_stats/<...>": array (K, ...)}``
    as :mod:`jeeg.checkpoints` reads them from a finished run.

    Raises
    ------
    ConfigError
        If an array of the model is missing (``where`` holds another model's state) or has another
        shape (trained at other shapes or hyper-parameters); ``desc`` names the model and shapes.
    """
    from jeeg.checkpoints import leaf_name

    _, tp, ts = nnx.split(nnx.eval_shape(make_model), nnx.Param, nnx.BatchStat)
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
                    "it was trained on other shapes or hyper-parameters")
            out.append(flat[name])
        parts[part] = jax.tree_util.tree_unflatten(treedef, out)
    return MemberState(parts["params"], parts["batch_stats"], None)


def _unchunk(tree, n: int):
    """Arrays (n_chunks, chunk, ...) of a ``lax.map`` over evaluation chunks → (n, ...)."""
    return jax.tree.map(lambda a: a.reshape((n,) + a.shape[2:]), tree)


def _valid_means(per_trial_loss, logits, y, n_valid):
    """Mean loss and accuracy over the first ``n_valid`` trials of an evaluation part (padding ignored)."""
    mask = jnp.arange(y.shape[0]) < n_valid
    n = jnp.maximum(n_valid, 1)
    return jnp.sum(per_trial_loss * mask) / n, jnp.sum((jnp.argmax(logits, -1) == y) * mask) / n


def _pad(indices: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(indices), length), np.int32)
    for k, idx in enumerate(indices):
        out[k, : len(idx)] = idx
    return out, np.array([len(i) for i in indices], np.int32)


#: The member stacks of a training checkpoint that are saved packed (:func:`pack_members`).
PACKED_PARTS = ("state", "best")


def _packing(tree) -> tuple[list, dict[str, int]]:
    """Layout ``[[name, dtype, shape without the member axis, offset], ...]`` of a member-stacked
    pytree's leaves, and the packed width of each dtype."""
    from jeeg.checkpoints import leaf_name

    layout, width = [], {}
    for kp, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dt, shape = str(np.dtype(leaf.dtype)), [int(d) for d in leaf.shape[1:]]
        layout.append([leaf_name(kp), dt, shape, width.get(dt, 0)])
        width[dt] = width.get(dt, 0) + int(np.prod(shape, dtype=np.int64))
    return layout, width


@partial(jax.jit, static_argnums=(1, 2))
def _pack_leaves(leaves, dtypes: tuple[str, ...], sharding):
    groups: dict[str, list] = {dt: [] for dt in dtypes}
    for leaf in leaves:
        groups[str(np.dtype(leaf.dtype))].append(leaf.reshape(leaf.shape[0], -1))
    return {dt: jax.lax.with_sharding_constraint(jnp.concatenate(g, axis=1), sharding) for dt, g in groups.items()}


@partial(jax.jit, static_argnums=(1, 2))
def _unpack_leaves(packed, layout: tuple, sharding):
    return [jax.lax.with_sharding_constraint(
        packed[dt][:, off : off + math.prod(shape)].reshape(packed[dt].shape[0], *shape), sharding)
        for _, dt, shape, off in layout]


def pack_members(tree, sharding) -> tuple[dict[str, jax.Array], list]:
    """A member-stacked pytree (every leaf (K, ...)) as one (K, n) array per dtype, leaves
    flattened and concatenated in pytree order, still sharded over members (``sharding``); and
    its layout (see :func:`_packing`). Inverse: :func:`unpack_members`. One compiled program per
    tree structure (cached by jit)."""
    layout, width = _packing(tree)
    return _pack_leaves(jax.tree.leaves(tree), tuple(width), sharding), layout


def packed_abstract(template, sharding) -> dict[str, jax.ShapeDtypeStruct]:
    """Shapes, dtypes and shardings of :func:`pack_members` of ``template`` (for restoring)."""
    _, width = _packing(template)
    K = jax.tree.leaves(template)[0].shape[0]
    return {dt: jax.ShapeDtypeStruct((K, n), np.dtype(dt), sharding=sharding) for dt, n in width.items()}


def unpack_members(packed: dict[str, jax.Array], template, sharding):
    """The pytree of ``template``'s structure and shapes from its :func:`pack_members` arrays."""
    layout, _ = _packing(template)
    frozen = tuple((name, dt, tuple(shape), off) for name, dt, shape, off in layout)
    return jax.tree.unflatten(jax.tree.structure(template), _unpack_leaves(packed, frozen, sharding))


def layout_bytes(layout: dict) -> np.ndarray:
    """The layouts of a checkpoint's packed parts as a uint8 array of JSON (orbax saves arrays)."""
    import json

    return np.frombuffer(json.dumps(layout, sort_keys=True).encode(), dtype=np.uint8).copy()


def unpack_raw(arrays: dict[str, np.ndarray], layout: list) -> dict:
    """Host-side unpacking without a template: ``{name: array (K, *shape)}`` from a packed
    checkpoint part and its saved layout (readers of finished runs, :mod:`jeeg.checkpoints`)."""
    out = {}
    for name, dt, shape, off in layout:
        a = np.asarray(arrays[dt])
        n = int(np.prod(shape, dtype=np.int64))
        out[name] = a[:, off : off + n].reshape(a.shape[0], *shape)
    return out


def _select(mask: jax.Array, new, old):
    """Per-member ``where(mask[k], new, old)`` over two member-stacked pytrees."""

    def sel(a, b):
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(sel, new, old)


class Trainer:
    """Jitted train / eval programs for one model, one data shape and one member-count K.

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
        model_chans = n_chans if self.input_map is None else self.input_map.shape[0]

        def make(key: jax.Array) -> nnx.Module:
            return build_model(model, model_chans, n_outputs, n_times, sfreq, rngs=nnx.Rngs(params=key), **model_kwargs)

        self._make = make
        abstract = nnx.eval_shape(lambda: make(jax.random.key(0)))
        # Per-trial input shape: (n_chans, n_times), or the model's own (e.g. electrode-grid cubes).
        self.input_shape = (n_chans, n_times) if self.input_map is not None else (
            tuple(getattr(abstract, "input_shape", (n_chans, n_times))))
        self.n_outputs, self._data_shape = n_outputs, (n_chans, n_times)
        self.graphdef = nnx.graphdef(abstract)
        self.init = jax.jit(jax.vmap(self._init_one))
        self.epoch_keys = jax.jit(jax.vmap(lambda k, e: jax.random.fold_in(jax.random.fold_in(k, 1), e), (0, None)))
        self.make_batches = jax.jit(jax.vmap(self._batches_one))
        self.train_step = jax.jit(jax.vmap(self._masked_step_one, in_axes=(0, None, None, 0, 0, 0, 0, 0)))
        self.evaluate = jax.jit(jax.vmap(self._evaluate_one, in_axes=(0, 0, None, None, 0, 0)))
        self.select = jax.jit(_select)

    # ------------------------------------------------------------------ pure single-member functions
    @staticmethod
    def _mapped(x: jax.Array, input_map: np.ndarray | None) -> jax.Array:
        """``input_map @ x`` for a batch (batch, n_chans, n_times); ``x`` itself without a map."""
        return x if input_map is None else jnp.einsum("ic,bct->bit", jnp.asarray(input_map), x)

    def _post_init(self, state: MemberState, n_members: int) -> MemberState:
        """Hook for subclasses: adjust the freshly initialised (padded) member stack."""
        return state

    def _stack_members(self, a, n_members: int) -> jax.Array:
        """A host array (K, ...) of K members' values → (n_members, ...) on the member mesh
        (padding members repeat member 0)."""
        a = np.asarray(to_host(a))
        n = a.shape[0]
        if n < n_members:
            a = np.concatenate([a, np.repeat(a[:1], n_members - n, 0)])
        return self.put_members(a[:n_members])

    def _with_init(self, state: MemberState, init: MemberState, n_members: int) -> MemberState:
        """``state`` with the parameters and batch statistics of ``init`` (member-stacked, e.g. the
        models of an earlier training stage); the optimiser state stays fresh."""
        want = jax.tree.map(lambda a: a.shape[1:], (state.params, state.batch_stats))
        got = jax.tree.map(lambda a: np.shape(a)[1:], (init.params, init.batch_stats))
        if jax.tree.structure(want) != jax.tree.structure(got) or want != got:
            raise ConfigError("the initial state does not fit this model at these shapes (n_chans, n_times, "
                              "n_outputs or hyper-parameters differ, or it is another model's state)")
        stack = lambda a: self._stack_members(a, n_members)  # noqa: E731
        return MemberState(jax.tree.map(stack, init.params), jax.tree.map(stack, init.batch_stats), state.opt_state)

    def model_state(self, flat: dict[str, np.ndarray], where: str = "checkpoint") -> MemberState:
        """The member-stacked state of this Trainer's model from flat checkpoint arrays
        (:func:`state_from_flat`; e.g. :func:`jeeg.checkpoints.load_init_run`)."""
        n_chans = self._data_shape[0] if self.input_map is None else self.input_map.shape[0]
        desc = f"model at n_chans={n_chans}, n_times={self._data_shape[1]}, n_outputs={self.n_outputs}"
        return state_from_flat(lambda: self._make(jax.random.key(0)), flat, desc, where)

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
        """
        return optax.inject_hyperparams(optax.adamw)(learning_rate=self._schedule(lr), weight_decay=weight_decay)

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
        finite = jnp.isfinite(loss)
        for leaf in jax.tree.leaves(new.params):
            finite &= jnp.all(jnp.isfinite(leaf))
        apply = do & finite
        return jax.tree.map(lambda a, b: jnp.where(apply, a, b), new, state), loss, acc, do & ~finite

    def train_epoch(self, state, X, Y, train_idx, n_train, active, keys, lr, weight_decay):
        """One epoch of K members: ``steps_per_epoch`` calls of the jitted, vmapped ``train_step``.

        The step loop runs on the host (dispatch is asynchronous, nothing syncs until the
        returned means are read): XLA:CPU ran the same step 15x slower inside ``lax.scan``
        (5.9 s vs 0.4 s per STFF-DA step, measured 2026-11-22 on 2 cores), and a host loop keeps
        one small program whatever the number of steps.

        Returns the new state, each member's mean training loss and accuracy over its steps, and
        a (K, steps_per_epoch) bool array of steps whose loss/parameters were not finite.
        """
        B = self.batch_size
        batches = self.make_batches(train_idx, n_train, jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys))
        n_steps = (n_train + B - 1) // B
        losses, accs, dones, fails = [], [], [], []
        for s in range(self.steps_per_epoch):
            do = active & (s < n_steps)
            step_keys = jax.vmap(lambda k: jax.random.fold_in(k, s + 1))(keys)
            state, loss, acc, failed = self.train_step(state, X, Y, batches[:, s], do, step_keys, lr, weight_decay)
            losses.append(loss), accs.append(acc), dones.append(do & ~failed), fails.append(failed)
        done = jnp.stack(dones, 1)
        n = jnp.maximum(done.sum(1), 1)
        mean = lambda v: jnp.sum(jnp.where(done, jnp.stack(v, 1), 0.0), 1) / n  # noqa: E731
        return state, mean(losses), mean(accs), jnp.stack(fails, 1)

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

    # ------------------------------------------------------------------ host-side driver
    def put_members(self, a: np.ndarray) -> jax.Array:
        """Host array with leading member axis → array sharded over the mesh's members axis."""
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, self.member_sharding, lambda i: a[i])

    def put_data(self, X, Y) -> tuple[jax.Array, jax.Array]:
        """The dataset (identical on every process) replicated on every device of the mesh."""
        X, Y = np.asarray(X, np.float32), np.asarray(Y, np.int32)
        return tuple(jax.make_array_from_callback(a.shape, self.replicated, lambda i, a=a: a[i]) for a in (X, Y))

    def _eval_padded(self, state: MemberState, X, Y, idx: list[np.ndarray]):
        length = max(len(i) for i in idx)
        if length > self.n_eval_pad:
            raise ConfigError(f"an evaluation part has {length} trials; this Trainer was built for ≤ {self.n_eval_pad}")
        padded, n = _pad(idx, self.n_eval_pad)
        return self.evaluate(state.params, state.batch_stats, X, Y, self.put_members(padded), self.put_members(n))

    def fit(
        self,
        X,
        Y,
        members: list[MemberData],
        keys: jax.Array,
        on_epoch: Callable[[int, dict], None] | None = None,
        checkpointing: Checkpointing | None = None,
        hparams: dict[str, np.ndarray] | None = None,
        init: MemberState | None = None,
    ) -> FitResult:
        """Train K members with early stopping on validation; score each test part once.

        Parameters
        ----------
        X : array, float32, shape (n_trials, n_chans, n_times)
            The whole (standardised) dataset: numpy, or already placed by :meth:`put_data`.
        Y : array, int32, shape (n_trials,)
        members : list of MemberData, length K
        keys : Array of PRNG keys, shape (K,)
            One key per member (e.g. ``fold_in(root, member_id)``).
        on_epoch : callable(epoch, logs), optional
            Called after every epoch with per-member ``train_loss``, ``val_loss``, ``val_accuracy``,
            ``active`` and ``failed`` arrays (progress bars).
        checkpointing : Checkpointing, optional
            Save the loop state every few epochs and resume from the latest save. A resumed fit
            ends bitwise-identical to an uninterrupted one (keys depend only on member, epoch,
            step).
        hparams : dict, optional
            Per-member ``lr`` and/or ``weight_decay``, arrays of shape (K,) (a sweep); missing
            entries take the value of ``config`` for every member.
        init : MemberState, optional
            Member-stacked parameters and batch statistics to start from instead of a fresh
            initialisation (a chained training stage, :meth:`model_state`); optimiser fresh.

        Returns
        -------
        FitResult

        Raises
        ------
        ConfigError
            If the batch size exceeds a member's training part, or a checkpoint to resume from
            belongs to other members (different keys or shapes).
        """
        c, K = self.config, len(members)
        Kp = math.ceil(K / self.n_devices) * self.n_devices
        members = list(members) + [members[0]] * (Kp - K)  # inactive padding members
        if not (isinstance(X, jax.Array) and X.sharding == self.replicated):
            X, Y = self.put_data(X, Y)
        key_data = np.asarray(jax.random.key_data(keys))
        key_data = np.concatenate([key_data, np.repeat(key_data[:1], Kp - K, 0)])
        keys = jax.random.wrap_key_data(self.put_members(key_data))
        hp = {"lr": c.lr, "weight_decay": c.weight_decay, **(hparams or {})}
        unknown = set(hp) - {"lr", "weight_decay"}
        if unknown:
            raise ConfigError(f"per-member hparams may be lr and weight_decay only; got {sorted(unknown)}")
        hp = {k: np.broadcast_to(np.asarray(v, np.float32), (K,)) for k, v in hp.items()}
        hp = {k: np.concatenate([v, np.repeat(v[:1], Kp - K)]) for k, v in hp.items()}
        lr, wd = self.put_members(hp["lr"]), self.put_members(hp["weight_decay"])
        train_np, n_train_np = _pad([m.train for m in members], self.n_train_pad)
        if n_train_np[:K].min() < self.batch_size:
            raise ConfigError(f"batch_size {self.batch_size} exceeds a member's training part ({n_train_np.min()})")
        train_idx, n_train = self.put_members(train_np), self.put_members(n_train_np)
        state = self._post_init(self.init(keys, lr, wd), Kp)
        if init is not None:
            state = self._with_init(state, init, Kp)
        best = state
        nan = lambda: np.full((Kp, c.max_epochs), np.nan)  # noqa: E731
        loop = {
            "epoch": np.array(-1),  # last finished epoch
            "key_data": key_data,
            "hparams": hp,
            "active": np.arange(Kp) < K,
            "best_score": np.full(Kp, np.inf),
            "best_loss": np.full(Kp, np.inf),
            "best_epoch": np.zeros(Kp, np.int64),
            "stopped_epoch": np.full(Kp, c.max_epochs - 1, np.int64),
            "failed_step": np.full(Kp, -1, np.int64),
            "history": {k: nan() for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")},
        }
        manager, packed = None, True
        if checkpointing is not None:
            import orbax.checkpoint as ocp

            manager = ocp.CheckpointManager(
                Path(checkpointing.directory).absolute(),
                options=ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False),
            )
            if checkpointing.resume and manager.latest_step() is not None:
                packed = self._is_packed(manager)  # a run begun unpacked (before packing) stays so
                state, best, loop = self._restore(manager, {"state": state, "best": best, "loop": loop}, packed)
        hist = loop["history"]
        for epoch in range(int(loop["epoch"]) + 1, c.max_epochs):
            active = loop["active"]
            if not active.any():
                break
            ekeys = self.epoch_keys(keys, epoch)
            state, tr_loss, tr_acc, fails = self.train_epoch(
                state, X, Y, train_idx, n_train, self.put_members(active), ekeys, lr, wd
            )
            _, _, va_loss, va_acc = self._eval_padded(state, X, Y, [m.val for m in members])
            tr_loss, tr_acc, va_loss, va_acc = (to_host(a).astype(np.float64) for a in (tr_loss, tr_acc, va_loss, va_acc))
            fails = to_host(fails)
            logs = {"train_loss": tr_loss, "train_accuracy": tr_acc, "val_loss": va_loss, "val_accuracy": va_acc}
            for name, val in logs.items():  # by name: a restored checkpoint's dicts come back key-sorted
                hist[name][active, epoch] = val[active]
            failed_now = active & fails.any(1)
            loop["failed_step"][failed_now] = epoch * self.steps_per_epoch + fails.argmax(1)[failed_now]
            score = va_loss if c.monitor == "val_loss" else -va_acc
            improved = active & ((score < loop["best_score"]) | ((score == loop["best_score"]) & (va_loss < loop["best_loss"])))
            loop["best_score"][improved], loop["best_loss"][improved] = score[improved], va_loss[improved]
            loop["best_epoch"][improved] = epoch
            best = self.select(self.put_members(improved), state, best)
            stop = active & ((epoch - loop["best_epoch"] >= c.patience) | failed_now)
            loop["stopped_epoch"][stop] = epoch
            loop["active"] = active & ~stop
            loop["epoch"] = np.array(epoch)
            if on_epoch is not None:
                on_epoch(epoch, dict(train_loss=tr_loss[:K], val_loss=va_loss[:K], val_accuracy=va_acc[:K],
                                     active=loop["active"][:K].copy(), failed=loop["failed_step"][:K] >= 0))
            finished = not loop["active"].any() or epoch == c.max_epochs - 1
            if manager is not None and ((epoch + 1) % checkpointing.every == 0 or finished):
                self._save(manager, epoch, {"state": state, "best": best, "loop": loop}, packed)
        n_run = int(loop["epoch"]) + 1
        logits, aux, _, _ = self._eval_padded(best, X, Y, [m.test for m in members])
        logits, aux = to_host(logits), jax.tree.map(to_host, aux)
        return FitResult(
            history={k: v[:K, :n_run] for k, v in hist.items()},
            best_epoch=loop["best_epoch"][:K].copy(),
            stopped_epoch=np.minimum(loop["stopped_epoch"][:K], n_run - 1),
            test_logits=[logits[k, : len(m.test)] for k, m in enumerate(members[:K])],
            test_aux=[jax.tree.map(lambda a, k=k, n=len(m.test): a[k, :n], aux) for k, m in enumerate(members[:K])],
            state=best,
            failed=loop["failed_step"][:K] >= 0,
            failed_step=loop["failed_step"][:K].copy(),
        )

    def _save(self, manager, epoch: int, tree: dict, packed: bool = True) -> None:
        """Save ``{"state", "best", "loop"}``: each member stack packed into one array per dtype
        (:func:`pack_members`), their layout as JSON bytes in a uint8 array ``"layout"``. Orbax's
        cost grows with the number of arrays: MSC-T3AM's two stacks are 820 arrays, 1.27 s a save
        leaf by leaf, 0.08 s packed (benchmarks/checkpoint_save.py, 2-core CPU, 2026-11-27).
        ``packed=False``: one array per leaf, as jeeg saved before, for runs begun that way."""
        import orbax.checkpoint as ocp

        if packed:
            stacks, layout = {}, {}
            for part in PACKED_PARTS:
                stacks[part], layout[part] = pack_members(tree[part], self.member_sharding)
            tree = {**tree, **stacks, "layout": layout_bytes(layout)}
        manager.save(epoch, args=ocp.args.StandardSave(tree), force=True)
        manager.wait_until_finished()

    @staticmethod
    def _is_packed(manager) -> bool:
        """Whether the latest checkpoint of ``manager`` holds packed member stacks."""
        from jeeg.checkpoints import checkpoint_keys

        return "layout" in checkpoint_keys(Path(manager.directory) / str(manager.latest_step()) / "default")

    def _restore(self, manager, template: dict, packed: bool):
        """The latest checkpoint's state, best and loop; ``packed``: as :meth:`_is_packed` found it."""
        import orbax.checkpoint as ocp

        step = manager.latest_step()
        try:
            if packed:
                abstract = {**template, "layout": layout_bytes({p: _packing(template[p])[0] for p in PACKED_PARTS})}
                for part in PACKED_PARTS:
                    abstract[part] = packed_abstract(template[part], self.member_sharding)
                raw = manager.restore(step, args=ocp.args.StandardRestore(abstract))
                if not np.array_equal(np.asarray(raw["layout"]), abstract["layout"]):
                    raise ValueError("its member stacks are laid out for another model")
                tree = {**raw, **{part: unpack_members(raw[part], template[part], self.member_sharding)
                                  for part in PACKED_PARTS}}
            else:
                tree = manager.restore(step, args=ocp.args.StandardRestore(template))
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"checkpoint {manager.directory}/{step} does not match this run's members and model ({e}); "
                "resume only a run with the same config, or remove the checkpoint folder"
            ) from None
        same_hp = all(np.array_equal(tree["loop"]["hparams"][k], v) for k, v in template["loop"]["hparams"].items())
        if not np.array_equal(tree["loop"]["key_data"], template["loop"]["key_data"]) or not same_hp:
            raise ConfigError(
                f"checkpoint {manager.directory}/{step} was written by members with other keys or "
                "hyper-parameters (another seed, other folds or another grid); resume only the run that wrote it"
            )
        loop = jax.tree.map(np.array, tree["loop"])  # writable host copies
        return tree["state"], tree["best"], loop

    def bytes_per_member(self, n_trials: int) -> int:
        """Device memory one member needs during a train step (XLA's compiled memory analysis).

        Compiles the one-member step once (seconds) and returns its temporary buffers plus three
        copies of the member state (current, best, updated); the dataset of ``n_trials`` trials
        is shared by all members and not counted. Used to split many members into programs that
        fit the device (:meth:`jeeg.cv.CVRun.members_per_program`).
        """
        key = jax.random.key(0)
        state = jax.eval_shape(self._init_one, key, 1e-3, 0.0)
        f32 = lambda *shape, dt=jnp.float32: jax.ShapeDtypeStruct(shape, dt)  # noqa: E731
        X = f32(n_trials, *self.input_shape)
        args = (state, X, f32(n_trials, dt=jnp.int32), f32(self.batch_size, dt=jnp.int32), f32(dt=jnp.bool_),
                jax.eval_shape(lambda: key), f32(), f32())
        mem = jax.jit(self._masked_step_one).lower(*args).compile().memory_analysis()
        temp = int(getattr(mem, "temp_size_in_bytes", 0) or 0) if mem is not None else 0
        state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
        return temp + 3 * state_bytes

    def describe(self) -> dict:
        """JSON-ready summary of the engine settings."""
        return dict(asdict(self.config), effective_batch_size=self.batch_size, steps_per_epoch=self.steps_per_epoch)
