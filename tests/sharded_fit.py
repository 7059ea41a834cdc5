"""Helper run as a subprocess by test_sharding.py: fit toy members on N virtual CPU devices.

Usage: python tests/sharded_fit.py N_DEVICES K OUT.npz
"""

import sys

import jax

jax.config.update("jax_num_cpu_devices", int(sys.argv[1]))

import numpy as np  # noqa: E402

from jeeg.engine import MemberData, TrainConfig, Trainer  # noqa: E402


def main() -> None:
    n_dev, K, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    assert jax.device_count() == n_dev, jax.devices()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 8, 64)).astype(np.float32)
    y = rng.integers(0, 2, 120).astype(np.int32)
    X[y == 1, 2] *= 3.0
    members = [MemberData(np.r_[0:60 + 5 * k], np.arange(90, 105), np.arange(105, 120)) for k in range(K)]
    cfg = TrainConfig(batch_size=16, max_epochs=3, lr=3e-3, patience=100)
    tr = Trainer("stff_da", {}, 8, 2, 64, 128.0, cfg, batch_size=16, n_train_pad=60 + 5 * (K - 1), n_eval_pad=15)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(np.arange(K))
    res = tr.fit(X, y, members, keys)
    params = {"/".join(map(str, p)): np.asarray(v)[:K] for p, v in jax.tree_util.tree_leaves_with_path(res.state.params)}
    shardings = {str(leaf.sharding.spec) for leaf in jax.tree.leaves(res.state.params)}
    np.savez(out, logits=np.stack(res.test_logits), n_shards=len(jax.tree.leaves(res.state.params)[0].addressable_shards),
             spec=" ".join(sorted(shardings)), **params)


if __name__ == "__main__":
    main()
