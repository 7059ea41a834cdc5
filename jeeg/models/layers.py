"""Small building blocks shared by jeeg's models: a max-norm constrained spatial convolution, an LSTM
written as one ``lax.scan``, and the projection that enforces weight constraints after an update.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
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
    gradient as kernel (dilated by the strides, strided by the kernel dilation), except with 2-3
    spatial axes: there it is one matmul per tap at stride 1 on a 'same'-sized grid
    (:func:`_shifted_kernel_grad`) or one patch matrix when strided with few taps × channels
    (:func:`_patches_kernel_grad`), which XLA:CPU runs 2.4-8x faster. XLA:CPU rewrites
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
    if _shifted_dw_applies(K, T, To, strides):
        return dx, _shifted_kernel_grad(x, g, K, padding, dilation)
    if _patches_dw_applies(K, x.shape[-1], strides):
        return dx, _patches_kernel_grad(x, g, K, strides, padding, dilation)
    # dw[k, c, f] = Σ_{b, t} xp[b, s·t + d·k, c] · g[b, t, f]: channels as batch, trials as features.
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *((lo, hi, 0) for lo, hi in padding), (0, 0, 0)])
    lhs = jnp.swapaxes(xp, 0, n + 1)  # (C, *Tp, batch)
    ker = jnp.moveaxis(g, 0, n)  # (*To, batch, F)
    dw = _conv_cl(lhs, ker, dilation, ((0, 0),) * n, strides)  # (C, *≥K, F)
    dw = jnp.moveaxis(dw, 0, n)[tuple(slice(0, k) for k in K)]
    return dx, dw


conv.defvjp(_conv_fwd, _conv_bwd)


def max_pool(x: jax.Array, window: tuple[int, ...]) -> jax.Array:
    """Non-overlapping max pooling, 'valid' (a trailing remainder along an axis is dropped).

    ``y[i] = max_{0 ≤ j < w} x[w·i + j]`` along each axis with window (= stride) ``w`` (1: not
    pooled). The forward pass keeps, per window, the position of its first maximum in row-major
    order (int8, as PyTorch's ``MaxPool`` keeps indices), and the gradient goes there, as
    PyTorch's and XLA's ``select_and_scatter`` route it. Two reasons for not differentiating
    ``lax.reduce_window`` or comparing ``x`` with its maxima in the backward pass:

    * XLA:CPU expands ``select_and_scatter`` into a variadic ``reduce_window`` over index arrays:
      330 against about 50 ms for SST-EmotionNet's stem pooling of (64, 16, 16, 26, 48);
    * inside U-Time's jitted training step, ``x == max`` found no equal element in 23 % of the
      windows (float64, jax 0.10.2, CPU; materialising ``x`` first did not help), so those
      windows lost their gradient. ``jnp.max``'s own gradient compares the same way, the likely
      reason why the reshape-and-max form had wrong gradients under ``jit``.

    Parameters
    ----------
    x : Array, any shape
    window : tuple of int, one per axis of ``x``

    Returns
    -------
    Array, shape ``x.shape // window``
    """
    window = tuple(int(w) for w in window)
    if len(window) != x.ndim or min(window) < 1:
        raise ValueError(f"max_pool: window {window} must give one size ≥ 1 per axis of the input, shape {x.shape}")
    return _max_pool(x[tuple(slice(0, n // w * w) for n, w in zip(x.shape, window))], window)


def _window_slices(x, window):
    """Every window's element at each window position, row-major: strided slices of ``x``."""
    return [x[tuple(slice(j, None, w) for j, w in zip(pos, window))] for pos in np.ndindex(*window)]


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool(x, window):  # x: every axis a multiple of its window
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")


def _max_pool_fwd(x, window):
    parts = _window_slices(x, window)
    y, arg = parts[0], jnp.zeros(parts[0].shape, jnp.int8 if len(parts) < 128 else jnp.int32)
    for j, xj in enumerate(parts[1:], 1):
        better = xj > y  # ties keep the earlier position
        y, arg = jnp.where(better, xj, y), jnp.where(better, jnp.asarray(j, arg.dtype), arg)
    return y, arg


def _max_pool_bwd(window, arg, g):
    zero = jnp.zeros((), g.dtype)
    dx = None
    for j, pos in enumerate(np.ndindex(*window)):  # scatter back onto x's grid by interior padding
        part = jax.lax.pad(jnp.where(arg == j, g, zero), zero, [(i, w - 1 - i, w - 1) for i, w in zip(pos, window)])
        dx = part if dx is None else dx + part
    return (dx,)


_max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)


