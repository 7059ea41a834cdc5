"""SST-EmotionNet: stage shapes of the official Keras code (github.com/ziyujia/SST-EmotionNet), fast convolutions against 3-D references,
TorchEEG weights (keys, layouts, a reference forward pass written from TorchEEG's source), errors."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models import REGISTRY, build_model
from jeeg.models.sst_emotionnet import (
    Conv3d,
    SSTEmotionNet,
    _Init,
    _pool2,
    _torcheeg_keys,
    load_torcheeg_state_dict,
    torcheeg_state_dict,
)

ATT_KEYS = ("spatial_attention_spectral", "spectral_attention", "spatial_attention_temporal", "temporal_attention")


def make(variant="official", n_outputs=3, seed=0, **kw):
    return SSTEmotionNet(62, n_outputs, 200, 200.0, rngs=nnx.Rngs(seed), variant=variant, **kw)


@functools.partial(jax.jit, static_argnums=(0, 3))
def forward(graphdef, state, x, train=False, key=None):
    """Jitted forward pass: (logits, attention dict, batch statistics after the call)."""
    m = nnx.merge(graphdef, state)
    logits, att = m(x, train=train, rngs=nnx.Rngs(dropout=key) if train else None, return_attention=True)
    return logits, att, nnx.state(m, nnx.BatchStat)


def run(model, x, train=False, key=None):
    return forward(*nnx.split(model), x, train, key)


@pytest.fixture(scope="module")
def official():
    return make("official")


@pytest.fixture(scope="module")
def x32():
    return jax.random.normal(jax.random.key(0), (2, 30, 32, 32))


# ------------------------------------------------------------------------------------------------
# Shapes


def test_official_stage_shapes_match_keras_reference(official):
    """Stage outputs (H, W, D, C) of the official Keras model for SEED's 32 x 32, 5 bands, 25 frames."""
    spectral = {"stem": (32, 32, 5, 24), "block1": (32, 32, 5, 48), "transition1": (16, 16, 2, 24),
                "attention1": (16, 16, 2, 24), "block2": (16, 16, 2, 48), "transition2": (8, 8, 1, 24),
                "attention2": (8, 8, 1, 24), "block3": (8, 8, 1, 48), "pool": (48,)}
    temporal = {"stem": (8, 8, 13, 48), "block1": (8, 8, 13, 120), "transition1": (4, 4, 6, 120),
                "attention1": (4, 4, 6, 120), "block2": (4, 4, 6, 192), "transition2": (2, 2, 3, 192),
                "attention2": (2, 2, 3, 192), "block3": (2, 2, 3, 264), "pool": (264,)}
    expected = {**{f"spectral/{k}": v for k, v in spectral.items()}, **{f"temporal/{k}": v for k, v in temporal.items()}}
    got = official.stage_shapes()
    assert got == expected
    assert list(got) == list(expected)  # forward order: attention after each transition
    assert dict(official.spectral.plan) == spectral and dict(official.temporal.plan) == temporal
    # Attention Dense sizes of the table: spectral 256 / 2 and 64 / 1, temporal 16 / 6 and 4 / 3.
    sizes = [(a.spatial.kernel.shape, a.temporal.kernel.shape) for s in (official.spectral, official.temporal)
             for a in s.attentions]
    assert sizes == [((256, 256), (2, 2)), ((64, 64), (1, 1)), ((16, 16), (6, 6)), ((4, 4), (3, 3))]
    assert official.fc1.kernel.shape == (312, 50) and official.fc2.kernel.shape == (50, 3)
    assert official.spectral.dense_blocks[0].layers[0].conv_mid is None
    assert official.drop.rate == 0.5


def test_torcheeg_stage_shapes_attention_before_every_block():
    m = nnx.eval_shape(lambda: make("torcheeg"))
    got = m.stage_shapes()
    assert [k for k in got if k.startswith("spectral/")] == [
        f"spectral/{k}" for k in ("stem", "attention1", "block1", "transition1", "attention2", "block2",
                                  "transition2", "attention3", "block3", "pool")]
    assert got["spectral/attention1"] == (32, 32, 5, 24) and got["temporal/attention1"] == (8, 8, 13, 48)
    assert got["temporal/stem"] == (8, 8, 13, 48) and got["temporal/block3"] == (2, 2, 3, 264)
    assert got["spectral/pool"] == (48,) and got["temporal/pool"] == (264,)
    assert m.spectral.dense_blocks[0].layers[0].conv_mid.kernel.shape == (1, 1, 1, 12, 12)
    assert m.drop.rate == 0.0


