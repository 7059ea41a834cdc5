"""EEGNet v4 against braindecode's layer settings (``EEGNetv4``), checked by hand-written
PyTorch-layout convolutions (NCHW, symmetric padding, grouped convs)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models import build_model


def test_shapes_and_parameters_at_msc_t3am_reference():
    """62 ch x 1500 samples, 6 classes: 1501 → 375 → 376 → 47 samples, as §1 lists."""
    m = build_model("eegnet", 62, 6, 1500, 250.0, rngs=nnx.Rngs(0))
    assert m.shapes == {"temporal": 1501, "pool1": 375, "separable": 376, "pool2": 47}
    assert m.features(jnp.zeros((2, 62, 1500))).shape == (2, 47, 16)
    n = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(m, nnx.Param)))
    # braindecode's EEGNetv4 has 6614 parameters here; jeeg drops the first BatchNorm's 16 affine
    # parameters, whose true gradient is zero (see jeeg.models.eegnet).
    assert n == 6614 - 16


def _pool(h, k):  # PyTorch AvgPool2d((1, k)) on NCHW, floor mode
    T = h.shape[-1] // k
    return h[..., : T * k].reshape(h.shape[:-1] + (T, k)).mean(-1)


def _reference_eval(m, x):
    """braindecode's EEGNetv4 forward in eval mode, written with NCHW convolutions."""
    dn = ("NCHW", "OIHW", "NCHW")
    bn = lambda h, mod: (h - mod.mean[...][None, :, None, None]) / jnp.sqrt(mod.var[...][None, :, None, None] + 1e-3) * (  # noqa: E731
        mod.scale[...][None, :, None, None] if mod.scale is not None else 1.0) + (
        mod.bias[...][None, :, None, None] if mod.bias is not None else 0.0)
    k = m.conv_t.kernel[...]  # (64, 1, F1)
    h = jax.lax.conv_general_dilated(x[:, None], k.transpose(2, 1, 0)[:, :, None, :], (1, 1), ((0, 0), (32, 32)),
                                     dimension_numbers=dn)  # (B, F1, C, T+1)
    h = bn(h, m.bn_t)
    ks = m.conv_s.kernel[...]  # (C, F1, D) → (F1·D, 1, C, 1), output map f·D + d
    C, F1, D = ks.shape
    h = jax.lax.conv_general_dilated(h, ks.reshape(C, F1 * D).T[:, None, :, None], (1, 1), "VALID",
                                     dimension_numbers=dn, feature_group_count=F1)
    h = _pool(jax.nn.elu(bn(h, m.bn_s)), 4)
    kd = m.conv_sep_d.kernel[...]  # (16, F1·D)
    h = jax.lax.conv_general_dilated(h, kd.T[:, None, None, :], (1, 1), ((0, 0), (8, 8)), dimension_numbers=dn,
                                     feature_group_count=F1 * D)
    h = jnp.einsum("bfht,fg->bght", h, m.conv_sep_p.kernel[...])
    h = _pool(jax.nn.elu(bn(h, m.bn_sep)), 8)  # (B, F2, 1, 47)
    w = m.cls_kernel[...].reshape(h.shape[-1], h.shape[1], -1)  # (47, F2, n_out)
    return jnp.einsum("bfht,tfo->bo", h, w) + m.cls_bias[...]


def test_forward_equals_pytorch_layout_reference():
    m = build_model("eegnet", 62, 6, 1500, 250.0, rngs=nnx.Rngs(1))
    # Non-trivial running statistics, so that every BatchNorm is checked.
    for bn_mod, n in ((m.bn_t, 8), (m.bn_s, 16), (m.bn_sep, 16)):
        bn_mod.mean[...] = jax.random.normal(jax.random.key(n), (n,)) * 0.1
        bn_mod.var[...] = jnp.linspace(0.5, 2.0, n)
    x = jax.random.normal(jax.random.key(2), (3, 62, 1500))
    np.testing.assert_allclose(m(x), _reference_eval(m, x), rtol=2e-4, atol=2e-5)


def test_too_short_input_is_refused():
    with pytest.raises(ConfigError, match="too short"):
        build_model("eegnet", 8, 2, 20, 128.0, rngs=nnx.Rngs(0))