#: Most kernel taps for which :func:`conv`'s kernel gradient is taken as one matmul per tap.
SHIFTED_DW_MAX_TAPS = 27


def _shifted_dw_applies(K, T, To, strides) -> bool:
    """Whether :func:`_shifted_kernel_grad` computes ``conv``'s kernel gradient: stride 1, output
    grid = input grid ('same'-sized), at least 2 spatial axes, at most ``SHIFTED_DW_MAX_TAPS`` taps."""
    return (len(K) >= 2 and all(s == 1 for s in strides) and tuple(T) == tuple(To)
            and int(np.prod(K)) <= SHIFTED_DW_MAX_TAPS)


#: Most kernel taps × input channels for which a strided :func:`conv`'s kernel gradient is taken
#: from an explicit patch matrix.
PATCHES_DW_MAX_COLUMNS = 256


def _patches_dw_applies(K, C, strides) -> bool:
    """Whether :func:`_patches_kernel_grad` computes ``conv``'s kernel gradient: a strided
    convolution with at least 2 spatial axes and at most ``PATCHES_DW_MAX_COLUMNS`` taps × channels."""
    return len(K) >= 2 and any(s > 1 for s in strides) and int(np.prod(K)) * C <= PATCHES_DW_MAX_COLUMNS


def _patches_kernel_grad(x, g, K, strides, padding, dilation):
    """Kernel gradient of a strided :func:`conv` with few input channels as one matmul of patches.

    ``dw[k, c, f] = Σ_{b, t} xp[b, s·t + d·k, c] · g[b, t, f]``: the strided slices of the padded
    input, one per tap and channel, stacked into a transposed (taps·C, N) patch matrix and
    multiplied by ``g`` (N, F) as it lies, so that neither operand is transposed in memory.
    XLA:CPU ran the equivalent correlation 2.4x slower (214 vs 88 ms for SST-EmotionNet's
    temporal stem, (1600, 32, 32, 3) → 48 channels, 5 x 5 stride 2; 2 cores, jax 0.10.2, 2026-11-30).
    """
    n = len(K)
    To, C, F = g.shape[1 : 1 + n], x.shape[-1], g.shape[-1]
    xp = jnp.moveaxis(jnp.pad(x, [(0, 0), *(tuple(p) for p in padding), (0, 0)]), -1, 0)  # (C, batch, *Tp)
    rows = []
    for tap in np.ndindex(*K):
        idx = tuple(slice(d * k, d * k + s * (t - 1) + 1, s) for k, d, s, t in zip(tap, dilation, strides, To))
        rows.append(xp[(slice(None), slice(None), *idx)])
    patches_t = jnp.stack(rows).reshape(len(rows) * C, -1)  # (taps·C, N)
    return (patches_t @ g.reshape(-1, F)).reshape(*K, C, F)


def _shifted_kernel_grad(x, g, K, padding, dilation):
    """Kernel gradient of a stride-1 'same'-grid :func:`conv` as one (N × C)ᵀ · (N × F) matmul per tap.

    ``dw[k, c, f] = Σ_{b, u} x[b, u, c] · g[b, u − s_k, f]`` with ``s_k = d·k − lo`` per axis
    and ``g`` zero outside its grid. Flattening (b, u) row-major turns the shift into one offset
    ``o_k`` along the flat axis; positions whose shifted index leaves the grid along some axis
    (which is also where the flat shift would wrap into the next row or trial) are masked. The
    same products as the correlation of the padded input with ``g``, summed in another order.
    Each matmul contracts the long flat axis, so one operand must be transposed in memory: the
    one with fewer channels, once (``g`` when F ≤ C, shifted along its last axis; else ``x``).
    XLA:CPU ran that correlation (input channels as batch, trials as features) 6-8x slower than
    these matmuls for SST-EmotionNet's dense-block 3 x 3 convolutions (431 vs 72 ms for
    (64, 32, 160, 48) → 12 channels, dilated by 5; 2 cores, jax 0.10.2, 2026-11-30).
    """
    n = len(K)
    T, C, F = x.shape[1 : 1 + n], x.shape[-1], g.shape[-1]
    xf, gf = x.reshape(-1, C), g.reshape(-1, F)
    N = gf.shape[0]
    row = np.cumprod((1,) + tuple(T[::-1]))[:-1][::-1]  # flat stride of each spatial axis
    taps = list(np.ndindex(*K))
    shifts = [tuple(d * k - lo for k, d, (lo, _) in zip(tap, dilation, padding)) for tap in taps]
    offsets = [int(np.dot(s, row)) for s in shifts]
    M = max(abs(o) for o in offsets)
    g_t = F <= C  # transpose g (F, N), else x (C, N)
    gp = jnp.pad(gf.T, ((0, 0), (M, M))) if g_t else jnp.pad(gf, ((M, M), (0, 0)))
    x_t = None if g_t else xf.T
    iotas = [jax.lax.broadcasted_iota(jnp.int32, (1, *T, 1), 1 + a) for a in range(n)]
    out = []
    for s, o in zip(shifts, offsets):
        keep = None
        for a, (sa, ta) in enumerate(zip(s, T)):
            if sa == 0:
                continue
            c = (iotas[a] >= sa) & (iotas[a] < ta + sa)
            keep = c if keep is None else keep & c
        gs = gp[:, M - o : M - o + N] if g_t else gp[M - o : M - o + N]
        if keep is not None:
            mask = jnp.broadcast_to(keep, (x.shape[0], *T, 1)).reshape((1, -1) if g_t else (-1, 1))
            gs = jnp.where(mask, gs, jnp.zeros((), gs.dtype))
        out.append((gs @ xf).T if g_t else x_t @ gs)  # (C, F)
    return jnp.stack(out).reshape(*K, C, F)


