"""Cross-modal distillation pieces (Joshi et al., arXiv 2112.07252): channel derivations, attention transfer,
the sleep KD loss, and chaining training stages through a starting state."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.engine import (
    DistillTrainer,
    MemberData,
    TrainConfig,
    Trainer,
    attention_map,
    attention_transfer_loss,
    kd_loss,
)
from jeeg.errors import ConfigError
from jeeg.representations import derivation_matrix


# --------------------------------------------------------------------------- derivations
def test_derivation_matrix_picks_flips_and_bipolar_pairs():
    names = ["C3", "C4", "EEG (C4-A1)", "ECG"]
    W = derivation_matrix(names, ["C3-C4", "-ECG", "EEG (C4-A1)", "C4"])
    np.testing.assert_array_equal(W, [[1, -1, 0, 0], [0, 0, 0, -1], [0, 0, 1, 0], [0, 1, 0, 0]])
    x = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(W @ x, [x[0] - x[1], -x[3], x[2], x[1]])
    with pytest.raises(ConfigError, match=r"'Cz-C4'.*channels present: C3, C4, EEG \(C4-A1\), ECG"):
        derivation_matrix(names, ["Cz-C4"], "model_channels")


# --------------------------------------------------------------------------- attention transfer
def _at_by_hand(ft, fs, normalise):
    def amap(f):
        a = (np.asarray(f, np.float64) ** 2).sum(1)  # (B, L)
        norm = np.linalg.norm(a, axis=1 if normalise == "sample" else 0, keepdims=True)
        return a / norm
    return np.abs(amap(ft) - amap(fs)).mean(-1)  # per sample


def test_attention_transfer_loss_matches_hand_computation():
    rng = np.random.default_rng(1)
    t = {"enc": [rng.standard_normal((3, 4, 10)), rng.standard_normal((3, 8, 5))], "dense": rng.standard_normal((3, 2, 10))}
    s = {"enc": [rng.standard_normal((3, 1, 10)), rng.standard_normal((3, 2, 5))], "dense": rng.standard_normal((3, 2, 10))}
    for norm in ("sample", "batch"):
        enc = (_at_by_hand(t["enc"][0], s["enc"][0], norm) + _at_by_hand(t["enc"][1], s["enc"][1], norm)) / 2
        want = (enc + _at_by_hand(t["dense"], s["dense"], norm)) / 2  # groups averaged
        jt, js = jax.tree.map(jnp.asarray, (t, s))
        per = attention_transfer_loss(jt, js, norm, per_sample=True)
        np.testing.assert_allclose(per, want, rtol=1e-5)
        assert float(attention_transfer_loss(jt, js, norm)) == pytest.approx(want.mean(), rel=1e-5)
    # The two normalisations differ (per sample vs the reference's batch axis).
    a = jnp.asarray(t["dense"])
    assert not np.allclose(attention_map(a, "sample"), attention_map(a, "batch"))
    np.testing.assert_allclose(np.linalg.norm(attention_map(a, "sample"), axis=1), 1.0, rtol=1e-6)
    # Only the student gets gradients; mismatched groups are refused.
    g = jax.grad(lambda tt: attention_transfer_loss(tt, js))(jt)
    assert all(float(jnp.abs(v).max()) == 0.0 for v in jax.tree.leaves(g))
    with pytest.raises(ConfigError, match="feature groups differ"):
        attention_transfer_loss(jt, {"enc": js["enc"]})
    with pytest.raises(ConfigError, match="differ in batch or length"):
        attention_transfer_loss({"d": jnp.ones((3, 2, 10))}, {"d": jnp.ones((3, 2, 9))})


def test_sleep_kd_loss_alpha_t_squared_matches_hand_computation():
    """§4's KD_temp: α·T²·KLDiv_mean + (1−α)·CE with α = 0.5, T = 1 (and T = 2 for the T² factor)."""
    s, t, y = [[2.0, 0.5, -1.0, 0.0]], [[1.0, 1.0, 0.0, -2.0]], [3]
    for T in (1.0, 2.0):
        q = np.exp(np.array(s[0]) / T) / np.exp(np.array(s[0]) / T).sum()
        p = np.exp(np.array(t[0]) / T) / np.exp(np.array(t[0]) / T).sum()
        kl_mean = (p * np.log(p / q)).sum() / 4  # KLDivLoss 'mean': ÷ (batch · classes)
        ce = -math.log(math.exp(s[0][3]) / sum(math.exp(v) for v in s[0]))
        want = 0.5 * T * T * kl_mean + 0.5 * ce
        got = kd_loss(jnp.array(s), jnp.array(t), jnp.array(y), temperature=T, kd_weight=0.5, ce_weight=0.5, t_squared=True)
        assert float(got) == pytest.approx(want, rel=1e-6)


# --------------------------------------------------------------------------- trainer: maps, stages
@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4, 64)).astype(np.float32)
    y = rng.integers(0, 2, 64).astype(np.int32)
    X[y == 1, 0] *= 3.0
    members = [MemberData(np.arange(0, 32), np.arange(32, 48), np.arange(48, 64))]
    keys = jax.random.fold_in(jax.random.key(0), 0)[None]
    return X, y, members, keys


CFG = TrainConfig(batch_size=16, max_epochs=2, lr=3e-3, patience=100)
KW = dict(batch_size=16, n_train_pad=32, n_eval_pad=16)


