"""Training engine: one trace per step, loss goes down on real EEG, determinism, selection."""

from __future__ import annotations

import chex
import jax
import numpy as np
import pytest

from jeeg.data import load_eegmmidb, standardize_trials
from jeeg.engine import MemberData, TrainConfig, Trainer
from jeeg.splits import make_folds


@pytest.fixture(scope="module")
def s001(eegmmidb_root, tmp_path_factory):
    """Real S001 imagined left/right fist: 45 trials, 64 x 640, standardised, on the device."""
    ds = load_eegmmidb([1], "left_right_imagined", data_dir=eegmmidb_root, cache_dir=tmp_path_factory.mktemp("c"))
    return ds, jax.device_put(standardize_trials(ds.X)), jax.device_put(ds.y)


def _members(ds, n=2):
    folds = make_folds("within_subject_stratified", ds.y, ds.subject, n_folds=5, val_fraction=0.2, seed=0)[:n]
    return [MemberData(f.train, f.val, f.test) for f in folds]


def _trainer(members, **kw):
    cfg = TrainConfig(**{"batch_size": 16, "max_epochs": 6, "lr": 1e-3, "schedule": "constant", **kw})
    return Trainer(
        "stff_da", {}, 64, 2, 640, 160.0, cfg, batch_size=cfg.batch_size,
        n_train_pad=max(len(m.train) for m in members),
        n_eval_pad=max(max(len(m.val), len(m.test)) for m in members),
    )


def _keys(seed, k):
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(np.arange(k))


def test_one_trace_and_loss_decreases_on_real_data(s001, monkeypatch):
    ds, X, Y = s001
    monkeypatch.setattr(Trainer, "_masked_step_one", chex.assert_max_traces(Trainer._masked_step_one, n=1))
    monkeypatch.setattr(Trainer, "_evaluate_one", chex.assert_max_traces(Trainer._evaluate_one, n=1))
    members = _members(ds, 2)
    tr = _trainer(members, max_epochs=14, patience=100, batch_size=8, lr=3e-3)
    res = tr.fit(X, Y, members, _keys(0, 2))
    loss = res.history["train_loss"]
    assert loss.shape == (2, 14)
    # Every member's training loss falls clearly over 14 epochs (4 steps each) on real EEG.
    assert (loss[:, -3:].mean(1) < 0.75 * loss[:, 0]).all(), loss
    # A second fit with other folds of unequal sizes reuses the same compiled programs.
    other = [MemberData(m.train[:-1], m.val, m.test[:-1]) for m in _members(ds, 2)[::-1]]
    tr.fit(X, Y, other, _keys(1, 2))


