"""Small building blocks shared by jeeg's models: a max-norm constrained spatial convolution, an LSTM
written as one ``lax.scan``, and the projection that enforces weight constraints after an update.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from jeeg.errors import ConfigError

glorot = nnx.initializers.xavier_uniform()


class DepthwiseSpatialConv(nnx.Module):
    """EEGNet's depthwise spatial convolution with a max-norm constraint, as one einsum.

    Equivalent to ``Conv2d(F, F·D, kernel=(n_chans, 1), groups=F, bias=False)`` applied to
    (batch, F, n_chans, n_times) maps: output map ``f·D + d`` is ``Σ_c w[c, f, d] · h[c, f]``.
    Written as an einsum because XLA:CPU computes the kernel gradient of grouped convolutions
    ~150x slower (5.8 s vs 37 ms per STFF-DA step at 64 x 640, measured 2026-11-22, 2-core CPU).

    The L2 norm of each spatial filter ``w[:, f, d]`` is kept ≤ ``max_norm`` by :meth:`project`,
    as ``torch.renorm(w, 2, 0, max_norm)`` in braindecode's ``Conv2dWithConstraint`` (EEGNet:
    Lawhern et al. 2018, arXiv 1611.08024, §2.2). :func:`apply_constraints` calls it after
    initialisation and after every optimiser update.

    Parameters
    ----------
    n_chans, n_filters, depth : int
        EEG channels (summed over), input feature maps F, depth multiplier D.
    max_norm : float or None
        Max L2 norm per spatial filter; None disables the constraint.
    """

    def __init__(self, n_chans: int, n_filters: int, depth: int, *, max_norm: float | None = 1.0, rngs: nnx.Rngs):
        # Initialised as Flax initialises the equivalent grouped conv kernel (n_chans, 1, 1, F·D).
        w = glorot(rngs.params(), (n_chans, 1, 1, n_filters * depth))
        self.kernel = nnx.Param(w.reshape(n_chans, n_filters, depth))
        self.max_norm = max_norm

    def __call__(self, h: jax.Array) -> jax.Array:
        """h: (batch, n_chans, n_times, F) → (batch, n_times, F·D)."""
        out = jnp.einsum("bctf,cfd->btfd", h, self.kernel[...])
        return out.reshape(out.shape[:2] + (-1,))

    def project(self) -> None:
        if self.max_norm is None:
            return
        k = self.kernel[...]
        norms = jnp.sqrt(jnp.sum(k**2, axis=0, keepdims=True))
        self.kernel[...] = k * jnp.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), 1.0)


def shifted_sum(h: jax.Array, kernel: jax.Array, padding: tuple[int, int]) -> jax.Array:
    """A 'valid' correlation along time as K shifted multiply-adds: ``Σ_i hp[..., t + i, :] · k[i]``.

    ``h`` (..., n_times, C) is zero-padded along time by ``padding`` = (before, after); ``kernel``
    (K, F) with C = F (one kernel per feature map, depthwise) or C = 1 (F filters of one input).
    Returns (..., n_times + before + after - K + 1, F). No convolution op, so vmapping it over
    members stays element-wise (a per-member convolution becomes a slow grouped one).
    """
    K = kernel.shape[0]
    hp = jnp.pad(h, [(0, 0)] * (h.ndim - 2) + [tuple(padding), (0, 0)])
    T = hp.shape[-2] - K + 1
    return sum(hp[..., i : i + T, :] * kernel[i] for i in range(K))


#: Channels-last dimension numbers of an N-D convolution (N = 1, 2, 3): the layout XLA:CPU's fast
#: convolution kernels take.
_CHANNELS_LAST = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NHWDC", "HWDIO", "NHWDC")}


def _conv_cl(x, w, strides, padding, dilation):
    return jax.lax.conv_general_dilated(x, w, tuple(strides), [tuple(p) for p in padding], rhs_dilation=tuple(dilation),
                                        dimension_numbers=_CHANNELS_LAST[w.ndim - 2])


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv(x: jax.Array, w: jax.Array, strides: tuple, padding: tuple, dilation: tuple) -> jax.Array:
    """An N-D channels-last correlation (N = 1, 2, 3) whose gradients are channels-last
    convolutions too.

    ``y[n, t, f] = Σ_{k, c} xp[n, strides·t + dilation·k, c] · w[k, c, f]`` per spatial axis,
    ``xp`` being ``x`` zero-padded by ``padding``: ``lax.conv_general_dilated`` exactly, in
    NWC/WIO, NHWC/HWIO or NHWDC/HWDIO layout. The input gradient correlates the output gradient,
    dilated by the strides and padded, with the flipped kernel (in/out axes swapped); the kernel
    gradient correlates the padded input, batch and channel axes swapped, with the output
    gradient as kernel (dilated by the strides, strided by the kernel dilation). XLA:CPU rewrites
    a convolution into the layout its fast kernels need only outside loops, so JAX's own gradient
    convolutions ran slowly inside the compiled training loop (a ``lax.while_loop``): 65x for
    a 16 x 640 x 64 → 32 1-D convolution with 25 taps (``benchmarks/conv_in_loop.py``),
    3.5x for a U-Time step, 8.7x for an SST-EmotionNet step (jax 0.10.2, 2-core CPU, 2026-11-29).

    Parameters
    ----------
    x : Array, shape (batch, *spatial, C)
    w : Array, shape (*kernel, C, F)
    strides, dilation : tuple of int, one per spatial axis
    padding : tuple of (int, int), one per spatial axis (zeros before, after)

    Returns
    -------
    Array, shape (batch, *out, F), ``out = (spatial + before + after − dilation·(kernel − 1) − 1)
    // strides + 1``
    """
    return _conv_cl(x, w, strides, padding, dilation)


def _conv_fwd(x, w, strides, padding, dilation):
    return _conv_cl(x, w, strides, padding, dilation), (x, w)


def _conv_bwd(strides, padding, dilation, res, g):
    x, w = res
    n = w.ndim - 2
    K, T, To = w.shape[:n], x.shape[1 : 1 + n], g.shape[1 : 1 + n]
    zero = jnp.zeros((), g.dtype)
    # dx[t] = Σ_k gd[t + lo − d·k] · w[k], gd: g with s − 1 zeros between samples; correlate gd,
    # padded so that the result has T samples (lax.pad crops where a padding is negative), with
    # the flipped kernel, in/out axes swapped.
    cfg = [(d * (k - 1) - lo, t + lo - (to - 1) * s - 1, s - 1)
           for k, t, to, s, d, (lo, _) in zip(K, T, To, strides, dilation, padding)]
    gp = jax.lax.pad(g, zero, [(0, 0, 0), *cfg, (0, 0, 0)])
    w_flip = jnp.swapaxes(w[(slice(None, None, -1),) * n], -1, -2)
    dx = _conv_cl(gp, w_flip, (1,) * n, ((0, 0),) * n, dilation)
    # dw[k, c, f] = Σ_{b, t} xp[b, s·t + d·k, c] · g[b, t, f]: channels as batch, trials as features.
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *((lo, hi, 0) for lo, hi in padding), (0, 0, 0)])
    lhs = jnp.swapaxes(xp, 0, n + 1)  # (C, *Tp, batch)
    ker = jnp.moveaxis(g, 0, n)  # (*To, batch, F)
    dw = _conv_cl(lhs, ker, dilation, ((0, 0),) * n, strides)  # (C, *≥K, F)
    dw = jnp.moveaxis(dw, 0, n)[tuple(slice(0, k) for k in K)]
    return dx, dw


conv.defvjp(_conv_fwd, _conv_bwd)


def conv1d(x: jax.Array, w: jax.Array, padding: tuple[int, int], dilation: int = 1) -> jax.Array:
    """:func:`conv` along time: x (batch, n_times, C), w (K, C, F), stride 1; returns
    (batch, n_times + before + after − dilation·(K − 1), F)."""
    return conv(x, w, (1,), (tuple(padding),), (dilation,))


TEMPORAL_CONV_IMPLS = ("auto", "conv", "shifted")


class TemporalFilterBank(nnx.Conv):
    """EEGNet's / STFF-DA's first row: F temporal filters of K taps applied to every channel.

    An ``nnx.Conv(1, F, (K,), use_bias=False)`` over (batch·n_chans, n_times, 1) (the parameter is
    its ``kernel``, shape (K, 1, F), so checkpoints do not depend on the implementation), computed
    either as that convolution or as K shifted multiply-adds of the same kernel:

    * ``"conv"`` — one convolution (:func:`conv1d`, whose gradients are convolutions in the layout
      XLA:CPU computes fast, also inside the compiled training loop).
    * ``"shifted"`` — ``Σ_i x[t + i - pad] · w[i]``. Under ``vmap`` over members a convolution whose
      kernel differs per member becomes a grouped convolution (one group per member), which
      XLA:GPU runs slowly. Measured on an NVIDIA H200 (jax 0.11.2, 2026-11-27, train step at
      batch 16 per member, 64 x 640 samples): STFF-DA with K = 1 / 8 / 32 members took
      3.2 / 31.5 / 107 ms per step as a convolution and 3.2 / 9.3 / 26 ms shifted; EEGNet
      1.3 / 27.8 / 67.9 ms against 2.0 / 9.4 / 29.0 ms.
    * ``"auto"`` (default) — ``"conv"``. The model does not look at the backend: the training
      engine chooses the formulation for its member axis (:func:`jeeg.engine.member_formulation`:
      ``"shifted"`` when members are vmapped, ``"conv"`` when they run one after another).

    The two give the same maths with a different rounding (agree to ~1e-6 relative, tested), so a
    run is bitwise reproducible on one backend, not across them.

    Parameters
    ----------
    n_filters : int
        Temporal filters F.
    kernel_size : int
        Taps K.
    padding : "SAME" or [(int, int)]
        Zeros before and after the signal, as for ``nnx.Conv`` (``"SAME"``: ``(K - 1) // 2`` before).
    impl : {"auto", "conv", "shifted"}
        See above.

    Raises
    ------
    ConfigError
        An unknown ``impl``.
    """

    def __init__(self, n_filters: int, kernel_size: int, *, padding, kernel_init, rngs: nnx.Rngs, impl: str = "auto"):
        if impl not in TEMPORAL_CONV_IMPLS:
            raise ConfigError(f"temporal_conv={impl!r} is not one of {', '.join(TEMPORAL_CONV_IMPLS)}")
        super().__init__(1, n_filters, (kernel_size,), padding=padding, use_bias=False, kernel_init=kernel_init,
                         rngs=rngs)
        left = (kernel_size - 1) // 2
        self.pads = (left, kernel_size - 1 - left) if padding == "SAME" else tuple(padding[0])
        self.impl = impl

    def resolved_impl(self) -> str:
        """``"conv"`` or ``"shifted"``: what ``impl`` means (``"auto"``: ``"conv"``)."""
        return "conv" if self.impl == "auto" else self.impl

    def __call__(self, x: jax.Array) -> jax.Array:
        """x: (N, n_times, 1) → (N, n_times + pad_before + pad_after - K + 1, F)."""
        if self.resolved_impl() == "conv":
            return conv1d(x, self.kernel[...], self.pads)
        return shifted_sum(x, self.kernel[...][:, 0], self.pads)  # (N, T, 1) broadcast against (K, F)


class DepthwiseTemporalConv(nnx.Module):
    """Depthwise 'same' convolution along time, one kernel per feature map, as shifted sums.

    Equivalent to ``Conv2d(F, F, kernel=(1, K), groups=F, padding='same', bias=False)`` on
    (batch, 1, n_times, F) maps (EEGNet's separable-conv depthwise half; Flax's 'SAME' puts
    ``(K - 1) // 2`` zeros before the signal). Written as K shifted multiply-adds because
    (a) a grouped convolution vmapped over members and sharded over devices gave wrong results on
    XLA:CPU with 8 devices (jax 0.10.2, 2026-11-22; tests/test_sharding.py), and (b) it is ~7x
    faster to differentiate on CPU (0.3 ms vs 2.2 ms at 16 x 160 x 32).

    Parameters
    ----------
    n_features : int
        Feature maps F (one K-tap kernel each).
    kernel_size : int
        Taps K.
    padding : (int, int), optional
        Zeros before and after the signal; default 'same' (``(K - 1) // 2`` before). PyTorch's
        symmetric ``padding=K // 2`` (braindecode's EEGNet) is ``(K // 2, K // 2)``, which for
        even K lengthens the output by one sample.
    """

    def __init__(self, n_features: int, kernel_size: int, *, rngs: nnx.Rngs, padding: tuple[int, int] | None = None):
        # Initialised as Flax initialises the equivalent grouped conv kernel (1, K, 1, F).
        self.kernel = nnx.Param(glorot(rngs.params(), (1, kernel_size, 1, n_features)).reshape(kernel_size, n_features))
        left = (kernel_size - 1) // 2
        self.padding = (left, kernel_size - 1 - left) if padding is None else tuple(padding)

    def __call__(self, h: jax.Array) -> jax.Array:
        """h: (..., n_times, F) → (..., n_times + pad_before + pad_after - K + 1, F)."""
        return shifted_sum(h, self.kernel[...], self.padding)


def apply_constraints(model: nnx.Module) -> None:
    """Project every constrained sub-module of ``model`` in place (modules with ``project()``)."""
    for _, module in nnx.iter_modules(model):
        if module is not model and callable(getattr(module, "project", None)):
            module.project()


class LSTM(nnx.Module):
    """Single-layer LSTM over a (batch, n_steps, d_in) sequence, returning every hidden state.

    Gates in PyTorch order (input, forget, cell, output). The input projection of all steps is
    one matmul; only the recurrent matmul runs inside ``jax.lax.scan``. Init [inferred]:
    Glorot-uniform input kernel, orthogonal recurrent kernel, zero bias with forget-gate bias 1
    (Jozefowicz et al. 2015), the Keras defaults.

    Parameters
    ----------
    d_in, d_hidden : int
        Input and hidden sizes.
    """

    def __init__(self, d_in: int, d_hidden: int, *, rngs: nnx.Rngs):
        self.d_hidden = d_hidden
        self.w_in = nnx.Param(glorot(rngs.params(), (d_in, 4 * d_hidden)))
        self.w_rec = nnx.Param(nnx.initializers.orthogonal()(rngs.params(), (d_hidden, 4 * d_hidden)))
        bias = jnp.zeros((4 * d_hidden,)).at[d_hidden : 2 * d_hidden].set(1.0)
        self.bias = nnx.Param(bias)

    def __call__(self, x: jax.Array) -> jax.Array:
        """x: (batch, n_steps, d_in) → hidden states (batch, n_steps, d_hidden)."""
        H = self.d_hidden
        w_rec = self.w_rec[...]
        gates_in = x @ self.w_in[...] + self.bias[...]  # (B, T, 4H)

        def step(carry, g_in):
            h, c = carry
            g = g_in + h @ w_rec
            i, f, gg, o = (g[:, k * H : (k + 1) * H] for k in range(4))
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        B = x.shape[0]
        init = (jnp.zeros((B, H), x.dtype), jnp.zeros((B, H), x.dtype))
        _, hs = jax.lax.scan(step, init, jnp.swapaxes(gates_in, 0, 1))
        return jnp.swapaxes(hs, 0, 1)
