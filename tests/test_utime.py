"""Modified U-Time (1-D) against Joshi et al. (arXiv 2112.07252) and the reference PyTorch code
(acrophase/Sleep_Staging_KD ``eeg_base.py``), re-written here with NCW convolutions."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models import UTime, build_model
from jeeg.models.utime import ConvBNReLU

T_SMALL = 96  # 2 x prod(pools): the smallest input the default U-Net takes without padding


@pytest.fixture(scope="module")
def small():
    """Default architecture (so every parameter shape is the sleep-staging one), 2 channels, 3 classes, 96 samples."""
    return build_model("utime", 2, 3, T_SMALL, 200.0, rngs=nnx.Rngs(0))


def _run(m, x, **kw):
    """One jitted forward (eager dispatch would compile every op separately); updates BN stats in train mode."""
    return nnx.jit(lambda m, x: m(x, **kw))(m, x)


def _batchnorms(m):
    return [mod for _, mod in nnx.iter_modules(m) if isinstance(mod, nnx.BatchNorm)]


def test_stage_shapes_at_sleep_reference():
    """§4 table at (1, 6000): 16,2000 / ... / 256,125; 512,125; 256,250 / ... / 16,6000; C,6000; C."""
    m = nnx.eval_shape(lambda: UTime(1, 4, 6000, 200.0, rngs=nnx.Rngs(0)))
    logits, f = nnx.eval_shape(lambda m, x: m(x, return_features=True), m, jax.ShapeDtypeStruct((1, 1, 6000), jnp.float32))
    assert logits.shape == (1, 4)
    assert [a.shape for a in f["encoder"]] == [(1, 16, 2000), (1, 32, 1000), (1, 64, 500), (1, 128, 250), (1, 256, 125)]
    assert f["bottom"].shape == (1, 512, 125)
    assert [a.shape for a in f["decoder"]] == [(1, 256, 250), (1, 128, 500), (1, 64, 1000), (1, 32, 2000), (1, 16, 6000)]
    assert f["final"].shape == (1, 16, 6000) and f["dense"].shape == (1, 4, 6000)
    assert m.padded_times == 6000 and m.n_segments == 1
    hash(nnx.graphdef(m))  # static attributes are hashable (a graphdef may serve as a jit static argument)
    # The model's own shape table agrees with the traced one.
    assert m.shapes["encoder"] == [a.shape[1:] for a in f["encoder"]]
    assert m.shapes["decoder"] == [a.shape[1:] for a in f["decoder"]]


def test_parameter_count_by_hand():
    """ConvBNReLU(i, o, k) has i·o·k + o conv and 2·o BatchNorm parameters; 4 classes."""
    m = nnx.eval_shape(lambda: UTime(1, 4, 6000, 200.0, rngs=nnx.Rngs(0)))
    n = sum(math.prod(p.shape) for p in jax.tree.leaves(nnx.state(m, nnx.Param)))

    def cbr(i, o, k=5):
        return i * o * k + o + 2 * o

    f = [16, 32, 64, 128, 256]
    enc = sum(cbr(i, o) + cbr(o, o) for i, o in zip([1] + f[:-1], f))
    bottom = cbr(256, 512) + cbr(512, 512)
    dec = sum(cbr(i, o) + cbr(2 * o, o) + cbr(o, o) for i, o in zip([512, 256, 128, 64, 32], f[::-1]))
    head = (16 * 4 + 4) + (4 * 4 + 4)
    print(f"U-Time parameters: {n} (encoder {enc}, bottom {bottom}, decoder {dec}, dense+classifier {head})")
    assert (enc, bottom, dec, head) == (657_136, 1_969_152, 2_186_864, 88)
    assert n == enc + bottom + dec + head == 4_813_240
    # Running statistics are not parameters: 2 per channel of each of the 34 BatchNorms.
    n_stats = sum(math.prod(p.shape) for p in jax.tree.leaves(nnx.state(m, nnx.BatchStat)))
    assert n_stats == 2 * (2 * sum(f) + 2 * 512 + 3 * sum(f))


def test_xavier_uniform_init(small):
    """PyTorch xavier_uniform_ bounds sqrt(6 / (fan_in + fan_out)), fans in·k and out·k; zero biases."""
    convs = [mod for _, mod in nnx.iter_modules(small) if isinstance(mod, ConvBNReLU)]
    assert len(convs) == 2 * 5 + 2 + 3 * 5
    for c in convs:
        w = np.asarray(c.kernel[...])
        k, i, o = w.shape
        bound = math.sqrt(6.0 / (i * k + o * k))
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
        if w.size >= 10_000:  # variance of U(-b, b) is b²/3
            np.testing.assert_allclose((w**2).mean(), bound**2 / 3, rtol=0.05)
        assert not np.asarray(c.bias[...]).any()
        np.testing.assert_array_equal(c.bn.scale[...], 1.0)
        assert not np.asarray(c.bn.bias[...]).any()
        assert (c.bn.momentum, c.bn.epsilon) == (0.9, 1e-5)  # PyTorch momentum 0.1, eps 1e-5
    for w, (i, o) in ((small.dense_kernel, (16, 3)), (small.cls_kernel, (3, 3))):
        bound = math.sqrt(6.0 / (i + o))
        assert w.shape == (i, o) and np.abs(np.asarray(w[...])).max() <= bound
    assert not np.asarray(small.dense_bias[...]).any() and not np.asarray(small.cls_bias[...]).any()


# ---------------------------------------------------------------- reference forward (PyTorch layout)
def _ref_cbr(h, c: ConvBNReLU, k: int, d: int):
    """eeg_base.ConvBNReLU in eval mode: ConstantPad1d(p, p), Conv1d, ReLU, BatchNorm1d (NCW)."""
    p = (k + (k - 1) * (d - 1) - 1) // 2
    w = jnp.transpose(c.kernel[...], (2, 1, 0))  # (out, in, k)
    z = jax.lax.conv_general_dilated(jnp.pad(h, ((0, 0), (0, 0), (p, p))), w, (1,), "VALID", rhs_dilation=(d,),
                                     dimension_numbers=("NCW", "OIW", "NCW"))
    z = jax.nn.relu(z + c.bias[...][:, None])
    mean, var, scale, bias = (v[...][:, None] for v in (c.bn.mean, c.bn.var, c.bn.scale, c.bn.bias))
    return (z - mean) / jnp.sqrt(var + 1e-5) * scale + bias


@nnx.jit(static_argnums=2)
def _reference_eval(m: UTime, x, resolution: int):
    z, shortcuts = x, []
    for (c1, c2), p in zip(m.enc, m.pools):
        z = _ref_cbr(_ref_cbr(z, c1, 5, 2), c2, 5, 2)
        shortcuts.append(z)
        z = z.reshape(z.shape[0], z.shape[1], -1, p).max(-1)  # MaxPool1d(p)
    for c in m.bottom:
        z = _ref_cbr(z, c, 5, 1)
    for up, (c1, c2), p, s in zip(m.up, m.dec, m.pools[::-1], shortcuts[::-1]):
        z = _ref_cbr(jnp.repeat(z, p, axis=-1), up, 5, 1)  # nn.Upsample(scale_factor=p), nearest
        z = jnp.concatenate([s, z], axis=1)
        z = _ref_cbr(_ref_cbr(z, c1, 5, 1), c2, 5, 1)
    z = jnp.tanh(jnp.einsum("bft,fc->bct", z, m.dense_kernel[...]) + m.dense_bias[...][:, None])
    B, C, T = z.shape
    z = z.reshape(B, C, T // resolution, resolution).mean(-1)  # unfold(-1, res, res).mean(-1)
    return jnp.einsum("bcs,cd->bds", z, m.cls_kernel[...]) + m.cls_bias[...][:, None]  # (B, C, n_segments)


def test_forward_equals_pytorch_layout_reference(small):
    m = nnx.clone(small)
    for i, bn in enumerate(_batchnorms(m)):  # non-trivial running statistics and affine parameters
        n = bn.mean.shape[0]
        bn.mean[...] = jax.random.normal(jax.random.key(i), (n,)) * 0.1
        bn.var[...] = jnp.linspace(0.5, 2.0, n)
        bn.scale[...] = jnp.linspace(0.8, 1.2, n)
        bn.bias[...] = jnp.linspace(-0.1, 0.1, n)
    x = jax.random.normal(jax.random.key(2), (2, 2, T_SMALL))
    logits, aux, f = _run(m, x, return_attention=True, return_features=True)
    assert aux == {}
    ref = _reference_eval(m, x, T_SMALL)
    np.testing.assert_allclose(logits, ref[..., 0], rtol=2e-4, atol=2e-5)
    # Logits are the classifier applied to the time-mean of the dense (tanh) output.
    d = f["dense"]
    assert d.shape == (2, 3, T_SMALL) and np.abs(np.asarray(d)).max() <= 1.0
    np.testing.assert_allclose(logits, d.mean(-1) @ m.cls_kernel[...] + m.cls_bias[...], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(f["final"], f["decoder"][-1])
    plain = nnx.eval_shape(lambda m, x: m(x), m, x)  # plain call: logits only
    assert isinstance(plain, jax.ShapeDtypeStruct) and plain.shape == (2, 3)


def test_two_segments_per_example(small):
    """segment_samples = n_times/2: logits (batch, 2, C), one per half, as the reference's unfold."""
    m2 = build_model("utime", 2, 3, T_SMALL, 200.0, rngs=nnx.Rngs(0), segment_samples=T_SMALL // 2)
    nnx.update(m2, nnx.state(small))  # same weights as the one-segment model
    x = jax.random.normal(jax.random.key(3), (2, 2, T_SMALL))
    logits, f = _run(m2, x, return_features=True)
    assert m2.n_segments == 2 and logits.shape == (2, 2, 3)
    halves = f["dense"].reshape(2, 3, 2, T_SMALL // 2).mean(-1)  # (B, C, 2)
    want = jnp.einsum("bcs,cd->bsd", halves, m2.cls_kernel[...]) + m2.cls_bias[...]
    np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, jnp.swapaxes(_reference_eval(m2, x, T_SMALL // 2), 1, 2), rtol=2e-4, atol=2e-5)
    with pytest.raises(ConfigError, match="segment_samples"):
        build_model("utime", 1, 3, T_SMALL, 200.0, rngs=nnx.Rngs(0), segment_samples=50)


def test_relu_comes_before_batchnorm(small):
    """Train mode: every ConvBNReLU output has per-channel batch mean 0 and unit variance and takes
    negative values; with BatchNorm → ReLU it would be ≥ 0 with a positive mean."""
    m = nnx.clone(small)
    x = jax.random.normal(jax.random.key(4), (4, 2, T_SMALL))
    _, f = _run(m, x, train=True, return_features=True)
    for a in [f["bottom"], *f["decoder"]]:  # outputs of a ConvBNReLU (encoder features are max-pooled)
        a = np.asarray(a)
        mean, var = a.mean((0, 2)), a.var((0, 2))
        np.testing.assert_allclose(mean, 0.0, atol=1e-4)
        live = var > 1e-3  # channels whose ReLU output is not constant
        assert live.mean() > 0.5
        np.testing.assert_allclose(var[live], 1.0, rtol=1e-2)
        assert a.min() < -0.1
    # The running mean moved by PyTorch's momentum 0.1 towards the batch mean of ReLU(conv(x)).
    c = small.enc[0][0]
    z = jax.nn.relu(jax.lax.conv_general_dilated(jnp.swapaxes(x, 1, 2), c.kernel[...], (1,), [(4, 4)], rhs_dilation=(2,),
                                                 dimension_numbers=("NWC", "WIO", "NWC")))
    assert float(z.mean()) > 0.05  # ReLU output, not centred
    np.testing.assert_allclose(m.enc[0][0].bn.mean[...], 0.1 * z.mean((0, 1)), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(small.enc[0][0].bn.mean[...], 0.0)  # the clone was updated, not the original


def test_padding_path_at_641_samples(small):
    """641 samples (EEGMMIDB at 160 Hz) are zero-padded to 672 = 14·48; outputs cropped back to 641."""
    m = build_model("utime", 2, 3, 641, 160.0, rngs=nnx.Rngs(0))
    nnx.update(m, nnx.state(small))
    assert m.padded_times == 672
    x = jax.random.normal(jax.random.key(5), (2, 2, 641))
    logits, f = _run(m, x, return_features=True)
    assert logits.shape == (2, 3) and np.isfinite(np.asarray(logits)).all()
    assert [a.shape[1:] for a in f["encoder"]] == [(16, 214), (32, 107), (64, 54), (128, 27), (256, 14)]
    assert f["bottom"].shape[1:] == (512, 14)
    assert [a.shape[1:] for a in f["decoder"]] == [(256, 27), (128, 54), (64, 107), (32, 214), (16, 641)]
    assert f["final"].shape == (2, 16, 641) and f["dense"].shape == (2, 3, 641)
    assert m.shapes["encoder"] == [a.shape[1:] for a in f["encoder"]]
    # Eval mode: exactly the 672-sample model on the zero-padded input, cropped to 641 before the segment mean.
    m672 = build_model("utime", 2, 3, 672, 160.0, rngs=nnx.Rngs(0))
    nnx.update(m672, nnx.state(small))
    _, f672 = _run(m672, jnp.pad(x, ((0, 0), (0, 0), (0, 31))), return_features=True)
    np.testing.assert_allclose(f["dense"], f672["dense"][..., :641], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, f["dense"].mean(-1) @ m.cls_kernel[...] + m.cls_bias[...], rtol=1e-5, atol=1e-6)
    # Train mode: batch statistics exclude the padded positions.
    logits_t = _run(m, x, train=True)
    assert np.isfinite(np.asarray(logits_t)).all()
    c = small.enc[0][0]
    z = jax.nn.relu(jax.lax.conv_general_dilated(jnp.swapaxes(jnp.pad(x, ((0, 0), (0, 0), (0, 31))), 1, 2), c.kernel[...],
                                                 (1,), [(4, 4)], rhs_dilation=(2,), dimension_numbers=("NWC", "WIO", "NWC")))
    np.testing.assert_allclose(m.enc[0][0].bn.mean[...], 0.1 * z[:, :641].mean((0, 1)), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="n_times=641"):
        m(jnp.zeros((1, 2, 640)))


def test_eegmmidb_shape_64_channels():
    """64-channel 640-sample trials (one segment each) give (batch, n_outputs) logits, without compute."""
    m = nnx.eval_shape(lambda: UTime(64, 2, 640, 160.0, rngs=nnx.Rngs(0)))
    logits, aux = nnx.eval_shape(lambda m, x: m(x, return_attention=True), m, jax.ShapeDtypeStruct((8, 64, 640), jnp.float32))
    assert logits.shape == (8, 2) and aux == {} and m.padded_times == 672


def test_bad_hyper_parameters():
    with pytest.raises(ConfigError, match="pools"):
        build_model("utime", 1, 4, 6000, 200.0, rngs=nnx.Rngs(0), filters=[16, 32], pools=[3, 2, 2])
    with pytest.raises(ConfigError, match="positive"):
        build_model("utime", 1, 4, 6000, 200.0, rngs=nnx.Rngs(0), dilation=0)
    with pytest.raises(ConfigError, match="hyper-parameters"):
        build_model("utime", 1, 4, 6000, 200.0, rngs=nnx.Rngs(0), n_filters=3)


def test_jitted_gradients_equal_eager_ones():
    """Under ``jit`` the gradients are those of the same code run op by op (float64), through all
    five max-pooling levels. With the pooling gradient computed as ``x == max`` in the backward pass
    (as ``jnp.max``'s gradient does), 23 % of the windows at the deepest levels found no equal
    element inside the jitted step (jax 0.10.2 CPU) and every encoder gradient was off; hence
    ``layers.max_pool`` keeps the argmax from the forward pass."""
    from conftest import assert_jitted_gradients_equal_eager

    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal((4, 1, 480)))
        assert_jitted_gradients_equal_eager(build_model("utime", 1, 5, 480, 200.0, rngs=nnx.Rngs(0)),
                                            lambda model: model(x, train=True), jnp.asarray(rng.integers(0, 5, 4)))
