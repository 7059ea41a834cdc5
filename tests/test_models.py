"""Model registry, STFF-DA shapes against its layer table (jeeg.models.stff_da), constraints, attention core."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.attention import additive_attention
from jeeg.errors import ConfigError
from jeeg.models import REGISTRY, apply_constraints, build_model


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n_chans,n_outputs,n_times,sfreq", [(64, 2, 640, 160.0), (64, 4, 500, 250.0), (8, 3, 64, 128.0)])
def test_every_model_forward(name, n_chans, n_outputs, n_times, sfreq):
    model = build_model(name, n_chans, n_outputs, n_times, sfreq, rngs=nnx.Rngs(0))
    # Models on electrode grids (SST-EmotionNet) take (batch, *input_shape), the others (batch, n_chans, n_times).
    x = jax.random.normal(jax.random.key(1), (3, *getattr(model, "input_shape", (n_chans, n_times))))
    logits, aux = model(x, return_attention=True)
    assert logits.shape == (3, n_outputs)
    assert np.isfinite(np.asarray(logits)).all()
    if "attention" in aux:  # models with attention return weights that sum to one
        alpha = np.asarray(aux["attention"])
        assert alpha.shape[0] == 3 and (alpha >= 0).all()
        np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-5)


def test_stff_da_reference_shapes():
    """STFF-DA's layer table at 64 ch x 500 samples, 250 Hz: kernels 64 and 16, 31 tokens, 64-d LSTM."""
    m = build_model("stff_da", 64, 4, 500, 250.0, rngs=nnx.Rngs(0))
    assert (m.k1, m.k2, m.n_tokens) == (64, 16, 31)
    assert m.conv_t.kernel.shape == (64, 1, 16)
    assert m.conv_s.kernel.shape == (64, 16, 2)
    assert m.conv_sep_d.kernel.shape == (16, 32) and m.conv_sep_p.kernel.shape == (32, 32)
    assert m.lstm.w_in.shape == (32, 256) and m.lstm.w_rec.shape == (64, 256)
    assert m.head.kernel.shape == (64, 4)
    _, aux = m(jnp.zeros((2, 64, 500)), return_attention=True)
    assert aux["attention"].shape == (2, 31)
    # EEGMMIDB at 160 Hz scales the kernels: round(64*160/250) = 41, round(16*160/250) = 10.
    m160 = build_model("stff_da", 64, 2, 640, 160.0, rngs=nnx.Rngs(0))
    assert (m160.k1, m160.k2, m160.n_tokens) == (41, 10, 40)


def test_fast_rows_equal_reference_convolutions():
    """Rows 1, 2, 4 (1-D conv, einsum, shifted sums) equal EEGNet's 2-D (grouped) convolutions."""
    m = build_model("stff_da", 6, 2, 48, 128.0, rngs=nnx.Rngs(3))
    x = jax.random.normal(jax.random.key(0), (2, 6, 48))
    B, C, T = x.shape
    fast = m.conv_t(x.reshape(B * C, T, 1)).reshape(B, C, T, -1)
    k2d = m.conv_t.kernel[...][None]  # (1, k1, 1, F1)
    ref = jax.lax.conv_general_dilated(x[..., None], k2d, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)
    F1 = fast.shape[-1]
    ks = m.conv_s.kernel[...]  # (n_chans, F1, D)
    grouped = ks.reshape(C, 1, 1, -1)  # output map f*D + d belongs to group f
    ref_s = jax.lax.conv_general_dilated(
        ref, grouped, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=F1
    )
    np.testing.assert_allclose(m.conv_s(fast)[:, None], ref_s, rtol=1e-5, atol=1e-5)
    # Row 4's depthwise half: shifted sums equal the grouped 'SAME' conv (1, k2) of EEGNet.
    h = jax.random.normal(jax.random.key(1), (2, 1, 12, 32))
    kd = m.conv_sep_d.kernel[...]  # (k2, F)
    ref_d = jax.lax.conv_general_dilated(
        h, kd[None, :, None, :], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=32
    )
    np.testing.assert_allclose(m.conv_sep_d(h), ref_d, rtol=1e-5, atol=1e-5)