def keras_trainable_count(H=32, W=32, n_bands=5, n_frames=25, n_outputs=3):
    """Trainable parameters of the Keras model, counted from model.py's layer list (BN: γ, β)."""
    def stream(depth, g, compression, subsample, h, w, d):
        n, c = (depth - 4) // 3 // 2, 2 * g
        total = (75 * c + 2 * c) if subsample else 9 * c
        if subsample:
            h, w, d = -(-h // 4), -(-w // 4), -(-d // 2)
        for b in range(3):
            for _ in range(n):
                total += 2 * c + c * 4 * g + 2 * 4 * g + 9 * 4 * g * g + 3 * g * g
                c += g
            if b < 2:
                total += 2 * c + c * int(c * compression)
                c, h, w, d = int(c * compression), h // 2, w // 2, d // 2
                total += (h * w) ** 2 + h * w + d * d + d
        return total + 2 * c, c

    s, cs = stream(16, 12, 0.5, False, H, W, n_bands)
    t, ct = stream(22, 24, 1.0, True, H, W, n_frames)
    return s + t + (cs + ct) * 50 + 50 + 50 * n_outputs + n_outputs


def test_official_parameter_count(official):
    n = sum(p.size for p in jax.tree.leaves(nnx.state(official, nnx.Param)))
    assert n == keras_trainable_count() == 519213


def test_l2_params_are_the_regularised_keras_kernels(official):
    l2 = official.l2_params()
    # 2 stems, one bottleneck per conv block (2 x 3 spectral + 3 x 3 temporal), 2 x 2 transitions.
    assert len(l2) == 2 + 15 + 4
    assert "spectral.stem.kernel" in l2 and "temporal.transitions.1.conv.kernel" in l2
    assert all(k.endswith("conv1.kernel") for k in l2 if ".dense_blocks." in k)
    paths = {".".join(map(str, p)) for p, _ in nnx.to_flat_state(nnx.state(official, nnx.Param))}
    assert set(l2) <= paths
    assert l2["spectral.stem.kernel"] is official.spectral.stem.kernel
    assert nnx.eval_shape(lambda: make("torcheeg")).l2_params() == {}


# ------------------------------------------------------------------------------------------------
# Forward pass


def test_official_forward_attention_jit_and_dropout(official, x32):
    graphdef, state = nnx.split(official)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def fwd(state, x):
        return nnx.merge(graphdef, state)(x, return_attention=True)

    logits, att = fwd(state, x32)
    logits2, _ = fwd(state, x32 + 0.0)  # same shapes: no second trace
    assert logits.shape == (2, 3) and np.isfinite(np.asarray(logits)).all()
    np.testing.assert_array_equal(logits, logits2)  # eval: no dropout
    assert set(att) == set(ATT_KEYS)
    shapes = {k: [a.shape for a in v] for k, v in att.items()}
    assert shapes == {"spatial_attention_spectral": [(2, 16, 16), (2, 8, 8)], "spectral_attention": [(2, 2), (2, 1)],
                      "spatial_attention_temporal": [(2, 4, 4), (2, 2, 2)], "temporal_attention": [(2, 6), (2, 3)]}
    for a in jax.tree.leaves(att):
        assert ((np.asarray(a) > 0) & (np.asarray(a) < 1)).all()
    # Training mode: dropout 0.5 after the fusion layer; batch statistics normalise instead.
    a, _, stats = run(official, x32, True, jax.random.key(1))
    b, _, _ = run(official, x32, True, jax.random.key(2))
    assert not np.allclose(a, b)
    # Running averages move only in training, by 1 - momentum = 0.01 (Keras momentum 0.99).
    np.testing.assert_array_equal(official.spectral.final_bn.mean[...], 0.0)
    _, _, eval_stats = run(official, x32)
    np.testing.assert_array_equal(eval_stats["spectral"]["final_bn"]["mean"][...], 0.0)
    moved = np.asarray(stats["spectral"]["final_bn"]["mean"][...])
    assert 0 < np.abs(moved).max() < 0.05


def test_same_seed_same_weights_and_init_scales():
    models = [make("official", seed=s, grid_shape=(16, 16)) for s in (0, 0, 1)]
    a, b, c = (nnx.state(m, nnx.Param) for m in models)
    chex.assert_trees_all_equal(a, b)
    assert not np.array_equal(a["fc1"]["kernel"][...], c["fc1"]["kernel"][...])
    m = models[0]
    k = np.asarray(m.temporal.dense_blocks[0].layers[2].conv2.kernel[...])  # he_normal, fan_in 3·3·96
    assert abs(k.std() / np.sqrt(2.0 / (9 * 96)) - 1) < 0.1 and np.abs(k).max() <= 2 * np.sqrt(2.0 / 864) / 0.8796
    np.testing.assert_array_equal(m.fc1.bias[...], 0.0)
    t = make("torcheeg", grid_shape=(16, 16))
    w = np.asarray(t.temporal.dense_blocks[0].layers[0].conv1.kernel[...])  # fan_in 48
    assert np.abs(w).max() <= 1 / np.sqrt(48) and w.std() > 0.8 / np.sqrt(3 * 48)
    assert np.abs(np.asarray(t.fc1.bias[...])).max() <= 1 / np.sqrt(t.fc1.kernel.shape[0])


# ------------------------------------------------------------------------------------------------
# Fast convolutions and pooling against plain 3-D references


@pytest.mark.parametrize("ksize,stride,padding,lax_pad", [
    ((3, 3, 1), (1, 1, 1), ((1, 1), (1, 1), (0, 0)), "SAME"),
    ((1, 1, 3), (1, 1, 1), ((0, 0), (0, 0), (1, 1)), "SAME"),
    ((1, 1, 1), (1, 1, 1), "same", "SAME"),
    ((5, 5, 3), (2, 2, 1), "same", "SAME"),  # official temporal stem: Keras/TF 'same'
    ((5, 5, 3), (2, 2, 1), ((2, 2), (2, 2), (1, 1)), ((2, 2), (2, 2), (1, 1))),  # TorchEEG padding (2, 2, 1)
])
def test_conv3d_fast_paths_equal_3d_convolution(ksize, stride, padding, lax_pad):
    conv = Conv3d(3, 4, ksize, init=(init := _Init()), torch_init=True, stride=stride, padding=padding)
    init.fill(jax.random.key(0))
    for shape in [(2, 9, 8, 5, 3), (2, 8, 8, 6, 3)]:
        x = jax.random.normal(jax.random.key(1), shape)
        ref = jax.lax.conv_general_dilated(x, conv.kernel[...], stride, lax_pad,
                                           dimension_numbers=("NHWDC", "HWDIO", "NHWDC"))
        np.testing.assert_allclose(conv(x), ref, rtol=1e-5, atol=1e-5)


def test_pooling_equals_reduce_window():
    h = jax.random.normal(jax.random.key(0), (2, 9, 8, 25, 3))
    for pads, tf_pad in [("same", "SAME"), (((0, 0), (0, 0), (1, 1)), ((0, 0), (0, 0), (0, 0), (1, 1), (0, 0)))]:
        p = tuple((0, (-n) % 2) for n in h.shape[1:4]) if pads == "same" else pads
        got = _pool2(jnp.pad(h, ((0, 0), *p, (0, 0)), constant_values=-jnp.inf), "max")
        ref = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 2, 1), (1, 2, 2, 2, 1), tf_pad)
        np.testing.assert_array_equal(got, ref)
    ref = jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 2, 2, 2, 1), (1, 2, 2, 2, 1), "VALID") / 8
    np.testing.assert_allclose(_pool2(h, "mean"), ref, rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# TorchEEG weights


def fake_torcheeg_state_dict(grid=(16, 16), spectral_in=4, temporal_in=8, num_classes=3, seed=0, *,
                             spectral_depth=16, temporal_depth=22, sg=12, tg=24, num_dense_block=3, hid=50):
    """Random tensors under the keys and shapes of TorchEEG's ``SSTEmotionNet(...).state_dict()``.

    Written from torcheeg/models/cnn/sst_emotion_net.py (DenseNet3D / DenseBlock / ConvBlock /
    Transition / Attention), independently of jeeg's key map.
    """
    rng = np.random.default_rng(seed)
    sd = {}

    def conv(key, o, i, *k):
        sd[key] = rng.normal(0, 1 / np.sqrt(i * np.prod(k)), (o, i, *k)).astype(np.float32)

    def linear(key, o, i):
        sd[f"{key}.weight"] = rng.normal(0, 1 / np.sqrt(i), (o, i)).astype(np.float32)
        sd[f"{key}.bias"] = rng.normal(0, 0.1, (o,)).astype(np.float32)

    def bn(key, c):
        sd[f"{key}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[f"{key}.bias"] = rng.normal(0, 0.1, c).astype(np.float32)
        sd[f"{key}.running_mean"] = rng.normal(0, 0.1, c).astype(np.float32)
        sd[f"{key}.running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[f"{key}.num_batches_tracked"] = np.array(7, np.int64)

    def densenet(p, in_ch, depth, growth, reduction, subsample):
        count = (depth - 4) // 3 // 2
        nf, compression = 2 * growth, 1.0 - reduction
        gh, gw, gc = grid[0], grid[1], in_ch
        if subsample:
            conv(f"{p}.conv_layer.conv1.weight", nf, 1, 5, 5, 3)
            bn(f"{p}.conv_layer.batch1", nf)
            gh, gw = (gh + 4 - 5) // 2 + 1, (gw + 4 - 5) // 2 + 1  # conv, padding (2, 2, 1), stride (2, 2, 1)
            gh, gw, gc = (gh - 2) // 2 + 1, (gw - 2) // 2 + 1, (gc + 2 - 2) // 2 + 1  # MaxPool3d padding (0, 0, 1)
        else:
            conv(f"{p}.conv_layer.conv1.weight", nf, 1, 3, 3, 1)
        i = 0
        for b in range(num_dense_block):
            linear(f"{p}.layers.{i}.spatail_dense", gh * gw, gh * gw)
            linear(f"{p}.layers.{i}.temporal_dense", gc, gc)
            for j in range(count):
                q, cin = f"{p}.layers.{i + 1}.layers.{j}.layers", nf + j * growth
                bn(f"{q}.0", cin)
                conv(f"{q}.2.weight", 4 * growth, cin, 1, 1, 1)
                bn(f"{q}.3", 4 * growth)
                conv(f"{q}.5.weight", growth, 4 * growth, 3, 3, 1)
                conv(f"{q}.6.weight", growth, growth, 1, 1, 1)
                conv(f"{q}.7.weight", growth, growth, 1, 1, 3)
            nf += growth * count
            if b < num_dense_block - 1:
                bn(f"{p}.layers.{i + 2}.layers.0", nf)
                conv(f"{p}.layers.{i + 2}.layers.2.weight", int(nf * compression), nf, 1, 1, 1)
                nf, gh, gw, gc = int(nf * compression), gh // 2, gw // 2, gc // 2
            i += 3
        bn(f"{p}.final_layers.0", nf)
        return nf

    fs = densenet("spatial_spectral", spectral_in, spectral_depth, sg, 0.5, False)
    ft = densenet("spatial_temporal", temporal_in, temporal_depth, tg, 0.0, True)
    linear("layers.0", hid, fs + ft)
    linear("layers.2", num_classes, hid)
    return sd


def torcheeg_reference_forward(sd, x, n_spectral, train=False):
    """TorchEEG's SSTEmotionNet.forward in PyTorch layouts (B, C, H, W, D), dropout 0.

    ``train``: BatchNorm normalises with the batch's mean and biased variance, as PyTorch's
    ``BatchNorm3d`` in training mode; otherwise with the running statistics.
    """
    dn = ("NCHWD", "OIHWD", "NCHWD")

    def conv(h, w, stride=(1, 1, 1), pad=((0, 0),) * 3):
        return jax.lax.conv_general_dilated(h, jnp.asarray(w), stride, pad, dimension_numbers=dn)

    def bn(h, p):
        s = lambda k: jnp.asarray(sd[f"{p}.{k}"])[None, :, None, None, None]  # noqa: E731
        if train:
            mean, var = h.mean((0, 2, 3, 4), keepdims=True), h.var((0, 2, 3, 4), keepdims=True)
        else:
            mean, var = s("running_mean"), s("running_var")
        return (h - mean) / jnp.sqrt(var + 1.1e-5) * s("weight") + s("bias")

    def lin(h, p):
        return h @ jnp.asarray(sd[f"{p}.weight"]).T + jnp.asarray(sd[f"{p}.bias"])

    def attention(h, p):
        m = h.mean(1)  # (B, H, W, D)
        B, H, W, D = m.shape
        s = jax.nn.sigmoid(lin(m.mean(-1).reshape(B, H * W), f"{p}.spatail_dense")).reshape(B, 1, H, W, 1)
        t = jax.nn.sigmoid(lin(m.mean((1, 2)), f"{p}.temporal_dense")).reshape(B, 1, 1, 1, D)
        return h * s * t

    def densenet(h, p, subsample):
        h = h[:, None]  # (B, 1, H, W, D)
        if subsample:
            h = conv(h, sd[f"{p}.conv_layer.conv1.weight"], (2, 2, 1), ((2, 2), (2, 2), (1, 1)))
            h = jax.nn.relu(bn(h, f"{p}.conv_layer.batch1"))
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2),
                                      ((0, 0), (0, 0), (0, 0), (0, 0), (1, 1)))
        else:
            h = conv(h, sd[f"{p}.conv_layer.conv1.weight"], pad=((1, 1), (1, 1), (0, 0)))
        i = 0
        while f"{p}.layers.{i}.spatail_dense.weight" in sd:
            h = attention(h, f"{p}.layers.{i}")
            j = 0
            while f"{p}.layers.{i + 1}.layers.{j}.layers.2.weight" in sd:
                q = f"{p}.layers.{i + 1}.layers.{j}.layers"
                c = conv(jax.nn.relu(bn(h, f"{q}.0")), sd[f"{q}.2.weight"])
                c = conv(jax.nn.relu(bn(c, f"{q}.3")), sd[f"{q}.5.weight"], pad=((1, 1), (1, 1), (0, 0)))
                c = conv(conv(c, sd[f"{q}.6.weight"]), sd[f"{q}.7.weight"], pad=((0, 0), (0, 0), (1, 1)))
                h, j = jnp.concatenate([h, c], axis=1), j + 1
            if f"{p}.layers.{i + 2}.layers.2.weight" in sd:
                h = conv(jax.nn.relu(bn(h, f"{p}.layers.{i + 2}.layers.0")), sd[f"{p}.layers.{i + 2}.layers.2.weight"])
                h = jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2), "VALID") / 8
            i += 3
        return jax.nn.relu(bn(h, f"{p}.final_layers.0")).mean((2, 3, 4))

    xs = jnp.transpose(x[:, :n_spectral], (0, 2, 3, 1))  # permute(0, 2, 3, 1): (B, H, W, D)
    xt = jnp.transpose(x[:, n_spectral:], (0, 2, 3, 1))
    h = jnp.concatenate([densenet(xs, "spatial_spectral", False), densenet(xt, "spatial_temporal", True)], 1)
    return lin(lin(h, "layers.0"), "layers.2")