def conv1d(x: jax.Array, w: jax.Array, padding: tuple[int, int], dilation: int = 1) -> jax.Array:
    """:func:`conv` along time: x (batch, n_times, C), w (K, C, F), stride 1; returns
    (batch, n_times + before + after − dilation·(K − 1), F)."""
    return conv(x, w, (1,), (tuple(padding),), (dilation,))


TEMPORAL_CONV_IMPLS = ("auto", "factored", "conv", "shifted")


def lagged_products(a: jax.Array, g: jax.Array, n_lags: int) -> jax.Array:
    """``c[k, j] = Σ_{n, t} a[n, t + k, j] · g[n, t, j]`` for ``k < n_lags``, as one matmul.

    ``a`` (N, Ta, J), ``g`` (N, Tg, J); ``a`` is read as zero beyond its end. Time is cut into
    blocks of P = ``n_lags`` samples; block q of ``g`` meets blocks q and q + 1 of ``a``, so
    ``O[j, i, m] = Σ_{n, q} g[n, qP + i, j] · a[n, qP + m, j]`` (m < 2P) is a matmul over (n, q)
    and ``c[k, j] = Σ_i O[j, i, i + k]``. The same products as the direct sum, in another order:
    the kernel gradient of :func:`depthwise_correlate` and the lag sums of :func:`lagged_moments`
    (K shifted reductions took 51 ms against 3.6 ms here for 64 x 641 x 16 and K = 64 on the
    2-core CPU, 2026-11-30).
    """
    P = n_lags
    N, Tg, J = g.shape
    Q = -(-Tg // P)
    gq = jnp.pad(g, ((0, 0), (0, Q * P - Tg), (0, 0))).reshape(N, Q, P, J)
    Ta = (Q + 1) * P
    a = a[:, :Ta] if a.shape[1] >= Ta else jnp.pad(a, ((0, 0), (0, Ta - a.shape[1]), (0, 0)))
    aq = a.reshape(N, Q + 1, P, J)
    aw = jnp.concatenate([aq[:, :-1], aq[:, 1:]], axis=2)  # (N, Q, 2P, J)
    O = jnp.einsum("nqij,nqmj->jim", gq, aw)
    i = np.arange(P)[:, None]
    return O[:, i, i + np.arange(n_lags)[None, :]].sum(1).T  # (n_lags, J)


@jax.custom_vjp
def depthwise_correlate(a: jax.Array, kernel: jax.Array) -> jax.Array:
    """'Valid' depthwise correlation along time: ``y[n, t, j] = Σ_k a[n, t + k, j] · kernel[k, j]``.

    ``a`` (N, Ta, J), ``kernel`` (K, J) → (N, Ta − K + 1, J). The forward pass and the input
    gradient are K shifted multiply-adds (:func:`shifted_sum`, one fused loop on XLA:CPU); the
    kernel gradient is :func:`lagged_products`. Autodiff of the shifted sums gave the kernel
    gradient as K separate reductions, 57 against 7 ms for forward and backward at
    64 x 704 x 16, K = 64 (2-core CPU, 2026-11-30). No convolution op, so it stays exact and
    fast under ``vmap`` over members.
    """
    return shifted_sum(a, kernel, (0, 0))


def _dwc_fwd(a, kernel):
    return shifted_sum(a, kernel, (0, 0)), (a, kernel)


def _dwc_bwd(res, g):
    a, kernel = res
    K = kernel.shape[0]
    da = shifted_sum(g, kernel[::-1], (K - 1, K - 1))  # da[s] = Σ_k g[s − k] · kernel[k]
    return da, lagged_products(a, g, K)


depthwise_correlate.defvjp(_dwc_fwd, _dwc_bwd)


def lagged_moments(x: jax.Array, n_taps: int, padding: tuple[int, int]) -> tuple[jax.Array, jax.Array, int]:
    """First and second moments of the K-sample windows a 'valid' correlation sees.

    ``x`` (N, n_times) zero-padded by ``padding`` to ``xp`` (N, Tp); the windows are
    ``xp[n, t : t + K]`` for ``t < T1 = Tp − K + 1``. Returns ``m`` (K,) with
    ``m[k] = Σ_{n, t} xp[n, t + k]``, ``M`` (K, K) with ``M[k, k'] = Σ_{n, t} xp[n, t + k] · xp[n, t + k']``
    and the count ``N · T1``, so that a filter ``w`` (K,) gives outputs with sum ``w·m`` and sum
    of squares ``wᵀ M w``. ``M[k, k + l]`` is the lag-l sum over the whole signal
    (:func:`lagged_products`) less the products whose window start falls before k or after
    k + T1 − 1: those involve only the first and last ``2K − 1`` padded samples (two small Gram
    matrices).
    """
    N, T = x.shape
    lo, hi = padding
    K = n_taps
    Tp = T + lo + hi
    T1 = Tp - K + 1
    xp = jnp.pad(x, ((0, 0), (lo, hi)))
    m = jnp.convolve(xp.sum(0), jnp.ones(T1, x.dtype), mode="valid")  # window sums, (K,)
    A = lagged_products(xp[:, :, None], xp[:, :, None], K)[:, 0]  # A[l] = Σ_{n,u} xp[u]·xp[u + l]
    nh = min(Tp, 2 * K - 1)
    head = xp[:, :nh]
    tail = xp[:, T1:]  # the last K − 1 samples
    Gh, Gt = head.T @ head, tail.T @ tail
    u, lag = np.arange(K - 1)[:, None], np.arange(K)[None, :]
    Dh = jnp.where(u + lag < nh, Gh[u, np.minimum(u + lag, nh - 1)], 0.0)  # (K − 1, K): products at start u
    Dt = jnp.where(u + lag < K - 1, Gt[u, np.minimum(u + lag, K - 2)], 0.0)
    zero = jnp.zeros((1, K), x.dtype)
    before = jnp.concatenate([zero, jnp.cumsum(Dh, 0)], 0)  # Σ_{u < k}
    after = jnp.concatenate([jnp.cumsum(Dt[::-1], 0)[::-1], zero], 0)  # Σ_{u ≥ k} of the tail
    Q = A[None, :] - before - after  # Q[k, l] = M[k, k + l]
    k = np.arange(K)
    M = Q[np.minimum(k[:, None], k[None, :]), np.abs(k[:, None] - k[None, :])]
    return m, M, N * T1


def temporal_bn_spatial(x: jax.Array, temporal: TemporalFilterBank, bn: nnx.BatchNorm,
                        spatial: DepthwiseSpatialConv, *, train: bool) -> jax.Array:
    """``spatial(bn(temporal(x)))`` of EEGNet / STFF-DA rows 1–2, spatial filters first.

    The plain order filters every channel with every temporal filter, F · n_chans maps of
    n_times samples (64 x 8 x 641 at EEGMMIDB's shapes), normalises them (BatchNorm without
    affine, batch statistics over batch, channels and time in training) and sums channels with
    the depthwise spatial filters. All three are linear per map, so the sum over channels can
    come first: ``z = Σ_c w[c, f, d] · x[c]`` (F · D series), then each series is filtered by its
    map's temporal kernel (:func:`depthwise_correlate`) and normalised with the statistics of the
    plain maps, ``r_f · (k_f ⋆ z_fd − μ_f · Σ_c w[c, f, d])``. Those statistics come exactly from
    the data's window moments (:func:`lagged_moments`): ``μ_f = k_f·m / n``, ``E[h²] = k_fᵀ M k_f / n``,
    variance ``max(0, E[h²] − μ_f²)`` as Flax's BatchNorm. Running statistics are updated as
    Flax's BatchNorm does. The temporal filtering has n_chans / D times fewer multiply-adds (32 at
    64 channels); the window moments, from the data alone and without gradient, cost about a
    third of the plain order's forward pass.

    Parameters
    ----------
    x : Array, shape (batch, n_chans, n_times)
    temporal : TemporalFilterBank
        Kernel (K, 1, F) and padding.
    bn : nnx.BatchNorm
        F features, no scale or bias (raises ``ValueError`` otherwise).
    spatial : DepthwiseSpatialConv
        Kernel (n_chans, F, D).
    train : bool
        Batch statistics (and update the running ones) or the running statistics.

    Returns
    -------
    Array, shape (batch, T1, F · D), map index ``f · D + d``, equal to the plain order up to
    rounding (tested, ~1e-6 relative).
    """
    if bn.scale is not None or bn.bias is not None:
        raise ValueError("temporal_bn_spatial needs a BatchNorm without scale and bias")
    B, C, T = x.shape
    kern = temporal.kernel[...][:, 0]  # (K, F)
    K, F = kern.shape
    w = spatial.kernel[...]  # (C, F, D)
    D = w.shape[2]
    if train:
        m, M, n = lagged_moments(jax.lax.stop_gradient(x).reshape(B * C, T), K, temporal.pads)
        mean = kern.T @ m / n
        var = jnp.maximum(0.0, jnp.einsum("kf,kl,lf->f", kern, M, kern) / n - mean**2)
        bn.mean[...] = jax.lax.stop_gradient(bn.momentum * bn.mean[...] + (1 - bn.momentum) * mean)
        bn.var[...] = jax.lax.stop_gradient(bn.momentum * bn.var[...] + (1 - bn.momentum) * var)
    else:
        mean, var = bn.mean[...], bn.var[...]
    z = jnp.einsum("bct,cj->btj", x, w.reshape(C, F * D))
    z = jnp.pad(z, ((0, 0), tuple(temporal.pads), (0, 0)))
    u = depthwise_correlate(z, jnp.repeat(kern, D, axis=1))
    r = jax.lax.rsqrt(var + bn.epsilon)
    return (u - jnp.repeat(mean, D) * w.sum(0).reshape(F * D)) * jnp.repeat(r, D)


def temporal_spatial_rows(x: jax.Array, temporal: TemporalFilterBank, bn: nnx.BatchNorm,
                          spatial: DepthwiseSpatialConv, *, train: bool) -> jax.Array:
    """EEGNet / STFF-DA rows 1–2, ``spatial(bn(temporal(x)))``, in the formulation ``temporal.impl`` names.

    x (batch, n_chans, n_times) → (batch, T1, F · D). ``"factored"`` (the default):
    :func:`temporal_bn_spatial`; ``"conv"`` / ``"shifted"``: the plain order, one temporal filter
    bank over every channel (:class:`TemporalFilterBank`), BatchNorm (batch statistics when
    ``train``), then the spatial filters. Same parameters and maths either way.
    """
    if temporal.resolved_impl() == "factored":
        return temporal_bn_spatial(x, temporal, bn, spatial, train=train)
    B, C, T = x.shape
    h = temporal(x.reshape(B * C, T, 1)).reshape(B, C, -1, temporal.out_features)  # (B, C, T1, F)
    return spatial(bn(h, use_running_average=not train))


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
    * ``"factored"`` — the model computes this row together with its BatchNorm and spatial
      filters, spatial filters first (:func:`temporal_bn_spatial`); called alone, the bank is
      the convolution.
    * ``"auto"`` (default) — ``"factored"`` (:meth:`resolved_impl`). The model does not look at
      the backend, and the training engine passes ``temporal_conv`` through unchanged, so a model
      left at ``"auto"`` computes the factored rows on either member axis (``"map"`` on CPUs,
      ``"vmap"`` on accelerators, :func:`jeeg.engine.default_member_axis`).
      Measured for the EEGNet train step at batch 64, 64 x 640 (2-core CPU, 2026-11-30):
      ``benchmarks/results/cpu/train_steps.json``.

    All give the same maths with a different rounding (agree to ~1e-6 relative, tested), so a
    run is bitwise reproducible on one backend, not across them.

    Parameters
    ----------
    n_filters : int
        Temporal filters F.
    kernel_size : int
        Taps K.
    padding : "SAME" or [(int, int)]
        Zeros before and after the signal, as for ``nnx.Conv`` (``"SAME"``: ``(K - 1) // 2`` before).
    impl : {"auto", "factored", "conv", "shifted"}
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
        """``"factored"``, ``"conv"`` or ``"shifted"``: what ``impl`` means (``"auto"``: ``"factored"``)."""
        return "factored" if self.impl == "auto" else self.impl

    def __call__(self, x: jax.Array) -> jax.Array:
        """x: (N, n_times, 1) → (N, n_times + pad_before + pad_after - K + 1, F)."""
        if self.resolved_impl() != "shifted":
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