def test_max_norm_constraint():
    m = build_model("stff_da", 64, 2, 640, 160.0, rngs=nnx.Rngs(0))
    norms = lambda: np.sqrt((np.asarray(m.conv_s.kernel[...]) ** 2).sum(0))  # noqa: E731
    assert norms().max() <= 1.0 + 1e-5
    m.conv_s.kernel[...] = m.conv_s.kernel[...] * 50.0
    assert norms().max() > 1.5
    apply_constraints(m)
    np.testing.assert_allclose(norms().max(), 1.0, rtol=1e-5)


def test_dropout_only_in_training():
    m = build_model("stff_da", 8, 2, 64, 128.0, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (4, 8, 64))
    np.testing.assert_array_equal(m(x), m(x))
    a = m(x, train=True, rngs=nnx.Rngs(dropout=jax.random.key(1)))
    b = m(x, train=True, rngs=nnx.Rngs(dropout=jax.random.key(2)))
    assert not np.allclose(a, b)


def test_bad_model_arguments():
    with pytest.raises(ConfigError, match="n_times"):
        build_model("stff_da", 64, 2, 8, 160.0, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="unknown model 'eegnetz'"):
        build_model("eegnetz", 64, 2, 640, 160.0, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="hyper-parameters"):
        build_model("stff_da", 64, 2, 640, 160.0, rngs=nnx.Rngs(0), lstm_size=3)