def test_same_key_bitwise_identical_other_key_differs(s001):
    ds, X, Y = s001
    members = _members(ds, 1)
    tr = _trainer(members, max_epochs=3)
    a = tr.fit(X, Y, members, _keys(0, 1))
    b = tr.fit(X, Y, members, _keys(0, 1))
    c = tr.fit(X, Y, members, _keys(7, 1))
    np.testing.assert_array_equal(a.test_logits[0], b.test_logits[0])
    for x, y in zip(jax.tree.leaves(a.state), jax.tree.leaves(b.state)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(a.test_logits[0], c.test_logits[0])


def test_selection_uses_validation_and_test_scored_with_selected_params(s001):
    ds, X, Y = s001
    members = _members(ds, 1)
    tr = _trainer(members, max_epochs=8, patience=2, lr=3e-3)
    res = tr.fit(X, Y, members, _keys(3, 1))
    val = res.history["val_loss"][0]
    ran = int(res.stopped_epoch[0]) + 1
    # The selected epoch is the first minimum of the validation loss over the epochs run.
    assert res.best_epoch[0] == int(np.nanargmin(val[:ran]))
    # Early stopping: stopped `patience` epochs after the best one (or at max_epochs).
    assert res.stopped_epoch[0] == min(res.best_epoch[0] + 2, 7)
    # The test logits are those of the selected parameters.
    logits, _, _, _ = tr._eval_padded(res.state, X, Y, [members[0].test])
    np.testing.assert_array_equal(np.asarray(logits)[0, : len(members[0].test)], res.test_logits[0])


def test_member_parallel_equals_each_member_alone_on_real_data(s001):
    """Five folds trained as one stack equal each fold trained alone with the same key, bit for bit."""
    ds, X, Y = s001
    members = _members(ds, 5)
    keys = _keys(0, 5)
    kw = dict(max_epochs=3, patience=100, lr=1e-3)  # STFF-DA's default learning rate
    stacked_tr = _trainer(members, **kw)
    assert stacked_tr.member_axis == "map"  # the CPU default
    stacked = stacked_tr.fit(X, Y, members, keys)
    alone_tr = _trainer(members, **kw)  # same padding as the stack: one member at a time
    for k, m in enumerate(members):
        alone = alone_tr.fit(X, Y, [m], keys[k : k + 1])
        np.testing.assert_array_equal(stacked.test_logits[k], alone.test_logits[0])
        assert stacked.best_epoch[k] == alone.best_epoch[0]
        for a, b in zip(jax.tree.leaves(stacked.state.params), jax.tree.leaves(alone.state.params)):
            np.testing.assert_array_equal(np.asarray(a)[k], np.asarray(b)[0])
    # Exact, not within a tolerance: on the CPU the compiled run maps over members (each member's
    # program is the one-member program), so no float32 sum is reordered by the member count.
    # (Vmapped, the kernel gradients became grouped convolutions that XLA:CPU sums in another
    # order, and Adam turned that rounding into parameter differences of 1e-5 to 2e-5 that
    # depended on the CPU: issue 17.)


def test_a_chunk_of_the_compiled_run_moves_no_data_between_host_and_device(s001):
    ds, X, Y = s001
    members = _members(ds, 2)
    tr = _trainer(members, max_epochs=4, patience=100)
    carry, data, _ = tr.start(X, Y, members, _keys(0, 2))
    end = tr.put_replicated(np.int32(3))  # explicit transfers happen before the chunk
    compiled = tr.program(carry, data, end)
    with jax.transfer_guard("disallow"):
        carry = compiled(carry, data, end)
        jax.block_until_ready(carry)
    assert np.asarray(carry["loop"]["epoch"]).tolist() == [3, 3]
    assert np.isfinite(np.asarray(carry["loop"]["history"]["val_loss"])[:, :3]).all()


def test_per_member_learning_rate_and_weight_decay(s001):
    """A sweep's members carry their own lr / weight decay: lr = 0 leaves a member at its init."""
    ds, X, Y = s001
    members = _members(ds, 1) * 3
    tr = _trainer(members, max_epochs=2, patience=100)
    keys = jax.vmap(lambda _: jax.random.key(5))(np.arange(3))  # identical keys: only hparams differ
    res = tr.fit(X, Y, members, keys, hparams={"lr": [1e-3, 0.0, 1e-3], "weight_decay": [1e-4, 1e-4, 0.5]})
    init = tr.init(keys[:1], np.zeros(1, np.float32), np.zeros(1, np.float32))
    p, p0 = jax.tree.leaves(res.state.params), jax.tree.leaves(init.params)
    for a, b in zip(p, p0):
        np.testing.assert_array_equal(np.asarray(a)[1], np.asarray(b)[0])  # lr 0: unchanged
    assert any(not np.array_equal(np.asarray(a)[0], np.asarray(b)[0]) for a, b in zip(p, p0))
    assert any(not np.allclose(np.asarray(a)[0], np.asarray(a)[2]) for a in p)  # weight decay acts
    # A member whose hparams equal the config's gets the same bits as a stack without hparams.
    plain = tr.fit(X, Y, members, keys)
    np.testing.assert_array_equal(plain.test_logits[0], res.test_logits[0])
