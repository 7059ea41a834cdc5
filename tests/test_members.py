"""Member stacks: fault isolation and checkpoint/resume of the training engine (synthetic data)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jeeg.engine import Checkpointing, MemberData, TrainConfig, Trainer


@pytest.fixture(scope="module")
def toy():
    """120 trials, 8 channels x 64 samples; class 1 has 3x the amplitude on channel 2."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 8, 64)).astype(np.float32)
    y = rng.integers(0, 2, 120).astype(np.int32)
    X[y == 1, 2] *= 3.0
    members = [
        MemberData(np.arange(0, 80), np.arange(100, 110), np.arange(110, 120)),
        MemberData(np.arange(20, 95), np.arange(0, 20), np.arange(95, 120)),
        MemberData(np.r_[0:40, 100:120], np.arange(40, 60), np.arange(60, 80)),
    ]
    return X, y, members


def _trainer(members, **kw):
    cfg = TrainConfig(**{"batch_size": 16, "max_epochs": 6, "lr": 3e-3, "patience": 100, **kw})
    return Trainer("stff_da", {}, 8, 2, 64, 128.0, cfg, batch_size=16,
                   n_train_pad=max(len(m.train) for m in members), n_eval_pad=25)


def _keys(k, seed=0):
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(np.arange(k))


def test_nan_member_is_frozen_and_reported_while_others_finish(toy):
    X, y, members = toy
    X = X.copy()
    X[90, 3, 10] = np.nan  # trial 90 is in member 1's training part only
    tr = _trainer(members)
    res = tr.fit(X, y, members, _keys(3))
    assert res.failed.tolist() == [False, True, False]
    assert res.failed_step[1] >= 0 and res.failed_step[0] == res.failed_step[2] == -1
    assert res.failed_step[1] < tr.steps_per_epoch  # trial 90 is drawn in the first epoch
    assert res.stopped_epoch[1] == 0 and res.stopped_epoch[0] == 5 and res.stopped_epoch[2] == 5
    for leaf in jax.tree.leaves(res.state.params):
        assert np.isfinite(np.asarray(leaf)).all()  # the failed member kept its last finite params
    clean = _trainer(members).fit(np.where(np.isnan(X), 0, X), y, members, _keys(3))
    # members 0 and 2 do not see trial 90 in training: identical to a run without the NaN
    for k in (0, 2):
        np.testing.assert_array_equal(res.test_logits[k], clean.test_logits[k])


class _Killed(Exception):
    pass


def test_resume_after_interruption_is_bitwise_identical(toy, tmp_path):
    X, y, members = toy
    full = _trainer(members).fit(X, y, members, _keys(3), checkpointing=Checkpointing(tmp_path / "a", every=2))

    def die_at_epoch_3(epoch, logs):
        if epoch == 3:
            raise _Killed

    tr = _trainer(members)
    with pytest.raises(_Killed):
        tr.fit(X, y, members, _keys(3), on_epoch=die_at_epoch_3, checkpointing=Checkpointing(tmp_path / "b", every=2))
    assert sorted(int(p.name) for p in (tmp_path / "b").iterdir() if p.name.isdigit()) == [1]
    resumed = _trainer(members).fit(X, y, members, _keys(3), checkpointing=Checkpointing(tmp_path / "b", every=2))
    for a, b in zip(full.test_logits, resumed.test_logits):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(full.state), jax.tree.leaves(resumed.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for name in full.history:
        np.testing.assert_array_equal(full.history[name], resumed.history[name])
    # A checkpoint written by other members (another seed) is refused, not silently reused.
    from jeeg.errors import ConfigError

    with pytest.raises(ConfigError, match="other keys"):
        _trainer(members).fit(X, y, members, _keys(3, seed=1), checkpointing=Checkpointing(tmp_path / "b"))


def test_checkpoints_pack_member_stacks_and_read_back_by_name(toy, tmp_path):
    from jeeg.checkpoints import checkpoint_arrays, checkpoint_keys, leaf_name, restore_raw
    from jeeg.engine import pack_members, unpack_members

    X, y, members = toy
    tr = _trainer(members)
    res = tr.fit(X, y, members, _keys(3), checkpointing=Checkpointing(tmp_path / "p", every=3))
    # One array per dtype for each member stack: STFF-DA's state is dozens of leaves.
    path = tmp_path / "p" / "5" / "default"
    assert sorted(checkpoint_keys(path)) == ["best", "layout", "loop", "state"]
    raw = restore_raw(path)  # unpacked by name, as a leaf-by-leaf checkpoint reads
    assert "layout" not in raw
    best = {leaf_name(kp): np.asarray(v) for kp, v in jax.tree_util.tree_flatten_with_path(raw["best"])[0]}
    want = {leaf_name(kp): np.asarray(v) for kp, v in jax.tree_util.tree_flatten_with_path(res.state)[0]}
    assert len(want) > 20 and set(best) == set(want)
    for name, v in want.items():
        assert best[name].dtype == v.dtype and np.array_equal(best[name], v), name
    stacks, layout = pack_members(res.state, tr.member_sharding)
    assert sorted(stacks) == ["float32", "int32"] and all(a.shape[0] == 3 for a in stacks.values())
    assert [entry[0] for entry in layout] == list(want)
    back = unpack_members(stacks, res.state, tr.member_sharding)
    assert jax.tree.structure(back) == jax.tree.structure(res.state)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(res.state)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # checkpoint_arrays (compare_runs, --check-reproducible) names them as a leaf-by-leaf checkpoint did.
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "p").rename(tmp_path / "run" / "checkpoints" / "stff_da-0000")
    arrays = checkpoint_arrays(tmp_path / "run")
    assert {n.split("/", 3)[3] for n in arrays if n.startswith("stff_da-0000/5/best/")} == set(want)


def test_resume_of_a_run_saved_leaf_by_leaf_stays_leaf_by_leaf(toy, tmp_path, monkeypatch):
    # Checkpoints written before packing (one array per leaf) still resume, bitwise identically.
    from jeeg.checkpoints import checkpoint_keys

    X, y, members = toy
    full = _trainer(members).fit(X, y, members, _keys(3))
    save = Trainer._save

    def die_at_epoch_3(epoch, logs):
        if epoch == 3:
            raise _Killed

    monkeypatch.setattr(Trainer, "_save", lambda self, m, e, tree, packed=True: save(self, m, e, tree, False))
    with pytest.raises(_Killed):
        _trainer(members).fit(X, y, members, _keys(3), on_epoch=die_at_epoch_3,
                              checkpointing=Checkpointing(tmp_path / "old", every=2))
    assert "layout" not in checkpoint_keys(tmp_path / "old" / "1" / "default")
    monkeypatch.setattr(Trainer, "_save", save)
    resumed = _trainer(members).fit(X, y, members, _keys(3), checkpointing=Checkpointing(tmp_path / "old", every=2))
    for a, b in zip(full.test_logits, resumed.test_logits):
        np.testing.assert_array_equal(a, b)
    assert "layout" not in checkpoint_keys(tmp_path / "old" / "5" / "default")
