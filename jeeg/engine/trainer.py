"""The trainer: drives the compiled run of a member stack from the host.

:class:`Trainer` places the data and the members on the mesh, compiles the chunk program once
(ahead of time, which also gives its memory need), runs it chunk after chunk, and between chunks
reports progress (``on_epoch``) and saves orbax checkpoints (:mod:`jeeg.engine.checkpoint`). A
resumed or differently chunked fit ends bitwise-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jeeg.engine import checkpoint as ckpt
from jeeg.engine.checkpoint import Checkpointing, state_from_flat
from jeeg.engine.loop import CompiledLoop, MemberData, MemberState
from jeeg.engine.mesh import put_members, put_replicated, to_host
from jeeg.errors import ConfigError

#: Seconds of training between two progress updates of :meth:`Trainer.fit` with ``on_epoch``.
PROGRESS_SECONDS = 2.0

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


#: The per-member loop bookkeeping besides ``epoch`` and ``history``: its dtype in the compiled run
#: and on the host (as checkpoints have always held it).
_LOOP_FIELDS = {"active": (bool, bool), "best_score": (np.float32, np.float64), "best_loss": (np.float32, np.float64),
                "best_epoch": (np.int32, np.int64), "stopped_epoch": (np.int32, np.int64),
                "failed_step": (np.int32, np.int64)}


def _repeat_first(a, n: int) -> np.ndarray:
    """A host array (K, ...) of K members' values, padded to (n, ...) with copies of member 0 (the
    inactive members that fill the member axis to a multiple of the device count)."""
    a = np.asarray(a)[:n]
    return np.concatenate([a, np.repeat(a[:1], n - a.shape[0], 0)])  # a new, contiguous array


def _pad(indices: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(indices), length), np.int32)
    for k, idx in enumerate(indices):
        out[k, : len(idx)] = idx
    return out, np.array([len(i) for i in indices], np.int32)


class Trainer(CompiledLoop):
    """Trains K members of one model with early stopping on validation, as a compiled run.

    Constructed as :class:`jeeg.engine.loop.CompiledLoop` (same parameters); adds the host side:
    :meth:`start` places data and members, :meth:`fit` runs the chunks, checkpoints and reports.
    """

    def _post_init(self, state: MemberState, n_members: int) -> MemberState:
        """Hook for subclasses: adjust the freshly initialised (padded) member stack."""
        return state

    def _stack_members(self, a, n_members: int) -> jax.Array:
        """A host array (K, ...) of K members' values → (n_members, ...) on the member mesh
        (padding members repeat member 0)."""
        return self.put_members(_repeat_first(to_host(a), n_members))

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

    def predict(self, state: MemberState, X, idx: np.ndarray) -> np.ndarray:
        """Logits of every member of ``state`` on the trials ``idx`` of ``X`` (inference mode:
        no dropout, BatchNorm with its running statistics), e.g. the models of a finished run
        applied to new subjects (:mod:`jeeg.evaluate`).

        Parameters
        ----------
        state : MemberState
            Member-stacked parameters and batch statistics, leaves (K, ...) (:meth:`model_state`);
            the optimiser state is not used.
        X : ndarray, float32, shape (n_trials, *input_shape)
            The model's inputs (standardised / represented as in training).
        idx : ndarray int, shape (n,)
            Trials to score; ``n`` ≤ the ``n_eval_pad`` this Trainer was built with.

        Returns
        -------
        ndarray, float32, shape (K, n, n_outputs)

        Raises
        ------
        ConfigError
            If ``idx`` holds more trials than the Trainer was built for.
        """
        K = jax.tree.leaves(state.params)[0].shape[0]
        Kp = math.ceil(K / self.n_devices) * self.n_devices
        stack = lambda a: self._stack_members(a, Kp)
        placed = MemberState(jax.tree.map(stack, state.params), jax.tree.map(stack, state.batch_stats), None)
        Xd, Yd = self.put_data(X, np.zeros(len(X), np.int32))
        idx = np.asarray(idx)
        logits = to_host(self._eval_padded(placed, Xd, Yd, [idx] * K)[0])
        return logits[:K, : len(idx)]

    # ------------------------------------------------------------------ host-side driver
    def put_members(self, a: np.ndarray) -> jax.Array:
        """Host array with leading member axis → array sharded over the mesh's members axis."""
        return put_members(a, self.mesh)

    def put_data(self, X, Y) -> tuple[jax.Array, jax.Array]:
        """The dataset (identical on every process) replicated on every device of the mesh."""
        return put_replicated(np.asarray(X, np.float32), self.mesh), put_replicated(np.asarray(Y, np.int32), self.mesh)

    def _eval_padded(self, state: MemberState, X, Y, idx: list[np.ndarray]):
        """Evaluate each member of ``state`` on its trials ``idx`` (a list as long as the real
        members; the padding members repeat the first list)."""
        n_members = jax.tree.leaves(state.params)[0].shape[0]
        idx = list(idx) + [idx[0]] * (n_members - len(idx))
        length = max(len(i) for i in idx)
        if length > self.n_eval_pad:
            raise ConfigError(f"an evaluation part has {length} trials; this Trainer was built for ≤ {self.n_eval_pad}")
        padded, n = _pad(idx, self.n_eval_pad)
        return self.evaluate(state.params, state.batch_stats, X, Y, self.put_members(padded), self.put_members(n))

    def put_replicated(self, a) -> jax.Array:
        """A host value (identical on every process) replicated on every device of the mesh."""
        return put_replicated(a, self.mesh)

    def _device_loop(self, loop: dict) -> dict:
        """The loop bookkeeping of :meth:`fit` (host numpy, as checkpoints hold it) on the device:
        every array (``epoch``: each member's next epoch) is sharded over members."""
        m = self.put_members
        return {
            **{k: m(np.asarray(loop[k], dev)) for k, (dev, _) in _LOOP_FIELDS.items()},
            "epoch": m(np.full(len(loop["active"]), int(loop["epoch"]) + 1, np.int32)),
            "history": {k: m(np.asarray(v, np.float32)) for k, v in loop["history"].items()},
        }

    @staticmethod
    def _host_loop(dev: dict, key_data: np.ndarray, hparams: dict) -> dict:
        """The device loop bookkeeping back on the host, in the layout and dtypes that
        checkpoints have always held (``epoch``: the last finished epoch)."""
        return {
            **{k: to_host(dev[k]).astype(host) for k, (_, host) in _LOOP_FIELDS.items()},
            "epoch": np.array(int(to_host(dev["epoch"]).max()) - 1),
            "key_data": key_data,
            "hparams": hparams,
            "history": {k: to_host(v).astype(np.float64) for k, v in dev["history"].items()},
        }

    def program(self, carry: dict, data: dict, end: jax.Array):
        """The compiled chunk program (:meth:`_run_chunk`) for these arguments' shapes, dtypes and
        shardings: lowered and compiled once, ahead of time, then reused; its
        ``memory_analysis()`` is the run's memory need (:meth:`memory_need`)."""
        abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding), (carry, data, end))
        sig = str(jax.tree.map(lambda a: (a.shape, str(a.dtype), str(a.sharding)), abstract))
        if sig not in self._programs:
            self._programs[sig] = self.run_chunk.lower(*abstract).compile()
        return self._programs[sig]

    def start(self, X, Y, members: list[MemberData], keys: jax.Array, hparams: dict | None = None,
              init: MemberState | None = None) -> tuple[dict, dict, dict]:
        """The device-resident arguments of the compiled run of K members: ``carry`` (state, best
        state, loop bookkeeping; donated to each chunk), ``data`` (dataset, padded index arrays,
        keys, per-member hyper-parameters) and the host-side loop (:meth:`_host_loop` layout).
        Arguments as :meth:`fit`; the member axis is padded to a multiple of the device count
        with inactive copies of member 0."""
        c, K = self.config, len(members)
        Kp = math.ceil(K / self.n_devices) * self.n_devices
        members = list(members) + [members[0]] * (Kp - K)  # inactive padding members
        if not (isinstance(X, jax.Array) and X.sharding == self.replicated):
            X, Y = self.put_data(X, Y)
        key_data = _repeat_first(jax.random.key_data(keys), Kp)
        keys = jax.random.wrap_key_data(self.put_members(key_data))
        hp = {"lr": c.lr, "weight_decay": c.weight_decay, **(hparams or {})}
        unknown = set(hp) - {"lr", "weight_decay"}
        if unknown:
            raise ConfigError(f"per-member hparams may be lr and weight_decay only; got {sorted(unknown)}")
        hp = {k: _repeat_first(np.broadcast_to(np.asarray(v, np.float32), (K,)), Kp) for k, v in hp.items()}
        train_np, n_train_np = _pad([m.train for m in members], self.n_train_pad)
        if n_train_np[:K].min() < self.batch_size:
            raise ConfigError(f"batch_size {self.batch_size} exceeds a member's training part ({n_train_np.min()})")
        val = [m.val for m in members]
        if max(len(i) for i in val) > self.n_eval_pad:
            raise ConfigError(f"a validation part has {max(len(i) for i in val)} trials; "
                              f"this Trainer was built for ≤ {self.n_eval_pad}")
        val_np, n_val_np = _pad(val, self.n_eval_pad)
        lr, wd = self.put_members(hp["lr"]), self.put_members(hp["weight_decay"])
        data = {"X": X, "Y": Y, "train_idx": self.put_members(train_np), "n_train": self.put_members(n_train_np),
                "val_idx": self.put_members(val_np), "n_val": self.put_members(n_val_np), "key": keys,
                "lr": lr, "weight_decay": wd}
        state = self._post_init(self.init(keys, lr, wd), Kp)
        if init is not None:
            state = self._with_init(state, init, Kp)
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
        carry = self._placed({"state": state, "best": jax.tree.map(jnp.copy, state), "loop": self._device_loop(loop)})
        return carry, data, loop

    def _placed(self, carry: dict) -> dict:
        """``carry`` with every leaf sharded over members, as the compiled chunk takes and gives it."""
        return jax.device_put(carry, self.member_sharding)

    def memory_need(self, X, Y, members: list[MemberData], keys: jax.Array) -> int:
        """Device bytes the compiled run of these members needs: arguments, outputs and
        temporaries of the chunk program, from XLA's memory analysis of the one compile that
        :meth:`fit` then reuses (0 where the backend reports none)."""
        carry, data, _ = self.start(X, Y, members, keys)
        mem = self.program(carry, data, self.put_replicated(np.int32(0))).memory_analysis()
        if mem is None:
            return 0
        return sum(int(getattr(mem, f, 0) or 0) for f in
                   ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes"))

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
        chunk_epochs: int | None = None,
        n_epochs: int | None = None,
    ) -> FitResult:
        """Train K members with early stopping on validation; score each test part once.

        The run is compiled: each call of the chunk program (:meth:`_run_chunk`) trains every
        member for several epochs inside XLA (mini-batches, keys, validation, early stopping,
        best-epoch parameters, NaN/Inf isolation and the history all on the device). The host
        sees the run only between chunks, where it calls ``on_epoch``, saves checkpoints and
        reads the progress. The results do not depend on where chunks end.

        Parameters
        ----------
        X : array, float32, shape (n_trials, n_chans, n_times)
            The whole (standardised) dataset: numpy, or already placed by :meth:`put_data`.
        Y : array, int32, shape (n_trials,)
        members : list of MemberData, length K
        keys : Array of PRNG keys, shape (K,)
            One key per member (e.g. ``fold_in(root, member_id)``).
        on_epoch : callable(epoch, logs), optional
            Called at chunk ends, once for every epoch of the chunk, with per-member
            ``train_loss``, ``val_loss``, ``val_accuracy``, ``active`` and ``failed`` arrays
            (progress bars).
        checkpointing : Checkpointing, optional
            Save the loop state every ``every`` epochs (a chunk always ends there) and resume from
            the latest save. A resumed fit ends bitwise-identical to an uninterrupted one (keys
            depend only on member, epoch, step).
        hparams : dict, optional
            Per-member ``lr`` and/or ``weight_decay``, arrays of shape (K,) (a sweep); missing
            entries take the value of ``config`` for every member.
        init : MemberState, optional
            Member-stacked parameters and batch statistics to start from instead of a fresh
            initialisation (a chained training stage, :meth:`model_state`); optimiser fresh.
        chunk_epochs : int, optional
            Epochs per chunk. Default: the whole run without ``on_epoch``; with it, chunks of
            about :data:`PROGRESS_SECONDS` (measured after the first, which compiles).
        n_epochs : int, optional
            Train at most this many epochs (default ``config.max_epochs``); the learning-rate
            schedule still spans ``config.max_epochs`` epochs, so the first ``n_epochs`` follow it
            exactly as in a run of ``max_epochs`` (the final model of :mod:`jeeg.final` stops
            where its cross-validation folds were selected).

        Returns
        -------
        FitResult

        Raises
        ------
        ConfigError
            If the batch size exceeds a member's training part, ``n_epochs`` < 1, or a checkpoint
            to resume from belongs to other members (different keys or shapes).
        """
        c, K = self.config, len(members)
        if n_epochs is not None and n_epochs < 1:
            raise ConfigError(f"n_epochs must be ≥ 1; got {n_epochs}")
        limit = c.max_epochs if n_epochs is None else min(int(n_epochs), c.max_epochs)
        carry, data, loop = self.start(X, Y, members, keys, hparams, init)
        manager, packed = None, True
        if checkpointing is not None:
            manager = ckpt.open_manager(checkpointing.directory)
            if checkpointing.resume and manager.latest_step() is not None:
                packed = self._is_packed(manager)  # a run begun unpacked (before packing) stays so
                state, best, loop = self._restore(manager, {**carry, "loop": loop}, packed)
                carry = self._placed({"state": state, "best": best, "loop": self._device_loop(loop)})
        if chunk_epochs is not None and chunk_epochs < 1:
            raise ConfigError(f"chunk_epochs must be ≥ 1; got {chunk_epochs}")
        n_chunk = chunk_epochs or (1 if on_epoch is not None else c.max_epochs)
        compiled = self.program(carry, data, self.put_replicated(np.int32(0)))
        first = True
        while int(loop["epoch"]) + 1 < limit and loop["active"].any():
            e0 = int(loop["epoch"]) + 1
            end = min(e0 + n_chunk, limit)
            if manager is not None:
                end = min(end, (e0 // checkpointing.every + 1) * checkpointing.every)
            t0 = time.perf_counter()
            carry = compiled(carry, data, self.put_replicated(np.int32(end)))
            loop = self._host_loop(carry["loop"], loop["key_data"], loop["hparams"])  # waits for the chunk
            last = int(loop["epoch"])
            if chunk_epochs is None and on_epoch is not None and not first:
                per_epoch = (time.perf_counter() - t0) / max(last - e0 + 1, 1)
                n_chunk = max(1, int(PROGRESS_SECONDS / max(per_epoch, 1e-9)))
            first = False
            if on_epoch is not None:
                for epoch in range(e0, last + 1):
                    on_epoch(epoch, self._epoch_logs(loop, epoch, K))
            finished = not loop["active"].any() or last == limit - 1
            if manager is not None and ((last + 1) % checkpointing.every == 0 or finished):
                self._save(manager, last, {**carry, "loop": loop}, packed)
        hist, n_run, best = loop["history"], int(loop["epoch"]) + 1, carry["best"]
        logits, aux, _, _ = self._eval_padded(best, data["X"], data["Y"], [m.test for m in members])
        logits, aux = to_host(logits), jax.tree.map(to_host, aux)
        return FitResult(
            history={k: v[:K, :n_run] for k, v in hist.items()},
            best_epoch=loop["best_epoch"][:K].copy(),
            stopped_epoch=np.minimum(loop["stopped_epoch"][:K], n_run - 1),
            test_logits=[logits[k, : len(m.test)] for k, m in enumerate(members)],
            test_aux=[jax.tree.map(lambda a, k=k, n=len(m.test): a[k, :n], aux) for k, m in enumerate(members)],
            state=best,
            failed=loop["failed_step"][:K] >= 0,
            failed_step=loop["failed_step"][:K].copy(),
        )

    def _epoch_logs(self, loop: dict, epoch: int, K: int) -> dict:
        """``on_epoch``'s logs of one finished epoch, read from the history of a chunk."""
        h = loop["history"]
        # A member stopped at epoch s (inactive now) was active after every epoch before s.
        active = loop["active"][:K] | (loop["stopped_epoch"][:K] > epoch)
        failed = (loop["failed_step"][:K] >= 0) & (loop["failed_step"][:K] < (epoch + 1) * self.steps_per_epoch)
        return dict(train_loss=h["train_loss"][:K, epoch], val_loss=h["val_loss"][:K, epoch],
                    val_accuracy=h["val_accuracy"][:K, epoch], active=active, failed=failed)

    def _save(self, manager, epoch: int, tree: dict, packed: bool = True) -> None:
        """Save the loop state (:func:`jeeg.engine.checkpoint.save`)."""
        ckpt.save(manager, epoch, tree, self.member_sharding, packed)

    @staticmethod
    def _is_packed(manager) -> bool:
        return ckpt.is_packed(manager)

    def _restore(self, manager, template: dict, packed: bool):
        return ckpt.restore(manager, template, self.member_sharding, packed)

    def describe(self) -> dict:
        """JSON-ready summary of the engine settings."""
        return dict(asdict(self.config), effective_batch_size=self.batch_size, steps_per_epoch=self.steps_per_epoch,
                    member_axis=self.member_axis)