def test_additive_attention_by_hand():
    h = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)  # 3 steps, d = 2
    w = np.eye(2, dtype=np.float32)
    b = np.zeros(2, np.float32)
    v = np.array([1.0, -1.0], np.float32)
    e = np.array([np.tanh(1.0) - 0.0, 0.0 - np.tanh(2.0), np.tanh(1.0) - np.tanh(1.0)])
    alpha = np.exp(e) / np.exp(e).sum()
    ctx, a = additive_attention(jnp.asarray(h), w, b, v)
    np.testing.assert_allclose(a, alpha, rtol=1e-6)
    np.testing.assert_allclose(ctx, alpha @ h, rtol=1e-6)
    _, a_masked = additive_attention(jnp.asarray(h), w, b, v, mask=jnp.array([True, False, True]))
    assert float(a_masked[1]) == 0.0
    np.testing.assert_allclose(a_masked.sum(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", ["stff_da", "eegnet"])
def test_temporal_conv_shifted_equals_conv(name):
    """Row 1 as shifted multiply-adds gives the convolution's logits with the same parameters;
    "auto" is the factored form (rows 1–2 spatial filters first) on every backend."""
    x = jax.random.normal(jax.random.key(2), (3, 8, 160))
    a = build_model(name, 8, 2, 160, 160.0, rngs=nnx.Rngs(0), temporal_conv="conv")
    b = build_model(name, 8, 2, 160, 160.0, rngs=nnx.Rngs(0), temporal_conv="shifted")
    auto = build_model(name, 8, 2, 160, 160.0, rngs=nnx.Rngs(0))
    assert auto.conv_t.resolved_impl() == "factored"
    sa, sb = nnx.state(a, nnx.Param), nnx.state(b, nnx.Param)
    assert jax.tree.structure(sa) == jax.tree.structure(sb)
    for pa, pb in zip(jax.tree.leaves(sa), jax.tree.leaves(sb), strict=True):
        np.testing.assert_array_equal(np.asarray(pa), np.asarray(pb))
    np.testing.assert_allclose(np.asarray(b(x)), np.asarray(a(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(auto(x)), np.asarray(a(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="temporal_conv='fft'"):
        build_model(name, 8, 2, 160, 160.0, rngs=nnx.Rngs(0), temporal_conv="fft")


@pytest.mark.parametrize("name,n_chans,n_times,sfreq", [
    ("eegnet", 16, 640, 160.0),   # EEGMMIDB length, K = 64 taps, symmetric padding 32
    ("eegnet", 5, 40, 128.0),     # fewer samples than taps: the window-moment edge terms overlap
    ("stff_da", 21, 320, 80.0),   # 'SAME' padding, K = 20 (even), as in the cross-subject job
    ("stff_da", 6, 250, 250.0),   # K = 64, odd/even split of 'SAME'
])
def test_factored_rows_1_2_equal_the_plain_order(name, n_chans, n_times, sfreq):
    """Rows 1–2 with spatial filters first (``temporal_conv="factored"``, the default) equal the
    plain order (one convolution per channel, BatchNorm, spatial filters) in a training step:
    logits with batch statistics, the updated running statistics, the gradient of every
    parameter, then the eval-mode logits with those running statistics. Inputs have a non-zero
    mean and a scale of 3, so the mean and variance terms matter."""
    x = 3.0 * jax.random.normal(jax.random.key(5), (6, n_chans, n_times)) + 0.7
    y = jnp.arange(6) % 2

    def step(impl):
        no_dropout = {"drop": 0.0} if name == "eegnet" else {"drop_cnn": 0.0, "drop_head": 0.0}
        model = build_model(name, n_chans, 2, n_times, sfreq, rngs=nnx.Rngs(3), temporal_conv=impl, **no_dropout)

        def loss(m):
            logits = m(x, train=True)
            return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1).mean(), logits

        (l, logits), grads = nnx.value_and_grad(loss, has_aux=True)(model)
        stats = jax.tree.leaves(nnx.state(model, nnx.BatchStat))
        return logits, stats, jax.tree.leaves(nnx.state(grads, nnx.Param)), model(x, train=False)

    plain, fact = step("conv"), step("factored")
    np.testing.assert_allclose(np.asarray(fact[0]), np.asarray(plain[0]), rtol=2e-5, atol=2e-5)
    for a, b in zip(fact[1], plain[1], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6)
    for a, b in zip(fact[2], plain[2], strict=True):
        scale = float(np.abs(np.asarray(b)).max())
        assert scale > 0
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-4 * scale)
    np.testing.assert_allclose(np.asarray(fact[3]), np.asarray(plain[3]), rtol=2e-5, atol=2e-5)


def test_lagged_moments_and_depthwise_correlate():
    """The window moments equal the sums over an explicit window matrix, and the depthwise
    correlation's custom gradient equals autodiff of its shifted sums."""
    from jeeg.models.layers import depthwise_correlate, lagged_moments, shifted_sum

    rng = np.random.default_rng(0)
    for N, T, K, pads in ((7, 50, 8, (4, 4)), (3, 20, 16, (7, 8)), (4, 9, 16, (8, 8)), (2, 30, 5, (0, 0))):
        x = rng.standard_normal((N, T)) + 0.5
        m, M, n = lagged_moments(jnp.asarray(x, jnp.float32), K, pads)
        xp = np.pad(x, ((0, 0), pads))
        T1 = xp.shape[1] - K + 1
        win = xp[:, np.arange(T1)[:, None] + np.arange(K)[None, :]].reshape(-1, K)  # (N·T1, K)
        assert n == N * T1
        np.testing.assert_allclose(np.asarray(m), win.sum(0), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(np.asarray(M), win.T @ win, rtol=1e-5, atol=1e-3)
    a = jnp.asarray(rng.standard_normal((3, 40, 5)), jnp.float32)
    k = jnp.asarray(rng.standard_normal((9, 5)), jnp.float32)
    r = jnp.asarray(rng.standard_normal((3, 32, 5)), jnp.float32)
    np.testing.assert_allclose(np.asarray(depthwise_correlate(a, k)), np.asarray(shifted_sum(a, k, (0, 0))), rtol=1e-6)
    g1 = jax.grad(lambda a, k: (depthwise_correlate(a, k) * r).sum(), argnums=(0, 1))(a, k)
    g2 = jax.grad(lambda a, k: (shifted_sum(a, k, (0, 0)) * r).sum(), argnums=(0, 1))(a, k)
    for u, v in zip(g1, g2, strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-5)


def test_temporal_filter_bank_padding():
    """Both paddings the models use (Flax 'SAME'; EEGNet's symmetric K//2, one sample longer for
    even K): outputs and the gradients of kernel and input agree between the two implementations."""
    from jeeg.models.layers import TemporalFilterBank, glorot

    x = jax.random.normal(jax.random.key(4), (5, 50, 1))
    for K, padding, T_out in ((7, "SAME", 50), (8, "SAME", 50), (8, [(4, 4)], 51), (7, [(3, 3)], 50)):
        conv = TemporalFilterBank(3, K, padding=padding, kernel_init=glorot, rngs=nnx.Rngs(0), impl="conv")
        shifted = TemporalFilterBank(3, K, padding=padding, kernel_init=glorot, rngs=nnx.Rngs(0), impl="shifted")
        y = np.asarray(conv(x))
        assert y.shape == (5, T_out, 3)
        np.testing.assert_allclose(np.asarray(shifted(x)), y, rtol=1e-5, atol=1e-6)
        r = jax.random.normal(jax.random.key(K), y.shape)

        def loss(layer, inp):
            return (layer(inp) * r).sum()

        (gc, gxc), (gs, gxs) = (jax.grad(loss, argnums=(0, 1))(m, x) for m in (conv, shifted))
        kc, ks = np.asarray(gc.kernel[...]), np.asarray(gs.kernel[...])
        assert np.abs(kc).max() > 1.0  # a sum over 250 products of N(0, 1) values
        np.testing.assert_allclose(ks, kc, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(gxs), np.asarray(gxc), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, padding, dilation", [
    ((3, 50, 4, 5, 7), (3, 3), 1),     # odd kernel, 'same'
    ((2, 40, 1, 6, 64), (31, 32), 1),  # EEGNet / STFF-DA row 1: one input, 64 taps
    ((2, 40, 3, 2, 5), (4, 4), 2),     # dilated (U-Time-like)
    ((2, 30, 2, 3, 3), (0, 0), 3),     # 'valid', dilated
])
def test_conv1d_and_its_gradients_equal_the_plain_convolution(shape, padding, dilation):
    """layers.conv1d (gradients written as NWC/WIO convolutions, fast inside XLA:CPU loops) against
    lax.conv_general_dilated and JAX's own gradients, and against the definition in float64."""
    from jeeg.models.layers import conv1d

    N, T, C, F, K = shape
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((N, T, C)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((K, C, F)), jnp.float32)

    def plain(x, w):
        return jax.lax.conv_general_dilated(x, w, (1,), [padding], rhs_dilation=(dilation,),
                                            dimension_numbers=("NWC", "WIO", "NWC"))

    y, back = jax.vjp(lambda x, w: conv1d(x, w, padding, dilation), x, w)
    y0, back0 = jax.vjp(plain, x, w)
    np.testing.assert_array_equal(y, y0)
    g = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)
    for a, b in zip(back(g), back0(g)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # The input gradient by its definition, dx[n, t, c] = Σ_k Σ_f g[n, t + lo − d·k, f] · w[k, c, f].
    gn, wn = np.asarray(g, np.float64), np.asarray(w, np.float64)
    dx = np.zeros((N, T, C))
    for t in range(T):
        for k in range(K):
            j = t + padding[0] - dilation * k
            if 0 <= j < y.shape[1]:
                dx[:, t] += gn[:, j] @ wn[k].T
    np.testing.assert_allclose(back(g)[0], dx, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("x_shape, w_shape, strides, padding, dilation, kernel_grad", [
    ((2, 9, 8, 3), (3, 3, 3, 4), (1, 1), ((1, 1), (1, 1)), (1, 1), "shifted"),
    ((2, 9, 8, 3), (3, 2, 3, 4), (2, 2), ((1, 1), (0, 1)), (1, 1), "patches"),   # strided (SST's pooling convs)
    ((2, 9, 12, 3), (3, 3, 3, 2), (1, 1), ((1, 1), (3, 3)), (1, 3), "shifted"),  # dilated (SST's depth-as-width)
    ((2, 6, 5, 7, 3), (3, 3, 3, 3, 4), (1, 1, 1), ((1, 1),) * 3, (1, 1, 1), "shifted"),  # 3-D, 27 taps
    ((2, 7, 6, 8, 2), (2, 3, 3, 2, 3), (2, 1, 2), ((0, 1), (1, 1), (1, 0)), (1, 1, 1), "patches"),
    ((2, 31, 3), (4, 3, 5), (3,), ((2, 1),), (1,), "conv"),                      # 1-D strided
    ((2, 6, 8, 3), (2, 4, 3, 2), (1, 1), ((0, 1), (1, 2)), (1, 1), "shifted"),   # 'same', the odd zero after
    ((2, 6, 8, 3), (3, 3, 3, 2), (1, 1), ((2, 0), (0, 2)), (1, 1), "shifted"),   # lopsided 'same'
    ((2, 6, 8, 3), (3, 3, 3, 2), (1, 1), ((0, 0), (1, 1)), (1, 1), "conv"),      # output grid smaller
    ((2, 11, 12, 5, 1), (5, 5, 3, 1, 4), (2, 2, 1), ((1, 2), (1, 2), (1, 1)), (1, 1, 1), "patches"),  # SST stem
    ((2, 9, 9, 40), (3, 3, 40, 2), (2, 2), ((1, 1), (1, 1)), (1, 1), "conv"),    # too many patch columns
])
def test_conv_nd_and_its_gradients_equal_the_plain_convolution(x_shape, w_shape, strides, padding, dilation,
                                                                kernel_grad):
    """layers.conv in 1-3 D, with strides and dilations (SST-EmotionNet's convolutions), against
    lax.conv_general_dilated and JAX's own gradients, through each of its kernel gradients: shifted
    matmuls (stride 1, 'same' grid), a patch matrix (strided, few columns) or a correlation."""
    from jeeg.models.layers import _CHANNELS_LAST, _patches_dw_applies, _shifted_dw_applies, conv

    K, n = w_shape[:-2], len(strides)
    To = tuple((t + lo + hi - d * (k - 1) - 1) // s + 1
               for t, k, s, (lo, hi), d in zip(x_shape[1:-1], K, strides, padding, dilation))
    shifted = _shifted_dw_applies(K, x_shape[1 : 1 + n], To, strides)
    patches = not shifted and _patches_dw_applies(K, x_shape[-1], strides)
    assert {"shifted": (True, False), "patches": (False, True), "conv": (False, False)}[kernel_grad] == (shifted, patches)

    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal(x_shape), jnp.float32)
    w = jnp.asarray(rng.standard_normal(w_shape), jnp.float32)

    def plain(x, w):
        return jax.lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilation,
                                            dimension_numbers=_CHANNELS_LAST[len(strides)])

    y, back = jax.vjp(lambda x, w: conv(x, w, strides, padding, dilation), x, w)
    y0, back0 = jax.vjp(plain, x, w)
    np.testing.assert_array_equal(y, y0)
    g = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)
    for a, b in zip(back(g), back0(g)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, window", [
    ((2, 5, 7, 4, 3), (1, 2, 2, 2, 1)),   # SST-EmotionNet's 2 x 2 x 2, odd sizes floored
    ((3, 50, 4), (1, 10, 1)),
    ((2, 9, 3), (1, 4, 1)),               # U-Time's MaxPool1d, a remainder dropped
    ((4, 6), (2, 3)),
])
def test_max_pool_and_its_gradient_equal_reduce_window(shape, window):
    """layers.max_pool: the maximum of each window, and JAX's reduce_window gradient (XLA's
    select_and_scatter: the first maximum of a window takes it), with many tied maxima, eagerly
    and under jit."""
    from jeeg.models.layers import _window_slices, max_pool

    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        x = jnp.asarray(rng.integers(-2, 3, shape).astype(np.float64))  # coarse values: ties
        crop = tuple(slice(0, n // w * w) for n, w in zip(shape, window))

        def plain(x):
            return jax.lax.reduce_window(x[crop], -jnp.inf, jax.lax.max, window, window, "VALID")

        y, back = jax.vjp(lambda x: max_pool(x, window), x)
        y0, back0 = jax.vjp(plain, x)
        np.testing.assert_array_equal(y, y0)
        g = jnp.asarray(rng.standard_normal(y.shape))
        want = np.asarray(back0(g)[0])
        hits = sum(np.asarray(xj == y, int) for xj in _window_slices(x[crop], window))
        assert (hits >= 2).sum() >= 2  # windows with a tied maximum, for the tie rule to matter
        np.testing.assert_array_equal(back(g)[0], want)
        np.testing.assert_array_equal(jax.jit(lambda x, g: jax.vjp(lambda x: max_pool(x, window), x)[1](g)[0])(x, g),
                                      want)
    with pytest.raises(ValueError, match="window"):
        max_pool(jnp.zeros((2, 4)), (2,))
