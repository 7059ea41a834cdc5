"""SST-EmotionNet: two attention 3-D DenseNets (spatial-spectral, spatial-temporal) and a fused head.

Source: Jia, Lin, Cai, Chen, Gou, Wang, "SST-EmotionNet: spatial-spectral-temporal based attention
3D dense network for EEG emotion recognition", ACM MM 2020, doi 10.1145/3394171.3413724; official
Keras code github.com/ziyujia/SST-EmotionNet @ 187e03f (``model/model.py``, ``config/SEED.ini``)
and TorchEEG's ``SSTEmotionNet`` @ b6039b1 (``torcheeg/models/cnn/sst_emotion_net.py``).

Input (batch, n_bands + n_frames, H, W), channels first as TorchEEG: the first ``n_bands`` maps
are the spatial-spectral cube (DE of δ, θ, α, β, γ on the electrode grid), the next ``n_frames``
the spatial-temporal cube (consecutive signal frames on the grid); see :mod:`jeeg.grids` and
:mod:`jeeg.features` for making them. Inside, each cube is (batch, H, W, D, C) with C = 1 at the
start (Keras's layout). Stage outputs (H, W, D, C) of ``variant="official"`` at SEED's 32 x 32:

=====  ==================================================================  ===============  ===============
 row    op                                                                  spectral         temporal
=====  ==================================================================  ===============  ===============
 1      stem: spectral Conv 3x3x1 → 2g; temporal Conv 5x5x3 stride (2,2,1)   (32,32,5,24)     (8,8,13,48)
        → 2g → BN → ReLU → MaxPool 2x2x2 stride 2 'same'
 2      dense block 1 (spectral 2, temporal 3 conv blocks of growth g)       (32,32,5,48)     (8,8,13,120)
 3      transition: BN-ReLU-Conv 1x1x1 → ⌊c·compression⌋, AvgPool 2x2x2       (16,16,2,24)     (4,4,6,120)
 4      attention (spatial Dense H·W → H·W, spectral/temporal Dense D → D)  (16,16,2,24)     (4,4,6,120)
 5      dense block 2 → transition → attention                              (8,8,1,24)       (2,2,3,192)
 6      dense block 3                                                       (8,8,1,48)       (2,2,3,264)
 7      BN → ReLU → global average pool                                     (48,)            (264,)
 8      concat 312 → Dense 50 (linear) → Dropout 0.5 → Dense n_outputs      (n_outputs,)
=====  ==================================================================  ===============  ===============

Spectral stream: depth 16 (2 layers per block), growth g = 12, compression 0.5, plain stem.
Temporal stream: depth 22 (3 layers per block), g = 24, compression 1.0, subsampling stem.
Conv block (DenseNet-BC, pseudo-3-D): BN → ReLU → Conv 1x1x1 → 4g → BN → ReLU → Conv 3x3x1 → g →
Conv 1x1x3 → g (no norm or activation between the last two) → Dropout (``densenet_dropout``),
concatenated after its input. Attention: m = mean over channels; spatial weights σ(Dense(mean of m
over D)), spectral/temporal weights σ(Dense(mean of m over H, W)); x ← x · s[h, w] · t[d].

Official variant [code]: Keras 'same' padding (TensorFlow's rule: the odd extra zero goes after),
BatchNorm eps 1.1e-5 and momentum 0.99, convolutions without bias initialised he_normal
(truncated normal), Dense layers Glorot-uniform with zero bias, AvgPool 'valid' (floors odd
sizes). The Keras model puts an L2 1e-4 penalty on the stem, bottleneck 1x1x1 and transition
kernels; :meth:`SSTEmotionNet.l2_params` names them (jeeg trains with AdamW weight decay instead;
no loss term is added here). The Keras head ends in softmax (sigmoid for 2 classes); logits are
returned here.

``variant="torcheeg"`` [code]: TorchEEG's port. An attention module BEFORE every dense block (the
first right after the stem) instead of after each transition; an extra Conv 1x1x1 g → g between
the 3x3x1 and 1x1x3 convolutions; PyTorch's default init (U(±1/sqrt(fan_in)), Linear biases
too); BatchNorm momentum 0.1 (Flax 0.9); temporal stem padding (2, 2, 1) each side and MaxPool
padding (0, 0, 1) (same shapes as Keras's 'same' at 32 x 32, shifted windows); task dropout 0.
Its weights load with :func:`load_torcheeg_state_dict`.

Departures [inferred]: PyTorch and Keras keep an unbiased running variance, Flax a biased one (a
factor n/(n-1) on the running estimate only). All kernels are drawn from one uniform and one
truncated-normal vector (same distributions; see :class:`_Init`). Same maths, other programs, for
XLA:CPU, which runs 3-D convolutions 4-8x slower than these (2 shared cores, batch 64, 2026-11):
(3,3,1) as a 2-D convolution over (H, W·D) dilated by D (forward 775 → 116 ms), (1,1,3) as a 1-D
convolution (116 → 28 ms), the 5x5x3 stem as a 2-D convolution over 3-frame stacks (gradient 1.7
→ 0.4 s), 2x2x2 max pooling with :func:`jeeg.models.layers.max_pool`. Kernel gradients: shifted
matmuls for the 3x3x1 convolutions (431 → 72 ms for the first dense block's) and a patch matrix
for the stem (214 → 88 ms); see :func:`jeeg.models.layers.conv` (2026-11-30).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models.layers import conv, max_pool

VARIANTS = ("official", "torcheeg")
L2_WEIGHT = 1e-4  # Keras ``l2(1e-4)``: adds 1e-4 · Σ w² to the loss for each kernel of l2_params()


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow/Keras 'same' padding of one axis: out = ceil(size / s), the odd extra zero after."""
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