def test_input_map_equals_training_on_derived_channels(toy):
    """A bipolar input map inside the jitted step trains exactly the model of pre-derived trials."""
    X, y, members, keys = toy
    W = derivation_matrix(["C3", "C4", "Cz", "ECG"], ["C3-C4"])
    mapped = Trainer("eegnet", {}, 4, 2, 64, 128.0, CFG, input_map=W, **KW).fit(X, y, members, keys)
    derived = np.einsum("ic,nct->nit", W, X)
    direct = Trainer("eegnet", {}, 1, 2, 64, 128.0, CFG, **KW).fit(derived, y, members, keys)
    np.testing.assert_allclose(mapped.test_logits[0], direct.test_logits[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="input_map must have shape"):
        Trainer("eegnet", {}, 3, 2, 64, 128.0, CFG, input_map=W, **KW)


def test_a_stage_starts_from_the_previous_stage_state(toy):
    X, y, members, keys = toy
    first = Trainer("eegnet", {}, 4, 2, 64, 128.0, CFG, **KW).fit(X, y, members, keys)
    tr = Trainer("eegnet", {}, 4, 2, 64, 128.0, TrainConfig(batch_size=16, max_epochs=1, patience=100), **KW)
    again = tr.fit(X, y, members, keys, init=first.state, hparams={"lr": [0.0], "weight_decay": [0.0]})
    for a, b in zip(jax.tree.leaves(again.state.params), jax.tree.leaves(first.state.params)):
        np.testing.assert_array_equal(a, b)  # lr 0: the stage's parameters are the previous stage's
    fresh = tr.fit(X, y, members, keys, hparams={"lr": [0.0], "weight_decay": [0.0]})
    assert not np.allclose(fresh.test_logits[0], first.test_logits[0])
    wrong = Trainer("stff_da", {}, 4, 2, 64, 128.0, CFG, **KW).fit(X, y, members, keys).state
    with pytest.raises(ConfigError, match="initial state does not fit"):
        tr.fit(X, y, members, keys, init=wrong)


def test_cross_modal_offline_kd_teacher_sees_all_channels_student_one(toy):
    X, y, members, keys = toy
    teacher = Trainer("eegnet", {}, 4, 2, 64, 128.0, CFG, **KW).fit(X, y, members, keys).state
    W = derivation_matrix(["C3", "C4", "Cz", "ECG"], ["-ECG"])
    tr = DistillTrainer("eegnet", {}, "eegnet", {}, 4, 2, 64, 128.0, CFG, mode="offline", input_map=W,
                        kd_weight=0.5, ce_weight=0.5, temperature=1.0, t_squared=True, **KW)
    res = tr.fit(X, y, members, keys, teacher=teacher)
    for a, b in zip(jax.tree.leaves(res.state.params["teacher"]), jax.tree.leaves(teacher.params)):
        np.testing.assert_array_equal(a, b)
    assert res.test_logits[0].shape == (16, 2) and np.isfinite(res.history["train_loss"]).all()
    with pytest.raises(ConfigError, match="distill=offline"):
        DistillTrainer("eegnet", {}, "eegnet", {}, 4, 2, 64, 128.0, CFG, mode="online", loss="features", **KW)


def test_feature_stage_validation_is_the_feature_loss_of_the_valid_trials(toy):
    """The feature stage's evaluation: the student's logits as a plain Trainer gives them, and the
    mean per-trial attention-transfer loss (teacher vs student features) over the first n_valid
    trials only, padded trials ignored."""
    X, y, _, _ = toy
    small = {"filters": [4, 4, 4, 4, 4]}
    W = derivation_matrix(["C3", "C4", "Cz", "ECG"], ["C3-C4"])
    tr = DistillTrainer("utime", small, "utime", small, 4, 2, 64, 128.0, CFG, mode="offline", loss="features",
                        input_map=W, **KW)
    state = tr._init_one(jax.random.key(3), 1e-3, 0.0)
    idx, n_valid = jnp.arange(16, dtype=jnp.int32), 11
    logits, _, loss, acc = jax.jit(tr._evaluate_one, static_argnums=5)(
        state.params, state.batch_stats, jnp.asarray(X), jnp.asarray(y), idx, n_valid)

    plain = Trainer("utime", small, 4, 2, 64, 128.0, CFG, input_map=W, **KW)
    want_logits, *_ = jax.jit(plain._evaluate_one, static_argnums=5)(
        state.params["student"], state.batch_stats["student"], jnp.asarray(X), jnp.asarray(y), idx, n_valid)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-5, atol=1e-6)

    student = nnx.merge(tr.graphdef, state.params["student"], state.batch_stats["student"])
    teacher = nnx.merge(tr.t_graphdef, state.params["teacher"], state.batch_stats["teacher"])
    xv = jnp.asarray(X[:n_valid])
    _, s_feats = student(jnp.einsum("ic,nct->nit", W, xv), return_features=True)
    _, t_feats = teacher(xv, return_features=True)
    want = attention_transfer_loss(t_feats, s_feats)  # the batch mean over the valid trials
    assert float(want) > 0 and float(loss) == pytest.approx(float(want), rel=1e-5)
    assert float(acc) == pytest.approx(np.mean(np.argmax(want_logits[:n_valid], -1) == y[:n_valid]))
