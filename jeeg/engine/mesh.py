"""Mesh and placement of a member stack: the 1-D ``"members"`` mesh, host ↔ device transfers,
and how one member's function is lifted over the member axis (``vmap`` or ``map``).

Members are sharded over the mesh's devices (``NamedSharding(mesh, P("members"))``); the dataset
and scalars are replicated. Across hosts the same code runs after ``jax.distributed.initialize()``.
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

#: The member-axis formulations of the compiled run (:func:`over_members`).
MEMBER_AXES = ("map", "vmap")


def member_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh named ``"members"`` over ``devices`` (default: every device of every process)."""
    devices = list(jax.devices() if devices is None else devices)
    return jax.make_mesh((len(devices),), ("members",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)


def default_member_axis(mesh: jax.sharding.Mesh) -> str:
    """The engine's member-axis formulation on ``mesh``'s devices: ``"map"`` on CPUs (members one
    after another inside the program), ``"vmap"`` on accelerators (see :data:`MEMBER_AXES`)."""
    return "map" if mesh.devices.flat[0].platform == "cpu" else "vmap"


def to_host(x) -> np.ndarray:
    """A (possibly multi-host sharded) array as one numpy array on every process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def put_members(a, mesh: jax.sharding.Mesh) -> jax.Array:
    """Host array with leading member axis (identical on every process) → array sharded over the
    mesh's ``"members"`` axis."""
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, NamedSharding(mesh, P("members")), lambda i: a[i])


def put_replicated(a, mesh: jax.sharding.Mesh) -> jax.Array:
    """A host value (identical on every process) replicated on every device of the mesh."""
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, NamedSharding(mesh, P()), lambda i: a[i])


def over_members(f: Callable, mesh: jax.sharding.Mesh, member_axis: str) -> Callable:
    """``f(member, shared)`` of ONE member → the same over the leading member axis of ``member``
    (``shared``: replicated arguments).

    ``"vmap"`` batches the members' arithmetic (a per-member convolution kernel becomes a grouped
    convolution); ``"map"`` runs each device's members one after the other inside the program
    (``jax.shard_map`` over the ``"members"`` mesh axis, then ``lax.map``), so that every member
    computes exactly what it would alone, bit for bit.
    """
    if member_axis == "vmap":
        return jax.vmap(f, in_axes=(0, None))

    def local(member, shared):
        return jax.lax.map(lambda m: f(m, shared), member)

    return jax.shard_map(local, mesh=mesh, in_specs=(P("members"), P()), out_specs=P("members"),
                         check_vma=False)  # models need not mark their scan carries as varying
