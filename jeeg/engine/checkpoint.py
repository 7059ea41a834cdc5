"""The checkpoint format of a member stack: packing, orbax save and restore, and the names that a
run gives its checkpoints.

A training checkpoint is one orbax item ``{"state", "best", "loop", "layout"}``: the current and
selected-epoch member stacks, each packed into one (members, n) array per dtype
(:func:`pack_members`), the host-side loop bookkeeping, and the packed stacks' layout as JSON
bytes. A run keeps one ``CheckpointManager`` folder per program of members,
:func:`program_dir`; member ``position`` of a run with seed ``seed`` has the key
:func:`member_key`. Readers of finished runs use :func:`restore_raw`, which reads packed and
leaf-by-leaf checkpoints alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jeeg.engine.loop import MemberState
from jeeg.errors import ConfigError


def program_dir(run: Path, model: str, index: int) -> Path:
    """The checkpoint folder of a run's ``index``-th program of members: ``checkpoints/<model>-NNNN``."""
    return Path(run) / "checkpoints" / f"{model}-{index:04d}"


def member_key(seed: int, position: int) -> jax.Array:
    """The PRNG key of the member at fold ``position`` of a run with ``seed``:
    ``fold_in(key(seed), position)``, the same whether the fold trains alone or with others."""
    return jax.random.fold_in(jax.random.key(seed), position)


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


def leaf_name(key_path) -> str:
    """``"params/conv_t/kernel/value"``-style name of a pytree leaf from its JAX key path (dict keys,
    attribute names and sequence indices joined by ``/``), as orbax checkpoints nest them."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in key_path)


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


#: The member stacks of a training checkpoint that are saved packed (:func:`pack_members`).
PACKED_PARTS = ("state", "best")


def _packing(tree) -> tuple[list, dict[str, int]]:
    """Layout ``[[name, dtype, shape without the member axis, offset], ...]`` of a member-stacked
    pytree's leaves, and the packed width of each dtype."""
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


def _item_metadata(path: Path):
    """The pytree metadata of one orbax checkpoint item (``.../<step>/default``)."""
    import logging

    import orbax.checkpoint as ocp

    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)  # orbax warns that the step's metadata sits one folder up
    try:
        return ocp.StandardCheckpointer().metadata(path).item_metadata.tree
    finally:
        absl_log.setLevel(level)


def checkpoint_keys(path: Path) -> list[str]:
    """The top-level entries of one orbax checkpoint item (``.../<step>/default``)."""
    return list(_item_metadata(path))


def restore_raw(path: Path) -> dict:
    """Every array of one orbax checkpoint item (``.../<step>/default``) as written, on this
    process's first device, whatever mesh wrote it (e.g. another number of processes). Member
    stacks saved packed (:func:`pack_members`) come back unpacked, nested by name as
    orbax nests a pytree saved leaf by leaf, so both formats read alike."""
    import orbax.checkpoint as ocp

    dev = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    meta = _item_metadata(path)
    tree = ocp.StandardCheckpointer().restore(
        path, jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=dev), meta))
    if "layout" in tree:
        for part, layout in json.loads(np.asarray(tree.pop("layout")).tobytes().decode()).items():
            tree[part] = _nest(unpack_raw(tree[part], layout))
    return tree


def _nest(flat: dict[str, np.ndarray]) -> dict:
    """``{"a/b/c": x}`` → ``{"a": {"b": {"c": x}}}`` (the nesting orbax gives a restored pytree)."""
    out: dict = {}
    for name, value in flat.items():
        *parents, last = name.split("/")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def save(manager, epoch: int, tree: dict, sharding, packed: bool = True) -> None:
    """Save ``{"state", "best", "loop"}``: each member stack packed into one array per dtype
    (:func:`pack_members`), their layout as JSON bytes in a uint8 array ``"layout"``. Orbax's
    cost grows with the number of arrays: MSC-T3AM's two stacks are 820 arrays, 1.27 s a save
    leaf by leaf, 0.08 s packed (benchmarks/checkpoint_save.py, 2-core CPU, 2026-11-27).
    ``packed=False``: one array per leaf, as jeeg saved before, for runs begun that way.

    Raises
    ------
    OSError
        If the step cannot be written (disk full, folder read-only), as orbax raises it, naming the
        step's temporary folder; the previous step stays the latest (:func:`open_manager`)."""
    import orbax.checkpoint as ocp

    if packed:
        stacks, layout = {}, {}
        for part in PACKED_PARTS:
            stacks[part], layout[part] = pack_members(tree[part], sharding)
        tree = {**tree, **stacks, "layout": layout_bytes(layout)}
    manager.save(epoch, args=ocp.args.StandardSave(tree), force=True)
    manager.wait_until_finished()

def is_packed(manager) -> bool:
    """Whether the latest checkpoint of ``manager`` holds packed member stacks."""
    return "layout" in checkpoint_keys(Path(manager.directory) / str(manager.latest_step()) / "default")

def restore(manager, template: dict, sharding, packed: bool):
    """The latest checkpoint's ``state``, ``best`` and host ``loop`` (writable numpy copies) of
    ``manager``, shaped and sharded (``sharding``) as ``template``; ``packed``: as :func:`is_packed`
    found it.

    Raises
    ------
    ConfigError
        If the checkpoint holds another model's or other shapes' stacks, or was written by members
        with other keys or hyper-parameters (another seed, other folds, another grid).
    """
    import orbax.checkpoint as ocp

    step = manager.latest_step()
    try:
        if packed:
            abstract = {**template, "layout": layout_bytes({p: _packing(template[p])[0] for p in PACKED_PARTS})}
            for part in PACKED_PARTS:
                abstract[part] = packed_abstract(template[part], sharding)
            raw = manager.restore(step, args=ocp.args.StandardRestore(abstract))
            if not np.array_equal(np.asarray(raw["layout"]), abstract["layout"]):
                raise ValueError("its member stacks are laid out for another model")
            tree = {**raw, **{part: unpack_members(raw[part], template[part], sharding)
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


def open_manager(directory: Path):
    """An orbax ``CheckpointManager`` over ``directory`` keeping the last two saves, synchronous.

    Orbax writes a step into ``<step>.orbax-checkpoint-tmp`` and renames it to ``<step>`` only once
    every array is written; ``latest_step()`` sees finalised steps only. So a save cut short (SIGKILL,
    full disk) leaves the previous step to resume from; its temporary folder is deleted here
    (``cleanup_tmp_directories``), giving back the space it took. Only the process holding the run
    directory (:func:`jeeg.rundir.hold_run_dir`) opens its managers."""
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        Path(directory).absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False,
                                             cleanup_tmp_directories=True),
    )
