"""MSC-T3AM: stage shapes of the reference code (github.com/BICN001/MSC-T3AM), MSC token order, ablation switches."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models import build_model
from jeeg.models.layers import DepthwiseTemporalConv
from jeeg.models.msc_t3am import MSC, TokenConv


def test_stage_shapes_at_the_paper_reference():
    """62 ch x 1500 samples, 6 classes: 150 tokens of 10, 3 blocks, head 1500 → 256 → 32 → 6."""
    m = build_model("msc_t3am", 62, 6, 1500, 250.0, rngs=nnx.Rngs(0))
    assert m.n_tokens == 150 and m.channel_weight.shape == (62, 10) and m.spatial_kernel.shape == (62, 10)
    assert (m.h1.kernel.shape, m.h2.kernel.shape, m.h3.kernel.shape) == ((1500, 256), (256, 32), (32, 6))
    blk = m.blocks[0]
    assert blk.ff1.kernel.shape == (10, 40) and blk.ff2.kernel.shape == (40, 10)
    assert [b.dw.kernel.shape for b in blk.att.msc.branches] == [(25, 10), (75, 10)]
    assert m.t2.kernel.shape == (25, 1)
    logits, aux = m(jax.random.normal(jax.random.key(0), (2, 62, 1500)), return_attention=True)
    assert logits.shape == (2, 6)
    assert aux["channel_weights"].shape == (2, 10, 62)
    assert aux["filter_gate"].shape == (2, 10) and aux["temporal_gate"].shape == (2, 150)
    assert aux["self_attention"].shape == (2, 3, 150, 150)
    np.testing.assert_allclose(aux["self_attention"].sum(-1), 1.0, rtol=1e-5)


def test_msc_token_order_first_half_from_the_25_tap_branch():
    msc = MSC(10, rngs=nnx.Rngs(1))
    N = 200
    z = jax.random.normal(jax.random.key(2), (2, 10, N, 1))  # (B, heads, tokens, d_head)
    out = msc(z, True, None)
    assert out.shape == z.shape
    zz = jnp.transpose(z, (0, 3, 2, 1))
    for half, branch in enumerate(msc.branches):
        direct = jnp.transpose(branch(zz, True, None), (0, 3, 2, 1))
        np.testing.assert_array_equal(out[:, :, half * N // 2 : (half + 1) * N // 2], direct)
    # Receptive fields: a change at token 0 reaches pooled tokens ≤ 6 through the 25-tap branch
    # (taps ±12, pooling by 2) and ≤ 18 through the 75-tap branch (±37).
    moved = msc(z.at[:, :, 0].add(5.0), True, None)
    changed = np.flatnonzero(np.abs(np.asarray(moved - out)).max((0, 1, 3)) > 0)
    first, second = changed[changed < N // 2], changed[changed >= N // 2] - N // 2
    assert first.max() == 6 and second.max() == 18


def _logits(m, x):
    return np.asarray(m(x))


def test_ablation_switches():
    x = jax.random.normal(jax.random.key(3), (2, 8, 200))
    full = build_model("msc_t3am", 8, 3, 200, 100.0, rngs=nnx.Rngs(0))
    # Without filter and temporal attention FT_A is the identity: its parameters do nothing.
    no_ft = build_model("msc_t3am", 8, 3, 200, 100.0, rngs=nnx.Rngs(0), filter_attention=False, temporal_attention=False)
    before = _logits(no_ft, x)
    no_ft.f1.kernel[...] = no_ft.f1.kernel[...] + 1.0
    no_ft.t3.bias[...] = no_ft.t3.bias[...] + 1.0
    np.testing.assert_array_equal(_logits(no_ft, x), before)
    assert not np.allclose(_logits(full, x), before)
    # Only the filter gate off: the temporal gate still acts.
    no_f = build_model("msc_t3am", 8, 3, 200, 100.0, rngs=nnx.Rngs(0), filter_attention=False)
    b = _logits(no_f, x)
    no_f.f1.kernel[...] = no_f.f1.kernel[...] + 1.0
    np.testing.assert_array_equal(_logits(no_f, x), b)
    no_f.t3.bias[...] = no_f.t3.bias[...] + 1.0
    assert not np.allclose(_logits(no_f, x), b)
    # No spatial attention: the channel weights are ignored.
    no_s = build_model("msc_t3am", 8, 3, 200, 100.0, rngs=nnx.Rngs(0), spatial_attention=False)
    b = _logits(no_s, x)
    no_s.channel_weight[...] = no_s.channel_weight[...] * 3.0
    np.testing.assert_array_equal(_logits(no_s, x), b)
    # Plain attention instead of MSC: no MSC parameters; odd token counts become legal.
    plain = build_model("msc_t3am", 8, 3, 210, 100.0, rngs=nnx.Rngs(0), msc=False)
    assert plain.blocks[0].att.msc is None and plain(jnp.zeros((1, 8, 210))).shape == (1, 3)


def test_bad_shapes_are_refused():
    with pytest.raises(ConfigError, match="even"):
        build_model("msc_t3am", 8, 2, 210, 100.0, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="multiple of n_heads"):
        build_model("msc_t3am", 8, 2, 200, 100.0, rngs=nnx.Rngs(0), emb=10, n_heads=4)


def test_token_conv_equals_grouped_same_convolution():
    """The banded-matrix form equals PyTorch's depthwise Conv2d (K, 1), padding 'same', plus bias."""
    tc = TokenConv(4, 25, rngs=nnx.Rngs(0))
    h = jax.random.normal(jax.random.key(1), (2, 1, 30, 4))
    ref = jax.lax.conv_general_dilated(
        h, tc.kernel[...][None, :, None, :], (1, 1), ((0, 0), (12, 12)), dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=4,
    ) + tc.bias[...]
    np.testing.assert_allclose(tc(h), ref, rtol=1e-5, atol=1e-5)
    shifted = DepthwiseTemporalConv(4, 25, rngs=nnx.Rngs(0))
    shifted.kernel[...] = tc.kernel[...]
    np.testing.assert_allclose(tc(h), shifted(h) + tc.bias[...], rtol=1e-5, atol=1e-5)
