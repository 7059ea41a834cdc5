"""KD loss of the MSC-T3AM reference (github.com/BICN001/MSC-T3AM ``net_train.py``) against values computed by hand."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jeeg.engine import kd_loss
from jeeg.errors import ConfigError

S = [[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]]
T_ = [[1.0, 1.0, 0.0], [-1.0, 2.0, 0.5]]
Y = [0, 1]


def _by_hand(T=1.5, per_class=True, t2=False):
    total_kl, total_ce = 0.0, 0.0
    for s, t, y in zip(S, T_, Y):
        zs = [math.exp(v / T) for v in s]
        zt = [math.exp(v / T) for v in t]
        q = [v / sum(zs) for v in zs]
        p = [v / sum(zt) for v in zt]
        total_kl += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
        total_ce += -math.log(math.exp(s[y]) / sum(math.exp(v) for v in s))
    kl = total_kl / 2 / (3 if per_class else 1) * (T * T if t2 else 1.0)
    return total_ce / 2 + kl


def test_kd_loss_matches_hand_computation():
    s, t, y = jnp.array(S), jnp.array(T_), jnp.array(Y)
    # The reference's KLDivLoss(reduction='mean'): divided by batch x classes, no T².
    assert float(kd_loss(s, t, y)) == pytest.approx(_by_hand(), rel=1e-6)
    assert float(kd_loss(s, t, y, reduction="batchmean")) == pytest.approx(_by_hand(per_class=False), rel=1e-6)
    assert float(kd_loss(s, t, y, reduction="batchmean", t_squared=True, temperature=2.0)) == pytest.approx(
        _by_hand(T=2.0, per_class=False, t2=True), rel=1e-6)


def test_teacher_gets_no_gradient_and_bad_options_fail():
    s, t, y = jnp.array(S), jnp.array(T_), jnp.array(Y)
    g_t = jax.grad(lambda tt: kd_loss(s, tt, y))(t)
    np.testing.assert_array_equal(g_t, 0.0)
    g_s = jax.grad(lambda ss: kd_loss(ss, t, y))(s)
    assert np.abs(np.asarray(g_s)).max() > 0
    with pytest.raises(ConfigError, match="reduction"):
        kd_loss(s, t, y, reduction="sum")
    with pytest.raises(ConfigError, match="temperature"):
        kd_loss(s, t, y, temperature=0.0)


# --------------------------------------------------------------------------- fused KD steps
import chex  # noqa: E402

from jeeg.engine import (  # noqa: E402
    DistillTrainer,  # noqa: E402
    MemberData,
    TrainConfig,
    Trainer,
)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 8, 64)).astype(np.float32)
    y = rng.integers(0, 2, 80).astype(np.int32)
    X[y == 1, 2] *= 3.0
    members = [MemberData(np.arange(0, 48), np.arange(48, 64), np.arange(64, 80)),
               MemberData(np.arange(16, 64), np.arange(0, 16), np.arange(64, 80))]
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(np.arange(2))
    return X, y, members, keys


CFG = TrainConfig(batch_size=16, max_epochs=3, lr=3e-3, patience=100)
KW = dict(batch_size=16, n_train_pad=48, n_eval_pad=16)


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def test_online_kd_updates_teacher_and_student_in_one_traced_step(toy, monkeypatch):
    X, y, members, keys = toy
    monkeypatch.setattr(DistillTrainer, "_masked_step_one", chex.assert_max_traces(DistillTrainer._masked_step_one, n=1))
    tr = DistillTrainer("stff_da", {}, "eegnet", {}, 8, 2, 64, 128.0, CFG, mode="online", **KW)
    init = tr.init(keys, np.full(2, 3e-3, np.float32), np.full(2, 1e-4, np.float32))
    res = tr.fit(X, y, members, keys)
    for name in ("student", "teacher"):  # both nets moved away from their initialisation
        assert any(not np.array_equal(a, b) for a, b in zip(_leaves(res.state.params[name]), _leaves(init.params[name])))
    assert res.test_logits[0].shape == (16, 2) and np.isfinite(res.history["train_loss"]).all()


def test_offline_kd_leaves_the_teacher_bitwise_unchanged(toy):
    X, y, members, keys = toy
    teacher = Trainer("eegnet", {}, 8, 2, 64, 128.0, CFG, **KW).fit(X, y, members, keys).state
    tr = DistillTrainer("stff_da", {}, "eegnet", {}, 8, 2, 64, 128.0, CFG, mode="offline", **KW)
    res = tr.fit(X, y, members, keys, teacher=teacher)
    for a, b in zip(_leaves((res.state.params["teacher"], res.state.batch_stats["teacher"])),
                    _leaves((teacher.params, teacher.batch_stats))):
        np.testing.assert_array_equal(a, b)
    online = DistillTrainer("stff_da", {}, "eegnet", {}, 8, 2, 64, 128.0, CFG, mode="online", **KW).fit(X, y, members, keys)
    assert not np.array_equal(res.test_logits[0], online.test_logits[0])
    # The frozen teacher carries no optimiser state; the online one does.
    assert sorted(res.state.opt_state) == ["student"] and sorted(online.state.opt_state) == ["student", "teacher"]
    # A teacher state of another model (or other shapes) is refused with a clear error.
    wrong = Trainer("stff_da", {}, 8, 2, 64, 128.0, CFG, **KW).fit(X, y, members, keys).state
    with pytest.raises(ConfigError, match="does not fit teacher model 'eegnet'"):
        tr.fit(X, y, members, keys, teacher=wrong)
    with pytest.raises(ConfigError, match="needs the trained teacher"):
        tr.fit(X, y, members, keys)
