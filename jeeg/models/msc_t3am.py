"""MSC-T3AM: channel-weight spatial attention, FT_A filter/temporal gates, MSC-transformer.

Source: Yan, Wang, Li, Neural Networks 2025, doi 10.1016/j.neunet.2025.107806; reference code
github.com/BICN001/MSC-T3AM @ 71cc802 (``Model/MSC_T3AM.py``, ``Model/Attention.py``). At the paper's shapes (62 channels x 1500
samples at 250 Hz, 6 classes; E = 10, h = 10, depth 3):

=====  ==========================================================================  ============
 row    op                                                                          output
=====  ==========================================================================  ============
 1      channel weight W (E x n_chans, Xavier-uniform): y[b,e,c,t] = x[b,c,t]·W[e,c]  (B,10,62,1500)
 2      depthwise Conv (n_chans, 1), E → E, groups E, bias                          (B,10,1,1500)
 3      BN → ELU → AvgPool (1, 10) → Dropout 0.5                                    (B,10,1,150)
 4      FT_A: X · (1 + σ(F + T)), filter gate F (B,E,1,1), temporal gate T          (B,10,1,150)
 5      tokens                                                                      (B,150,10)
 6      3 x MSC-transformer block (pre-norm; MHA with MSC on Q, K, V; FFN 10→40→10)  (B,150,10)
 7-8    flatten → Linear 1500→256, ELU, Drop 0.5 → 256→32, ELU, Drop 0.3 → 32→n     (B,6)
=====  ==========================================================================  ============

MSC (multi-scale convolution, one module per block, the SAME weights applied to Q, K and V):
heads are channels and tokens the convolved axis; branch k ∈ {25, 75}: depthwise Conv (k, 1)
'same' + bias → BN → ReLU → Dropout 0.3 → pointwise 1x1 → BN → ReLU → AvgPool (2, 1) → Dropout
0.3; the two branches are concatenated along the token axis, tokens 0..N/2-1 from the 25-tap
branch and N/2..N-1 from the 75-tap one (not time order). Scores are scaled by 1/sqrt(E), not
1/sqrt(d_head). No positional encoding.

Initialisation and normalisation as PyTorch's defaults (the reference's): uniform(±1/sqrt(fan_in))
for convolution and linear weights and biases, BatchNorm momentum 0.1 (Flax 0.9), eps 1e-5,
LayerNorm eps 1e-5; the channel weight Xavier-uniform. Dropout rates as the table.

Departures, all [inferred]: the pointwise convolution of MSC has ``n_heads`` output channels
(the reference writes E, equal to h = 10 there; the heads must survive it). The pooling factor of
row 3 is ``pool`` (10): at EEGMMIDB's 160 Hz, 640 samples give 64 tokens; see the experiment for
how the token count is matched. The number of tokens must be even (AvgPool (2, 1) then
concatenation of two halves).

Ablation flags (the paper's ablation study): ``spatial_attention=False`` fixes the channel
weight to ones (every filter sees the raw channels); ``filter_attention=False`` /
``temporal_attention=False`` drop F / T from the gate (both off: FT_A is the identity);
``msc=False`` feeds Q, K and V straight to attention (plain multi-head attention).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models.layers import glorot


def _torch_uniform(key, shape, fan_in: int) -> jax.Array:
    """PyTorch's default weight/bias init for Conv and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)


class TorchLinear(nnx.Module):
    """``nnx.Linear`` with PyTorch's default initialisation (weight and bias U(±1/sqrt(d_in)))."""

    def __init__(self, d_in: int, d_out: int, *, rngs: nnx.Rngs, use_bias: bool = True):
        self.kernel = nnx.Param(_torch_uniform(rngs.params(), (d_in, d_out), d_in))
        self.bias = nnx.Param(_torch_uniform(rngs.params(), (d_out,), d_in)) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x @ self.kernel[...]
        return y + self.bias[...] if self.bias is not None else y


