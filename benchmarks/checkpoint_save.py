"""Time one training checkpoint save, packed (jeeg's format) against leaf by leaf, per model.

``Trainer._save`` writes ``{"state", "best", "loop"}`` with orbax; jeeg packs each member stack
into one array per dtype (:func:`jeeg.engine.checkpoint.pack_members`) because orbax's cost grows with the
number of arrays. This measures both ways on the same states (K members, synchronous saves,
median of ``--repeats``) and writes ``results/<device>/checkpoint_save.json``::

    python benchmarks/checkpoint_save.py [--members 1] [--repeats 5] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from harness import write_result  # noqa: E402

#: (model, kwargs, n_chans, n_times, sfreq): EEGMMIDB shapes of the experiments.
MODELS = [
    ("eegnet", {"kernel_length": 41}, 64, 640, 160.0),
    ("msc_t3am", {"pool": 6}, 64, 640, 160.0),
    ("stff_da", {}, 64, 640, 160.0),
    ("sst_emotionnet", {"grid_shape": [32, 32]}, 64, 640, 160.0),
]


def time_saves(model: str, kwargs: dict, n_chans: int, n_times: int, sfreq: float, K: int, repeats: int) -> dict:
    import orbax.checkpoint as ocp

    from jeeg.engine import TrainConfig, Trainer

    cfg = TrainConfig(batch_size=16, max_epochs=30)
    tr = Trainer(model, kwargs, n_chans, 2, n_times, sfreq, cfg, batch_size=16, n_train_pad=32, n_eval_pad=16)
    keys = jax.random.split(jax.random.key(0), K)
    lr = tr.put_members(np.full(K, 1e-3, np.float32))
    state = tr.init(keys, lr, lr)
    loop = {"epoch": np.array(0), "key_data": np.asarray(jax.random.key_data(keys))}
    tree = {"state": state, "best": state, "loop": loop}
    out = {"model": model, "members": K, "n_arrays": 2 * len(jax.tree.leaves(state)),
           "bytes": 2 * sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(state))}
    for packed in (False, True):
        with tempfile.TemporaryDirectory() as d:
            manager = ocp.CheckpointManager(Path(d), options=ocp.CheckpointManagerOptions(
                max_to_keep=2, enable_async_checkpointing=False))
            times = []
            for step in range(repeats + 1):  # the first save also creates the folders: not timed
                t0 = time.perf_counter()
                tr._save(manager, step, tree, packed)
                times.append(time.perf_counter() - t0)
            out["packed_s" if packed else "leaf_by_leaf_s"] = statistics.median(times[1:])
    out["speedup"] = out["leaf_by_leaf_s"] / out["packed_s"]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    rows = []
    for m in MODELS:
        r = time_saves(*m, K=args.members, repeats=args.repeats)
        print(f"{r['model']:15s} {r['n_arrays']:5d} arrays {r['bytes'] / 1e6:7.1f} MB  leaf by leaf "
              f"{r['leaf_by_leaf_s']:.3f} s  packed {r['packed_s']:.3f} s  x{r['speedup']:.1f}", flush=True)
        rows.append(r)
    write_result("checkpoint_save", {"repeats": args.repeats, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