def test_torcheeg_keys_cover_every_parameter_once():
    """TorchEEG's default SSTEmotionNet() (32 x 32, 5 + 25 maps, 3 classes): keys, shapes, sizes."""
    m = nnx.eval_shape(lambda: make("torcheeg"))
    sd = fake_torcheeg_state_dict(grid=(32, 32), spectral_in=5, temporal_in=25)
    keys = _torcheeg_keys(m)
    leaves = jax.tree.leaves(nnx.state(m, nnx.Param)) + jax.tree.leaves(nnx.state(m, nnx.BatchStat))
    assert len({id(v) for v, _ in keys.values()}) == len(keys) == len(leaves)
    assert set(keys) == {k for k in sd if not k.endswith("num_batches_tracked")}
    assert len(sd) == 279  # len(torcheeg SSTEmotionNet().state_dict()) in torcheeg 1.1.3
    n_torch = sum(v.size for k, v in sd.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert sum(p.size for p in jax.tree.leaves(nnx.state(m, nnx.Param))) == n_torch == 1579233
    load_torcheeg_state_dict(m, sd)  # every shape fits


def test_torcheeg_state_dict_round_trip_and_reference_forward():
    kw = dict(grid_shape=(16, 16), n_bands=4, n_frames=8, temporal_depth=16, n_dense_blocks=2)  # small: fast compile
    sd = fake_torcheeg_state_dict(temporal_depth=16, num_dense_block=2)
    m = make("torcheeg", **kw)
    load_torcheeg_state_dict(m, sd)
    back = torcheeg_state_dict(m)
    assert set(back) == set(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(back[k], v if not k.endswith("num_batches_tracked") else 0, err_msg=k)
    # Semantics: jeeg with the loaded weights equals TorchEEG's forward pass written from its source.
    # Eval mode checks the running statistics; training mode (batch statistics) keeps every layer's
    # output O(1), so that any misplaced kernel axis or Dense orientation changes the logits.
    k1, k2 = jax.random.split(jax.random.key(0))
    x = jax.random.normal(k1, (4, 12, 16, 16)) + 2 * jax.random.normal(k2, (4, 12, 1, 1)) * jnp.linspace(-1, 1, 16)
    ref = jax.jit(torcheeg_reference_forward, static_argnums=(2, 3))
    for train in (False, True):
        logits, att, _ = run(m, x, train, jax.random.key(1))
        np.testing.assert_allclose(logits, ref(sd, x, 4, train), rtol=1e-4, atol=1e-4 if train else 1e-6)
    assert np.asarray(logits).std(0).max() > 0.1  # the logits depend on the input
    assert [a.shape for a in att["spatial_attention_spectral"]] == [(4, 16, 16), (4, 8, 8)]
    assert [a.shape for a in att["temporal_attention"]] == [(4, 5), (4, 2)]


def test_torcheeg_loader_errors():
    m = nnx.eval_shape(lambda: make("torcheeg", grid_shape=(16, 16), n_bands=4, n_frames=8))
    sd = fake_torcheeg_state_dict()
    bad = dict(sd, **{"spatial_temporal.layers.1.layers.2.layers.5.weight": np.zeros((24, 96, 3, 1, 3), np.float32)})
    with pytest.raises(ConfigError, match=r"spatial_temporal\.layers\.1\.layers\.2\.layers\.5\.weight: expected "
                                          r"\(24, 96, 3, 3, 1\), got \(24, 96, 3, 1, 3\)"):
        load_torcheeg_state_dict(m, bad)
    with pytest.raises(ConfigError, match=r"no place.*layers\.9\.weight"):
        load_torcheeg_state_dict(m, dict(sd, **{"layers.9.weight": np.zeros(3)}))
    missing = {k: v for k, v in sd.items() if k != "spatial_spectral.final_layers.0.running_var"}
    with pytest.raises(ConfigError, match=r"unfilled.*spatial_spectral\.final_layers\.0\.running_var"):
        load_torcheeg_state_dict(m, missing)
    # A grid of another size: the attention Dense shapes differ.
    with pytest.raises(ConfigError, match="spatail_dense.weight: expected"):
        load_torcheeg_state_dict(m, fake_torcheeg_state_dict(grid=(20, 20)))
    with pytest.raises(ConfigError, match="variant='torcheeg'"):
        load_torcheeg_state_dict(nnx.eval_shape(lambda: make("official")), sd)


# ------------------------------------------------------------------------------------------------
# Errors and registry


def test_bad_arguments_and_inputs(official):
    with pytest.raises(ConfigError, match="at least 16 x 16"):
        make(grid_shape=(15, 32))
    with pytest.raises(ConfigError, match="unknown variant 'keras'"):
        make("keras")
    with pytest.raises(ConfigError, match="spectral_depth=15"):
        make(spectral_depth=15)
    with pytest.raises(ConfigError, match="spectral stream.*transition 2"):
        make(n_bands=3)  # 3 bands pool to 1, then 0
    with pytest.raises(ConfigError, match=r"input shape \(2, 30, 16, 16\), expected \(batch, 30, 32, 32\)"):
        official(jnp.zeros((2, 30, 16, 16)))
    with pytest.raises(ConfigError, match=r"expected \(batch, 30, 32, 32\)"):
        official(jnp.zeros((2, 62, 200)))


def test_registry_entry():
    assert REGISTRY["sst_emotionnet"].cls is SSTEmotionNet
    assert REGISTRY["sst_emotionnet"].display_name == "SST-EmotionNet"
    m = nnx.eval_shape(lambda: build_model("sst_emotionnet", 62, 4, 200, 200.0, rngs=nnx.Rngs(0), variant="torcheeg"))
    assert m.input_shape == (30, 32, 32) and m.fc2.kernel.shape == (50, 4)


def test_jitted_gradients_equal_eager_ones():
    """Under ``jit`` the gradients are those of the same code run op by op (float64). JAX's
    gradient of max pooling by reshaping got the temporal stem's gradients wrong under ``jit``
    (jax 0.10.2 CPU), hence :func:`jeeg.models.layers.max_pool` in ``_pool2``."""
    from conftest import assert_jitted_gradients_equal_eager

    from jeeg.models import build_model

    with jax.enable_x64(True):
        m = build_model("sst_emotionnet", 62, 3, 200, 200.0, rngs=nnx.Rngs(0), grid_shape=(16, 16),
                        spectral_depth=10, temporal_depth=10)
        x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 30, 16, 16)))
        assert_jitted_gradients_equal_eager(
            m, lambda model: model(x, train=True, rngs=nnx.Rngs(dropout=jax.random.key(3))), jnp.asarray([0, 2]))