class TokenConv(nnx.Module):
    """Depthwise 'same' convolution along the token axis, with bias (PyTorch init), as one matmul.

    Input (..., n, F) → (..., n, F), one K-tap kernel per channel F, as
    ``Conv2d(F, F, (K, 1), groups=F, padding='same')``. Written as a product with the banded
    (Toeplitz) matrix of each kernel: the 75-tap shifted-sum form took XLA:CPU minutes to compile
    inside MSC-T3AM's train step, and grouped convolutions mis-partition under vmap + sharding
    (see :class:`jeeg.models.layers.DepthwiseTemporalConv`). PyTorch's fan-in of a depthwise
    kernel is K.
    """

    def __init__(self, n_features: int, kernel_size: int, *, rngs: nnx.Rngs):
        self.kernel = nnx.Param(_torch_uniform(rngs.params(), (kernel_size, n_features), kernel_size))
        self.bias = nnx.Param(_torch_uniform(rngs.params(), (n_features,), kernel_size))

    def __call__(self, h: jax.Array) -> jax.Array:
        k = self.kernel[...]
        K, n = k.shape[0], h.shape[-2]
        tap = np.arange(n)[None, :] - np.arange(n)[:, None] + (K - 1) // 2  # [output n, input m]
        band = jnp.where(((tap >= 0) & (tap < K))[..., None], k[np.clip(tap, 0, K - 1)], 0.0)  # (n, m, F)
        return jnp.einsum("...mf,nmf->...nf", h, band) + self.bias[...]