@partial(jax.jit, static_argnums=(1, 2))
def _draw(key: jax.Array, n_uniform: int, n_normal: int):
    ku, kn = jax.random.split(key)
    return (jax.random.uniform(ku, (n_uniform,), minval=-1.0, maxval=1.0),
            jax.random.truncated_normal(kn, -2.0, 2.0, (n_normal,)))


class _Init:
    """Deferred initialisation: layers register their parameters, :meth:`fill` draws them all at once.

    Kinds: "he" (Keras he_normal: normal truncated at ±2 std, std sqrt(2 / fan_in), as Keras 2.3
    and ``jax.nn.initializers.he_normal``), "glorot" (U(±sqrt(6 / (fan_in + fan_out)))), "torch"
    (PyTorch's Conv/Linear default U(±1/sqrt(fan_in)), weights and biases alike), "zeros". One
    uniform and one truncated-normal draw serve every parameter: drawing ~80 kernels one by one
    compiles ~80 XLA programs (17 s per model on 2 CPU cores, eagerly or inside ``jax.jit``;
    measured 2026-11); this way a model builds in ~1 s.
    """

    def __init__(self):
        self.items: list[tuple[nnx.Param, str, float]] = []

    def __call__(self, shape, kind: str, fan_in: int = 1, fan_out: int = 1) -> nnx.Param:
        scale = {"he": math.sqrt(2.0 / fan_in) / 0.87962566103423978, "glorot": math.sqrt(6.0 / (fan_in + fan_out)),
                 "torch": 1.0 / math.sqrt(fan_in), "zeros": 0.0}[kind]
        p = nnx.Param(np.zeros(shape, np.float32))  # placeholder until fill()
        self.items.append((p, kind, scale))
        return p

    def fill(self, key: jax.Array) -> None:
        """Replace every registered placeholder by its draw (eagerly, or traced under jit / vmap)."""
        source = {"he": "z", "zeros": None, "glorot": "u", "torch": "u"}
        sizes = [int(np.prod(p.shape)) for p, _, _ in self.items]
        totals = {src: sum(n for n, (_, kind, _) in zip(sizes, self.items) if source[kind] == src) for src in "uz"}
        draws = dict(zip("uz", _draw(key, totals["u"], totals["z"])))
        concrete = not isinstance(draws["u"], jax.core.Tracer)  # eager: slice in numpy, no XLA program per slice
        if concrete:
            draws = {k: np.asarray(v) for k, v in draws.items()}
        offsets = {"u": 0, "z": 0}
        for (p, kind, scale), n in zip(self.items, sizes):
            src = source[kind]
            if src is None:
                v = np.zeros(p.shape, np.float32)
            else:
                v = draws[src][offsets[src] : offsets[src] + n].reshape(p.shape) * np.float32(scale)
                offsets[src] += n
            p.set_value(jnp.asarray(v, jnp.float32))
        self.items = []


