"""KD loss of architectures.md §1 against values computed by hand."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jeeg.distill import kd_loss
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