def _bn(n: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(n, momentum=0.9, epsilon=1e-5, rngs=rngs)


class MSCBranch(nnx.Module):
    """One MSC branch: depthwise (k,1) → BN → ReLU → Drop → 1x1 → BN → ReLU → AvgPool(2,1) → Drop."""

    def __init__(self, n_heads: int, kernel_size: int, drop: float, *, rngs: nnx.Rngs):
        self.dw = TokenConv(n_heads, kernel_size, rngs=rngs)
        self.bn1 = _bn(n_heads, rngs)
        self.pw = TorchLinear(n_heads, n_heads, rngs=rngs)
        self.bn2 = _bn(n_heads, rngs)
        self.drop = nnx.Dropout(drop)

    def __call__(self, z: jax.Array, det: bool, rngs) -> jax.Array:
        """z: (B, d_head, N, h) → (B, d_head, N/2, h)."""
        h = jax.nn.relu(self.bn1(self.dw(z), use_running_average=det))
        h = self.drop(h, deterministic=det, rngs=rngs)
        h = jax.nn.relu(self.bn2(self.pw(h), use_running_average=det))
        B, d, N, H = h.shape
        h = h.reshape(B, d, N // 2, 2, H).mean(3)
        return self.drop(h, deterministic=det, rngs=rngs)


class MSC(nnx.Module):
    """Multi-scale convolution over tokens, 25- and 75-tap branches concatenated along tokens."""

    def __init__(self, n_heads: int, kernels=(25, 75), drop: float = 0.3, *, rngs: nnx.Rngs):
        self.branches = nnx.List([MSCBranch(n_heads, k, drop, rngs=rngs) for k in kernels])

    def __call__(self, z: jax.Array, det: bool, rngs) -> jax.Array:
        """z: (B, h, N, d_head) → (B, h, N, d_head); first half of the tokens from the 25-tap branch."""
        zz = jnp.transpose(z, (0, 3, 2, 1))  # (B, d, N, h): heads are the channels
        out = jnp.concatenate([b(zz, det, rngs) for b in self.branches], axis=2)
        return jnp.transpose(out, (0, 3, 2, 1))


class MSCAttention(nnx.Module):
    """Multi-head self-attention whose Q, K and V pass through one shared MSC module."""

    def __init__(self, emb: int, n_heads: int, *, msc: bool, drop_att: float, rngs: nnx.Rngs):
        self.emb, self.n_heads = emb, n_heads
        self.q, self.k, self.v = (TorchLinear(emb, emb, rngs=rngs) for _ in range(3))
        self.msc = MSC(n_heads, rngs=rngs) if msc else None
        self.proj = TorchLinear(emb, emb, rngs=rngs)
        self.drop = nnx.Dropout(drop_att)

    def __call__(self, x: jax.Array, det: bool, rngs):
        """x: (B, N, E) → output (B, N, E) and attention (B, h, N, N)."""
        B, N, E = x.shape
        split = lambda t: t.reshape(B, N, self.n_heads, E // self.n_heads).transpose(0, 2, 1, 3)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if self.msc is not None:
            q, k, v = (self.msc(t, det, rngs) for t in (q, k, v))
        att = jax.nn.softmax(jnp.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(self.emb), axis=-1)
        out = jnp.einsum("bhqk,bhkd->bhqd", self.drop(att, deterministic=det, rngs=rngs), v)
        return self.proj(out.transpose(0, 2, 1, 3).reshape(B, N, E)), att


class MSCTransformerBlock(nnx.Module):
    """Pre-norm block: x + Drop(MHA(LN x)); x + Drop(FFN(LN x)); FFN E → 4E (GELU) → E."""

    def __init__(self, emb: int, n_heads: int, *, msc: bool, rngs: nnx.Rngs, drop: float = 0.5):
        self.ln1 = nnx.LayerNorm(emb, epsilon=1e-5, rngs=rngs)
        self.att = MSCAttention(emb, n_heads, msc=msc, drop_att=drop, rngs=rngs)
        self.ln2 = nnx.LayerNorm(emb, epsilon=1e-5, rngs=rngs)
        self.ff1 = TorchLinear(emb, 4 * emb, rngs=rngs)
        self.ff2 = TorchLinear(4 * emb, emb, rngs=rngs)
        self.drop = nnx.Dropout(drop)

    def __call__(self, x: jax.Array, det: bool, rngs):
        a, att = self.att(self.ln1(x), det, rngs)
        x = x + self.drop(a, deterministic=det, rngs=rngs)
        f = self.ff2(self.drop(jax.nn.gelu(self.ff1(self.ln2(x)), approximate=False), deterministic=det, rngs=rngs))
        return x + self.drop(f, deterministic=det, rngs=rngs), att


class MSCT3AM(nnx.Module):
    """MSC-T3AM (Yan, Wang & Li 2025, doi 10.1016/j.neunet.2025.107806; github.com/BICN001/MSC-T3AM).

    Parameters
    ----------
    n_chans, n_outputs, n_times : int
        Input (n_chans, n_times) and number of classes.
    sfreq : float
        Sampling frequency in Hz (recorded; kernel sizes are the reference's in samples/tokens).
    rngs : nnx.Rngs
    emb, n_heads, depth : int
        Embedding size E (10), heads h (10, must divide E), MSC-transformer blocks (3).
    pool : int
        Average pooling of row 3 (10); n_times // pool tokens, which must be even when ``msc``.
    spatial_attention, filter_attention, temporal_attention, msc : bool
        Ablation switches (see the module docstring); all True is the full model.

    Raises
    ------
    ConfigError
        If ``emb`` is not a multiple of ``n_heads``, or the token count is < 2 or odd with MSC.

    Notes
    -----
    ``model(x, train=..., rngs=..., return_attention=True)`` with x (batch, n_chans, n_times)
    returns logits (batch, n_outputs) and ``{"channel_weights": (batch, E, n_chans),
    "filter_gate": (batch, E), "temporal_gate": (batch, n_tokens), "self_attention": (batch,
    depth, n_tokens, n_tokens)}`` (the gates before the sigmoid; self-attention averaged over heads).
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        *,
        rngs: nnx.Rngs,
        emb: int = 10,
        n_heads: int = 10,
        depth: int = 3,
        pool: int = 10,
        spatial_attention: bool = True,
        filter_attention: bool = True,
        temporal_attention: bool = True,
        msc: bool = True,
    ):
        if emb % n_heads:
            raise ConfigError(f"MSCT3AM: emb={emb} must be a multiple of n_heads={n_heads}")
        n_tokens = n_times // pool
        if n_tokens < 2 or (msc and n_tokens % 2):
            raise ConfigError(
                f"MSCT3AM: n_times={n_times} // pool={pool} gives {n_tokens} tokens; MSC needs an even number ≥ 2 "
                "(change pool, resample, or crop the epochs)"
            )
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, float(sfreq)
        self.emb, self.n_tokens, self.pool = emb, n_tokens, pool
        self.spatial_attention, self.filter_attention, self.temporal_attention = (
            spatial_attention, filter_attention, temporal_attention)
        # Row 1: Xavier-uniform on the reference's (E, 1, n_chans) tensor (fan-in n_chans, fan-out E·n_chans).
        self.channel_weight = nnx.Param(glorot(rngs.params(), (n_chans, 1, emb)).reshape(n_chans, emb))
        # Row 2: depthwise Conv2d(E, E, (n_chans, 1), groups=E) — fan-in n_chans.
        self.spatial_kernel = nnx.Param(_torch_uniform(rngs.params(), (n_chans, emb), n_chans))
        self.spatial_bias = nnx.Param(_torch_uniform(rngs.params(), (emb,), n_chans))
        self.bn = _bn(emb, rngs)
        self.drop_front = nnx.Dropout(0.5)
        # Row 4, FT_A.
        self.f1, self.f_bn, self.f2 = TorchLinear(emb, 1, rngs=rngs), _bn(1, rngs), TorchLinear(1, emb, rngs=rngs)
        self.t1, self.t_bn1 = TorchLinear(emb, 1, rngs=rngs), _bn(1, rngs)
        self.t2, self.t_bn2 = TokenConv(1, 25, rngs=rngs), _bn(1, rngs)
        self.t3 = TorchLinear(1, 1, rngs=rngs)
        self.blocks = nnx.List([MSCTransformerBlock(emb, n_heads, msc=msc, rngs=rngs) for _ in range(depth)])
        self.h1 = TorchLinear(n_tokens * emb, 256, rngs=rngs)
        self.h2 = TorchLinear(256, 32, rngs=rngs)
        self.h3 = TorchLinear(32, n_outputs, rngs=rngs)
        self.drop_h1, self.drop_h2 = nnx.Dropout(0.5), nnx.Dropout(0.3)

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: nnx.Rngs | None = None,
                 return_attention: bool = False):
        """Forward pass. x: (batch, n_chans, n_times) → logits (batch, n_outputs)."""
        det = not train
        B = x.shape[0]
        W = self.channel_weight[...] if self.spatial_attention else jnp.ones_like(self.channel_weight[...])
        # Rows 1-2 fused into one einsum: Σ_c K[c,e]·W[c,e]·x[b,c,t] (+ bias): (B, T, E).
        h = jnp.einsum("bct,ce->bte", x, W * self.spatial_kernel[...]) + self.spatial_bias[...]
        h = jax.nn.elu(self.bn(h, use_running_average=det))
        T = self.n_tokens * self.pool
        h = h[:, :T].reshape(B, self.n_tokens, self.pool, self.emb).mean(2)  # AvgPool (1, pool), floor
        h = self.drop_front(h, deterministic=det, rngs=rngs)  # row 3: (B, N, E)
        # Row 4: FT_A.
        fg = self.f2(jax.nn.relu(self.f_bn(self.f1(h.mean(1)), use_running_average=det)))  # (B, E)
        tg = jax.nn.relu(self.t_bn1(self.t1(h), use_running_average=det))  # (B, N, 1)
        tg = self.t3(jax.nn.relu(self.t_bn2(self.t2(tg), use_running_average=det)))[..., 0]  # (B, N)
        gate = (fg[:, None, :] if self.filter_attention else 0.0) + (tg[:, :, None] if self.temporal_attention else 0.0)
        if self.filter_attention or self.temporal_attention:
            h = h * (1.0 + jax.nn.sigmoid(gate))
        atts = []
        for block in self.blocks:  # row 6
            h, att = block(h, det, rngs)
            atts.append(att.mean(1))
        z = h.reshape(B, -1)  # row 7
        z = self.drop_h1(jax.nn.elu(self.h1(z)), deterministic=det, rngs=rngs)
        z = self.drop_h2(jax.nn.elu(self.h2(z)), deterministic=det, rngs=rngs)
        logits = self.h3(z)
        if not return_attention:
            return logits
        return logits, {
            "channel_weights": jnp.broadcast_to(W.T, (B,) + W.T.shape),
            "filter_gate": fg,
            "temporal_gate": tg,
            "self_attention": jnp.stack(atts, 1),
        }