class Conv3d(nnx.Module):
    """Bias-free 3-D convolution of (B, H, W, D, C) cubes; kernel (kH, kW, kD, C_in, C_out).

    ``padding`` is "same" (Keras's rule) or explicit (before, after) pairs per axis. Kernels
    1x1x1 run as a matmul, (k,k,1) at stride 1 as a 2-D convolution over (H, W·D) dilated by D
    along the second axis, (1,1,k) as a 1-D convolution over D; others as a 3-D convolution.
    Initialised he_normal (Keras) or as PyTorch's ``Conv3d`` (``torch_init``). Every convolution
    is :func:`jeeg.models.layers.conv` (channels-last, gradients in the same layout: fast inside
    XLA:CPU's compiled training loop).
    """

    def __init__(self, c_in: int, c_out: int, kernel_size, *, init: _Init, torch_init: bool, stride=(1, 1, 1),
                 padding="same"):
        rf = int(np.prod(kernel_size))
        self.kernel = init((*kernel_size, c_in, c_out), "torch" if torch_init else "he", rf * c_in, rf * c_out)
        self.kernel_size, self.stride, self.padding = tuple(kernel_size), tuple(stride), padding

    def pads(self, spatial) -> tuple[tuple[int, int], ...]:
        if self.padding == "same":
            return tuple(_same_pads(n, k, s) for n, k, s in zip(spatial, self.kernel_size, self.stride))
        return tuple(tuple(p) for p in self.padding)

    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel[...]
        B, H, W, D, C = x.shape
        (kh, kw, kd), pads = self.kernel_size, self.pads((H, W, D))
        unit = self.stride == (1, 1, 1)
        if unit and (kh, kw, kd) == (1, 1, 1) and pads == ((0, 0),) * 3:
            return x @ k.reshape(C, -1)
        if unit and kd == 1 and pads[2] == (0, 0):
            (pw0, pw1) = pads[1]
            y = conv(x.reshape(B, H, W * D, C), k[:, :, 0], (1, 1), (pads[0], (pw0 * D, pw1 * D)), (1, D))
            return y.reshape(B, y.shape[1], y.shape[2] // D, D, -1)
        if unit and kh == kw == 1 and pads[:2] == ((0, 0), (0, 0)):
            y = conv(x.reshape(B * H * W, D, C), k[0, 0], (1,), (pads[2],), (1,))
            return y.reshape(B, H, W, y.shape[1], -1)
        if self.stride[2] == 1:  # the kD depth neighbours become input channels of a 2-D conv over (H, W)
            xp = jnp.pad(x, ((0, 0), (0, 0), (0, 0), pads[2], (0, 0)))
            Do = D + sum(pads[2]) - kd + 1
            s = jnp.stack([xp[:, :, :, i : i + Do] for i in range(kd)], axis=-2)  # (B, H, W, Do, kD, C)
            s = s.transpose(0, 3, 1, 2, 4, 5).reshape(B * Do, H, W, kd * C)
            y = conv(s, k.reshape(kh, kw, kd * C, -1), self.stride[:2], pads[:2], (1, 1))
            return y.reshape(B, Do, *y.shape[1:]).transpose(0, 2, 3, 1, 4)
        return conv(x, k, self.stride, pads, (1, 1, 1))


class Dense(nnx.Module):
    """Affine map (..., d_in) → (..., d_out); kernel (d_in, d_out), bias (d_out,).

    Initialised as Keras's ``Dense`` (Glorot-uniform, zero bias) or PyTorch's ``Linear`` (``torch_init``).
    """

    def __init__(self, d_in: int, d_out: int, *, init: _Init, torch_init: bool):
        self.kernel = init((d_in, d_out), "torch" if torch_init else "glorot", d_in, d_out)
        self.bias = init((d_out,), "torch" if torch_init else "zeros", d_in)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.kernel[...] + self.bias[...]


class Attention3D(nnx.Module):
    """A3DB attention on (B, H, W, D, C): spatial Dense (H·W) and spectral/temporal Dense (D)."""

    def __init__(self, H: int, W: int, D: int, *, init: _Init, torch_init: bool):
        self.spatial = Dense(H * W, H * W, init=init, torch_init=torch_init)
        self.temporal = Dense(D, D, init=init, torch_init=torch_init)

    def __call__(self, x: jax.Array):
        """Returns x reweighted, spatial weights (B, H, W) and depth weights (B, D), all in (0, 1)."""
        B, H, W, D, _ = x.shape
        m = x.mean(-1)  # both attention vectors come from the same channel mean
        s = jax.nn.sigmoid(self.spatial(m.mean(-1).reshape(B, H * W))).reshape(B, H, W)
        t = jax.nn.sigmoid(self.temporal(m.mean((1, 2))))
        return x * s[:, :, :, None, None] * t[:, None, None, :, None], s, t


class ConvBlock(nnx.Module):
    """BN-ReLU-Conv 1x1x1 (4g) - BN-ReLU-Conv 3x3x1 (g) [- Conv 1x1x1 (g), torcheeg] - Conv 1x1x3 (g) - Dropout."""

    def __init__(self, c_in: int, growth: int, *, dropout: float, bn: Callable, init: _Init, torch_init: bool):
        inter, kw = 4 * growth, dict(init=init, torch_init=torch_init)
        self.bn1, self.conv1 = bn(c_in), Conv3d(c_in, inter, (1, 1, 1), **kw)
        self.bn2 = bn(inter)
        self.conv2 = Conv3d(inter, growth, (3, 3, 1), padding=((1, 1), (1, 1), (0, 0)), **kw)
        self.conv_mid = Conv3d(growth, growth, (1, 1, 1), **kw) if torch_init else None  # TorchEEG only
        self.conv3 = Conv3d(growth, growth, (1, 1, 3), padding=((0, 0), (0, 0), (1, 1)), **kw)
        self.drop = nnx.Dropout(dropout)

    def __call__(self, x, det: bool, rngs):
        h = self.conv1(jax.nn.relu(self.bn1(x, use_running_average=det)))
        h = self.conv2(jax.nn.relu(self.bn2(h, use_running_average=det)))
        if self.conv_mid is not None:
            h = self.conv_mid(h)
        return self.drop(self.conv3(h), deterministic=det, rngs=rngs)


class DenseBlock(nnx.Module):
    """``n_layers`` conv blocks, each output concatenated after its input (channels + n_layers·g)."""

    def __init__(self, n_layers: int, c_in: int, growth: int, **kw):
        self.layers = nnx.List([ConvBlock(c_in + i * growth, growth, **kw) for i in range(n_layers)])

    def __call__(self, x, det: bool, rngs):
        for layer in self.layers:
            x = jnp.concatenate([x, layer(x, det, rngs)], axis=-1)
        return x


def _pool2(h: jax.Array, op: str) -> jax.Array:
    """2x2x2 pooling, stride 2, 'valid' (odd sizes floored) of (B, H, W, D, C).

    Mean by reshaping. Max with :func:`jeeg.models.layers.max_pool`, whose gradient goes to the
    argmax kept from the forward pass: JAX's own gradient of the reshape-and-max form, which
    compares each element with its maximum, was wrong under ``jit`` (jax 0.10.2, CPU; the
    temporal stem's BatchNorm scale gradient off by a factor of 760 in float64 against the same
    code run eagerly; found by the U-Time parity test, whose pooling had the same form;
    ``tests/test_sst_emotionnet.py``).
    """
    B, H, W, D, C = h.shape
    h = h[:, : H // 2 * 2, : W // 2 * 2, : D // 2 * 2]
    if op == "max":
        return max_pool(h, (1, 2, 2, 2, 1))
    return h.reshape(B, H // 2, 2, W // 2, 2, D // 2, 2, C).mean((2, 4, 6))


class Transition(nnx.Module):
    """BN → ReLU → Conv 1x1x1 (c → ⌊c·compression⌋) → AvgPool 2x2x2 stride 2 'valid'."""

    def __init__(self, c_in: int, c_out: int, *, bn: Callable, init: _Init, torch_init: bool):
        self.bn, self.conv = bn(c_in), Conv3d(c_in, c_out, (1, 1, 1), init=init, torch_init=torch_init)

    def __call__(self, x, det: bool, rngs=None):  # rngs: unused, the signature of DenseBlock
        return _pool2(self.conv(jax.nn.relu(self.bn(x, use_running_average=det))), "mean")


class DenseNet3D(nnx.Module):
    """One stream: stem → dense blocks with transitions and attention → BN → ReLU → GAP.

    ``plan`` lists (stage, output shape (H, W, D, C)) in forward order, computed at construction.
    """

    def __init__(self, H: int, W: int, D: int, *, depth: int, growth: int, compression: float, subsample: bool,
                 n_blocks: int, torcheeg: bool, dropout: float, bn_momentum: float, name: str, init: _Init,
                 rngs: nnx.Rngs):
        n_layers = (depth - 4) // 3 // 2  # bottleneck halves the layers per block
        self.torcheeg = torcheeg
        bn = lambda c: nnx.BatchNorm(c, momentum=bn_momentum, epsilon=1.1e-5, rngs=rngs)
        ckw = dict(init=init, torch_init=torcheeg)
        c = 2 * growth
        plan = []
        if subsample:  # Conv 5x5x3 stride (2,2,1) → BN → ReLU → MaxPool 2x2x2 stride 2
            H, W = -(-H // 2), -(-W // 2)
            if torcheeg:  # MaxPool padding (0, 0, 1), floor
                self.pool_pads = ((0, 0), (0, 0), (1, 1))
                H, W, D = H // 2, W // 2, D // 2 + 1
            else:  # 'same'
                self.pool_pads = "same"
                H, W, D = -(-H // 2), -(-W // 2), -(-D // 2)
            stem_pad = ((2, 2), (2, 2), (1, 1)) if torcheeg else "same"
            self.stem = Conv3d(1, c, (5, 5, 3), stride=(2, 2, 1), padding=stem_pad, **ckw)
            self.stem_bn = bn(c)
        else:
            self.stem = Conv3d(1, c, (3, 3, 1), padding=((1, 1), (1, 1), (0, 0)), **ckw)
            self.stem_bn, self.pool_pads = None, None
        plan.append(("stem", (H, W, D, c)))
        stages, order = {"attention": [], "block": [], "transition": []}, []

        def add(kind, module):
            stages[kind].append(module)
            plan.append((f"{kind}{len(stages[kind])}", (H, W, D, c)))
            order.append((kind, len(stages[kind]) - 1))

        for b in range(n_blocks):
            if torcheeg:  # TorchEEG: attention before every dense block
                add("attention", Attention3D(H, W, D, **ckw))
            c += n_layers * growth
            add("block", DenseBlock(n_layers, c - n_layers * growth, growth, dropout=dropout, bn=bn, **ckw))
            if b < n_blocks - 1:
                c_in, c, H, W, D = c, int(c * compression), H // 2, W // 2, D // 2
                if min(H, W, D) < 1:
                    raise ConfigError(
                        f"SSTEmotionNet {name} stream: the cube shrinks to (H, W, D) = {(H, W, D)} at transition "
                        f"{b + 1}; use a larger grid, more bands/frames, or fewer dense blocks")
                add("transition", Transition(c_in, c, bn=bn, **ckw))
                if not torcheeg:  # Keras: attention after each transition
                    add("attention", Attention3D(H, W, D, **ckw))
        self.attentions, self.dense_blocks, self.transitions = (nnx.List(stages[k]) for k in stages)
        self.final_bn = bn(c)
        self.n_features = c
        self.plan = (*plan, ("pool", (c,)))
        self.order = tuple(order)  # (kind, index) of every stage between stem and pool, in forward order

    def __call__(self, x, det: bool, rngs, record: dict | None = None):
        """x: (B, H, W, D, 1) → features (B, C), spatial attention maps and depth attention vectors."""
        rec = (lambda k, h: record.__setitem__(k, tuple(h.shape[1:]))) if record is not None else (lambda k, h: None)
        h = self.stem(x)
        if self.stem_bn is not None:
            h = jax.nn.relu(self.stem_bn(h, use_running_average=det))
            pads = self.pool_pads
            if pads == "same":
                pads = tuple(_same_pads(n, 2, 2) for n in h.shape[1:4])
            h = _pool2(jnp.pad(h, ((0, 0), *pads, (0, 0)), constant_values=-jnp.inf), "max")
        rec("stem", h)
        spatial, depth = [], []
        modules = {"attention": self.attentions, "block": self.dense_blocks, "transition": self.transitions}
        for (kind, i), (stage, _) in zip(self.order, self.plan[1:-1]):
            if kind == "attention":
                h, s, t = modules[kind][i](h)
                spatial.append(s), depth.append(t)
            else:
                h = modules[kind][i](h, det, rngs)
            rec(stage, h)
        h = jax.nn.relu(self.final_bn(h, use_running_average=det)).mean((1, 2, 3))
        rec("pool", h)
        return h, tuple(spatial), tuple(depth)


class SSTEmotionNet(nnx.Module):
    """SST-EmotionNet (Jia et al. 2020, doi 10.1145/3394171.3413724; github.com/ziyujia/SST-EmotionNet).

    Parameters
    ----------
    n_chans, n_outputs, n_times : int
        EEG channels and samples (recorded only: shapes come from ``grid_shape``, ``n_bands`` and
        ``n_frames``), and number of classes.
    sfreq : float
        Sampling frequency in Hz (recorded only).
    rngs : nnx.Rngs
        ``params`` stream for initialisation.
    grid_shape : (int, int)
        Electrode-map size (H, W), each ≥ 16 (32 x 32 in the paper).
    n_bands, n_frames : int
        Depth of the spatial-spectral cube (5 DE bands) and of the spatial-temporal cube (25 frames).
    variant : {"official", "torcheeg"}
        The Keras model (default) or TorchEEG's port; see the module docstring.
    spectral_depth, temporal_depth : int
        DenseNet depths 3N + 4 (16, 22): N/2 conv blocks per dense block.
    spectral_growth, temporal_growth : int
        Growth rates g (12, 24); each stem has 2g filters.
    n_dense_blocks : int
        Dense blocks per stream (3).
    hid_channels : int
        Width of the linear fusion layer (50).
    densenet_dropout : float
        Dropout after every conv block (0).
    task_dropout : float or None
        Dropout after the fusion layer; None: 0.5 (official) or 0.0 (torcheeg).

    Raises
    ------
    ConfigError
        Unknown variant, grid smaller than 16 x 16, a depth not 3N + 4, a cube that pools away to
        nothing, or (at call) an input not shaped (batch, n_bands + n_frames, H, W).

    Notes
    -----
    ``model(x, train=..., rngs=..., return_attention=True)`` with x (batch, n_bands + n_frames, H, W)
    returns logits (batch, n_outputs) and a dict of the sigmoid attention weights, each a tuple with
    one array per attention module in forward order (per stream n_dense_blocks - 1 for "official",
    n_dense_blocks for "torcheeg"): ``"spatial_attention_spectral"`` /
    ``"spatial_attention_temporal"``: (batch, H_i, W_i) maps; ``"spectral_attention"`` /
    ``"temporal_attention"``: (batch, D_i). At 32 x 32,
    official: spectral maps 16x16 and 8x8 with 2 and 1 bands; temporal 4x4 and 2x2 with 6 and 3
    frames; "torcheeg" adds the first module's, at the stem's output. ``model.input_shape`` is
    (n_bands + n_frames, H, W); ``model.stage_shapes()`` gives every stage's output shape;
    ``model.l2_params()`` the kernels the Keras model regularises.
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        *,
        rngs: nnx.Rngs,
        grid_shape: tuple[int, int] = (32, 32),
        n_bands: int = 5,
        n_frames: int = 25,
        variant: str = "official",
        spectral_depth: int = 16,
        temporal_depth: int = 22,
        spectral_growth: int = 12,
        temporal_growth: int = 24,
        n_dense_blocks: int = 3,
        hid_channels: int = 50,
        densenet_dropout: float = 0.0,
        task_dropout: float | None = None,
    ):
        if variant not in VARIANTS:
            raise ConfigError(f"SSTEmotionNet: unknown variant {variant!r}; use one of {VARIANTS}")
        H, W = (int(v) for v in grid_shape)
        if H < 16 or W < 16:
            raise ConfigError(f"SSTEmotionNet: grid_shape={tuple(grid_shape)} must be at least 16 x 16 "
                              "(interpolate the electrode map to a larger grid)")
        if n_bands < 1 or n_frames < 1 or n_outputs < 1 or n_dense_blocks < 1:
            raise ConfigError(f"SSTEmotionNet: n_bands={n_bands}, n_frames={n_frames}, n_outputs={n_outputs} and "
                              f"n_dense_blocks={n_dense_blocks} must all be ≥ 1")
        for what, d in (("spectral_depth", spectral_depth), ("temporal_depth", temporal_depth)):
            if d < 10 or (d - 4) % 3:
                raise ConfigError(f"SSTEmotionNet: {what}={d} must be 3N + 4 with N ≥ 2 (e.g. 16, 22)")
        torcheeg = variant == "torcheeg"
        task_dropout = (0.0 if torcheeg else 0.5) if task_dropout is None else task_dropout
        for what, p in (("densenet_dropout", densenet_dropout), ("task_dropout", task_dropout)):
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"SSTEmotionNet: {what}={p} must be in [0, 1)")
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, float(sfreq)
        self.variant, self.grid_shape, self.n_bands, self.n_frames = variant, (H, W), n_bands, n_frames
        self.input_shape = (n_bands + n_frames, H, W)
        init = _Init()
        common = dict(n_blocks=n_dense_blocks, torcheeg=torcheeg, dropout=densenet_dropout,
                      bn_momentum=0.9 if torcheeg else 0.99, init=init, rngs=rngs)
        self.spectral = DenseNet3D(H, W, n_bands, depth=spectral_depth, growth=spectral_growth, compression=0.5,
                                   subsample=False, name="spectral", **common)
        self.temporal = DenseNet3D(H, W, n_frames, depth=temporal_depth, growth=temporal_growth, compression=1.0,
                                   subsample=True, name="temporal", **common)
        n_feat = self.spectral.n_features + self.temporal.n_features
        self.fc1 = Dense(n_feat, hid_channels, init=init, torch_init=torcheeg)  # linear: no activation
        self.drop = nnx.Dropout(task_dropout)
        self.fc2 = Dense(hid_channels, n_outputs, init=init, torch_init=torcheeg)
        init.fill(rngs.params())

    def _check_input(self, x) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise ConfigError(
                f"SSTEmotionNet: input shape {tuple(x.shape)}, expected (batch, {', '.join(map(str, self.input_shape))})"
                f" = (batch, n_bands + n_frames, H, W) with the {self.n_bands} spectral maps first")

    def features(self, x: jax.Array, *, train: bool = False, rngs: nnx.Rngs | None = None,
                 record: dict | None = None):
        """x (batch, n_bands + n_frames, H, W) → fused features (batch, C_spectral + C_temporal), attention dict.

        If ``record`` is a dict, each stage's output shape (without batch) is stored in it under
        ``"spectral/<stage>"`` and ``"temporal/<stage>"``.
        """
        self._check_input(x)
        det = not train
        cube = jnp.transpose(x, (0, 2, 3, 1))[..., None]  # (B, H, W, n_bands + n_frames, 1)
        recs = ({}, {}) if record is not None else (None, None)
        hs, ss, ts = self.spectral(cube[:, :, :, : self.n_bands], det, rngs, recs[0])
        ht, st, tt = self.temporal(cube[:, :, :, self.n_bands:], det, rngs, recs[1])
        if record is not None:
            record.update({f"spectral/{k}": v for k, v in recs[0].items()})
            record.update({f"temporal/{k}": v for k, v in recs[1].items()})
        att = {"spatial_attention_spectral": ss, "spectral_attention": ts,
               "spatial_attention_temporal": st, "temporal_attention": tt}
        return jnp.concatenate([hs, ht], axis=-1), att

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: nnx.Rngs | None = None,
                 return_attention: bool = False):
        """Forward pass. x: (batch, n_bands + n_frames, H, W) → logits (batch, n_outputs)."""
        h, att = self.features(x, train=train, rngs=rngs)
        logits = self.fc2(self.drop(self.fc1(h), deterministic=not train, rngs=rngs))
        return (logits, att) if return_attention else logits

    def stage_shapes(self) -> dict[str, tuple[int, ...]]:
        """Output shape (H, W, D, C), or (C,) after pooling, of every stage, traced without computing.

        Keys ``"spectral/stem"``, ``"spectral/block1"``, ``"spectral/transition1"``,
        ``"spectral/attention1"``, ..., ``"spectral/pool"``, and the same for ``"temporal/"``.
        """
        record: dict = {}
        graphdef, state = nnx.split(self)

        def run(state, x):
            return nnx.merge(graphdef, state).features(x, record=record)[0]

        jax.eval_shape(run, state, jax.ShapeDtypeStruct((1, *self.input_shape), jnp.float32))
        return record

    def l2_params(self) -> dict[str, nnx.Param]:
        """Kernels that carry the official model's L2 penalty (:data:`L2_WEIGHT` · Σ w²), by nnx path.

        Stem, bottleneck 1x1x1 (``conv1``) and transition kernels of both streams; empty for
        ``variant="torcheeg"`` (TorchEEG has no regularisers).
        """
        if self.variant == "torcheeg":
            return {}
        out = {}
        for sname in ("spectral", "temporal"):
            s = getattr(self, sname)
            out[f"{sname}.stem.kernel"] = s.stem.kernel
            for b, block in enumerate(s.dense_blocks):
                for j, layer in enumerate(block.layers):
                    out[f"{sname}.dense_blocks.{b}.layers.{j}.conv1.kernel"] = layer.conv1.kernel
            for b, tr in enumerate(s.transitions):
                out[f"{sname}.transitions.{b}.conv.kernel"] = tr.conv.kernel
        return out


# --------------------------------------------------------------------------------------------------
# TorchEEG weights

_TO_JEEG = {"conv": (2, 3, 4, 1, 0), "linear": (1, 0), "vec": None}  # torch (O, I, kH, kW, kD) → (kH, kW, kD, I, O)
_TO_TORCH = {"conv": (4, 3, 0, 1, 2), "linear": (1, 0), "vec": None}


def _torcheeg_keys(model: SSTEmotionNet) -> dict[str, tuple[nnx.Variable, str]]:
    """TorchEEG ``SSTEmotionNet.state_dict()`` key → (jeeg variable, layout kind)."""
    if model.variant != "torcheeg":
        raise ConfigError(f"TorchEEG weights fit SSTEmotionNet(variant='torcheeg') only, not {model.variant!r}")
    keys: dict[str, tuple[nnx.Variable, str]] = {}

    def bn(prefix, m):
        for tk, v in (("weight", m.scale), ("bias", m.bias), ("running_mean", m.mean), ("running_var", m.var)):
            keys[f"{prefix}.{tk}"] = (v, "vec")

    def dense(prefix, m):
        keys[f"{prefix}.weight"], keys[f"{prefix}.bias"] = (m.kernel, "linear"), (m.bias, "vec")

    for tname, s in (("spatial_spectral", model.spectral), ("spatial_temporal", model.temporal)):
        keys[f"{tname}.conv_layer.conv1.weight"] = (s.stem.kernel, "conv")
        if s.stem_bn is not None:
            bn(f"{tname}.conv_layer.batch1", s.stem_bn)
        n = len(s.dense_blocks)
        for b in range(n):  # DenseNet3D.layers: [Attention, DenseBlock, Transition] x (n - 1), Attention, DenseBlock
            dense(f"{tname}.layers.{3 * b}.spatail_dense", s.attentions[b].spatial)  # sic, TorchEEG's spelling
            dense(f"{tname}.layers.{3 * b}.temporal_dense", s.attentions[b].temporal)
            for j, cb in enumerate(s.dense_blocks[b].layers):  # ConvBlock.layers: BN ReLU Conv BN ReLU Conv Conv Conv
                p = f"{tname}.layers.{3 * b + 1}.layers.{j}.layers"
                bn(f"{p}.0", cb.bn1)
                keys[f"{p}.2.weight"] = (cb.conv1.kernel, "conv")
                bn(f"{p}.3", cb.bn2)
                keys[f"{p}.5.weight"] = (cb.conv2.kernel, "conv")
                keys[f"{p}.6.weight"] = (cb.conv_mid.kernel, "conv")
                keys[f"{p}.7.weight"] = (cb.conv3.kernel, "conv")
            if b < n - 1:  # Transition.layers: BN ReLU Conv AvgPool
                bn(f"{tname}.layers.{3 * b + 2}.layers.0", s.transitions[b].bn)
                keys[f"{tname}.layers.{3 * b + 2}.layers.2.weight"] = (s.transitions[b].conv.kernel, "conv")
        bn(f"{tname}.final_layers.0", s.final_bn)
    dense("layers.0", model.fc1)  # layers: Linear, Dropout, Linear
    dense("layers.2", model.fc2)
    return keys


def _torch_shape(var: nnx.Variable, kind: str) -> tuple[int, ...]:
    shape = tuple(var.shape)
    return shape if _TO_TORCH[kind] is None else tuple(shape[i] for i in _TO_TORCH[kind])


def load_torcheeg_state_dict(model: SSTEmotionNet, state_dict: dict[str, np.ndarray]) -> None:
    """Copy a TorchEEG ``SSTEmotionNet(...).state_dict()`` into ``model`` (variant="torcheeg"), in place.

    Parameters
    ----------
    model : SSTEmotionNet
        Built with the same hyper-parameters as the TorchEEG model (TorchEEG's ``grid_size``,
        ``spectral_in_channels``, ``temporal_in_channels``, ... are ``grid_shape``, ``n_bands``,
        ``n_frames``, ...).
    state_dict : dict of str to array
        PyTorch layouts: Conv3d weights (out, in, kH, kW, kD), Linear weights (out, in), BatchNorm
        weight, bias, running_mean, running_var (``num_batches_tracked`` is accepted and ignored).
        Torch tensors work too (converted with ``np.asarray``; move them to the CPU first).

    Raises
    ------
    ConfigError
        If the model is not the torcheeg variant, or any key has no place in the model, any
        shape differs, or any jeeg parameter / batch statistic is left without a key. Nothing is
        written unless every check passes.
    """
    keys = _torcheeg_keys(model)
    unknown, bad, values = [], [], {}
    for k, v in state_dict.items():
        if k.endswith(".num_batches_tracked") and f"{k.rsplit('.', 1)[0]}.running_mean" in keys:
            continue
        if k not in keys:
            unknown.append(k)
            continue
        var, kind = keys[k]
        a = np.asarray(v)
        if a.shape != _torch_shape(var, kind):
            bad.append(f"{k}: expected {_torch_shape(var, kind)}, got {a.shape}")
            continue
        values[k] = a if _TO_JEEG[kind] is None else np.transpose(a, _TO_JEEG[kind])
    missing = [k for k in keys if k not in state_dict]
    problems = ([f"keys with no place in the jeeg model: {unknown}"] if unknown else []) + (
        [f"shape mismatches: {bad}"] if bad else []) + ([f"jeeg parameters left unfilled (missing keys): {missing}"]
                                                       if missing else [])
    if problems:
        raise ConfigError("load_torcheeg_state_dict: " + "; ".join(problems)
                          + " (build the jeeg model with the TorchEEG model's hyper-parameters)")
    for k, a in values.items():
        var = keys[k][0]
        var.set_value(jnp.asarray(a, dtype=var.get_value().dtype))


def torcheeg_state_dict(model: SSTEmotionNet) -> dict[str, np.ndarray]:
    """The inverse of :func:`load_torcheeg_state_dict`: ``model``'s weights under TorchEEG keys and layouts.

    ``num_batches_tracked`` entries are 0 (int64), for ``torch_model.load_state_dict``.
    """
    out = {}
    for k, (var, kind) in _torcheeg_keys(model).items():
        a = np.asarray(var.get_value())
        out[k] = a if _TO_TORCH[kind] is None else np.ascontiguousarray(np.transpose(a, _TO_TORCH[kind]))
        if k.endswith(".running_var"):
            out[k[: -len("running_var")] + "num_batches_tracked"] = np.array(0, np.int64)
    return out
