"""Modified U-Time (1-D): the teacher (EEG) and student (ECG) of EEG→ECG cross-modal distillation.

Sources: Perslev et al., "U-Time: a fully convolutional network for time series segmentation
applied to sleep staging", NeurIPS 2019, arXiv 1910.11162 (the base model); as modified by Joshi
et al., arXiv 2112.07252 / 2211.13125, code github.com/acrophase/Sleep_Staging_KD
@ e40bcef (``4_class/models/eeg_base.py``). At the sleep-staging shapes (1 channel, 6000 samples = 30 s at 200 Hz, C classes):

=====  ================================================================================  =============
 row    op                                                                                output (C, L)
=====  ================================================================================  =============
 0      input                                                                             1, 6000
 1      encoder k = 0..4: 2×ConvBNReLU (kernel 5, dilation 2) → skip_k; MaxPool p_k       16,2000 /
        (filters 16, 32, 64, 128, 256; pools 3, 2, 2, 2, 2)                               32,1000 /
                                                                                          64,500 /
                                                                                          128,250 /
                                                                                          256,125
 2      bottom: 2×ConvBNReLU 256→512→512 (kernel 5, dilation 1)                           512,125
 3      decoder j = 0..4 (filters 256, 128, 64, 32, 16; up 2, 2, 2, 2, 3): nearest        256,250 /
        Upsample → ConvBNReLU → concat[skip, z] → 2×ConvBNReLU (kernel 5, dilation 1)     128,500 /
                                                                                          64,1000 /
                                                                                          32,2000 /
                                                                                          16,6000
 4      dense: Conv1d 16→C (kernel 1) + tanh                                              C,6000
 5      segment: mean over each segment of ``segment_samples`` (default: the whole input)  C,1
 6      segment classifier: Conv1d C→C (kernel 1) → logits                                C
=====  ================================================================================  =============

ConvBNReLU = zero padding 'same' → Conv1d (bias) → **ReLU → BatchNorm** (this order, as the
reference code). Every convolution has Glorot-uniform (PyTorch ``xavier_uniform_``) weights and
zero biases; BatchNorm has PyTorch's defaults, momentum 0.1 (Flax 0.9) and eps 1e-5. Flax keeps
the biased batch variance as running variance where PyTorch keeps the unbiased one (a factor
n/(n−1) with n = batch × length ≥ 125, i.e. < 1 %).

jeeg extensions (none of them changes the sleep-staging case, 6000 samples, one segment):

* **Any input length.** The reference needs ``n_times`` divisible by ``prod(pools)`` (48) or
  the skip concatenation fails. jeeg zero-pads the input at the end to the next multiple,
  runs the U-Net on the padded signal and crops the decoder output back to ``n_times`` before
  the dense and segment stages. In training mode the BatchNorm batch statistics are computed
  only over the positions that cover at least one real sample (``ceil(n_times / scale)`` at a
  level ``scale`` samples per position), so padding does not bias them. Returned features are
  cropped the same way. EEGMMIDB motor-imagery trials (64 channels, 160 Hz, 640 or 641 samples)
  use this path, one trial being one segment.
* **'same' padding for any kernel.** The reference pads ``dilation·(kernel−1)//2`` on both sides,
  which shortens the signal by one sample when ``dilation·(kernel−1)`` is odd; jeeg then puts
  the extra zero at the end. Identical for the default odd kernels.
* **Decoder block input width** is the actual width of ``concat[skip, z]``, twice the level's
  filters; the reference builds that convolution with the previous level's width (the bottom's
  for the first level), which is the same whenever filters double per level, as by default.
* **Several segments per example** (``segment_samples`` < ``n_times``; it must divide
  ``n_times``): logits then have shape (batch, n_segments, n_outputs). With one segment (the
  default, and the registry convention) they have shape (batch, n_outputs).

Layout: activations are kept channels-last (batch, length, channels) and every convolution is
:func:`jeeg.models.layers.conv1d`, one ``jax.lax.conv_general_dilated`` in NWC/WIO layout (which
XLA:CPU ran ~5-10 % faster than NCW at batch 32 × (1, 6000): forward 0.76 vs 0.79 s, gradient
2.9 vs 3.2 s on the 2-core CI machine, 2026-11) whose gradients are convolutions in the same
layout: inside the compiled training loop, JAX's own gradient convolutions made a U-Time step
3.5x slower on XLA:CPU (110 against 31 ms; 34 ms with ``conv1d``; 2026-11-29). Features are
returned as (batch, channels, length), as the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models.layers import conv1d, glorot, max_pool


class ConvBNReLU(nnx.Module):
    """Zero padding 'same' → Conv1d (bias) → ReLU → BatchNorm, on (batch, length, channels).

    Parameters
    ----------
    in_channels, out_channels : int
        Input and output feature maps.
    kernel_size, dilation : int
        Taps and dilation of the convolution.
    rngs : nnx.Rngs
        ``params`` stream for the Glorot-uniform kernel (stored as (kernel, in, out); its fan-in
        and fan-out are PyTorch's ``in·kernel`` and ``out·kernel``). The bias starts at zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, *,
                 rngs: nnx.Rngs):
        self.kernel = nnx.Param(glorot(rngs.params(), (kernel_size, in_channels, out_channels)))
        self.bias = nnx.Param(jnp.zeros((out_channels,)))
        self.bn = nnx.BatchNorm(out_channels, momentum=0.9, epsilon=1e-5, rngs=rngs)
        self.dilation = dilation
        total = dilation * (kernel_size - 1)
        self.padding = (total // 2, total - total // 2)

    def __call__(self, h: jax.Array, *, train: bool = False, n_valid: int | None = None) -> jax.Array:
        """h: (batch, L, in) → (batch, L, out).

        ``n_valid`` < L: in training mode the batch statistics use only the first ``n_valid``
        positions (the rest is padding); ignored in evaluation mode.
        """
        z = conv1d(h, self.kernel[...], self.padding, self.dilation)
        z = jax.nn.relu(z + self.bias[...])
        mask = None
        if train and n_valid is not None and n_valid < z.shape[1]:
            mask = (jnp.arange(z.shape[1]) < n_valid)[None, :, None]
        return self.bn(z, use_running_average=not train, mask=mask)


def _ceil_div(n: int, s: int) -> int:
    return -(-n // s)


def _as_tuple(name: str, v) -> tuple[int, ...]:
    try:
        t = tuple(int(a) for a in v)
    except TypeError:
        raise ConfigError(f"UTime: {name} must be a list of integers; got {v!r}") from None
    if not t or min(t) < 1:
        raise ConfigError(f"UTime: {name} must be a non-empty list of positive integers; got {v!r}")
    return t


class UTime(nnx.Module):
    """Modified U-Time (1-D) of Joshi et al. (arXiv 2112.07252), after Perslev et al. 2019.

    Parameters
    ----------
    n_chans : int
        Input channels (1 for the single-lead ECG student or the single-derivation EEG teacher).
    n_outputs : int
        Classes C (the dense and segment-classifier widths).
    n_times : int
        Samples per example (6000 = 30 s at 200 Hz for sleep staging).
    sfreq : float
        Sampling frequency in Hz (recorded; nothing depends on it).
    rngs : nnx.Rngs
        ``params`` stream for initialisation.
    filters : sequence of int
        Encoder filters per level, (16, 32, 64, 128, 256); the decoder uses them reversed and the
        bottom ``2·filters[-1]``.
    pools : sequence of int
        Max-pooling factors per level, (3, 2, 2, 2, 2); the decoder up-samples by them reversed.
    kernel_size, dilation : int
        Encoder convolutions: 5 taps, dilation 2.
    dec_kernel_size, dec_dilation : int
        Bottom and decoder convolutions: 5 taps, dilation 1.
    segment_samples : int or None
        Samples per classified segment (30 s · sfreq in the reference); default ``n_times``,
        one segment per example. Must divide ``n_times``.

    Raises
    ------
    ConfigError
        For mismatched ``filters``/``pools``, non-positive sizes or a ``segment_samples`` that
        does not divide ``n_times``.

    Notes
    -----
    ``model(x, train=..., rngs=...)`` with x (batch, n_chans, n_times) returns logits
    (batch, n_outputs), or (batch, n_segments, n_outputs) with several segments. The model has
    no dropout: ``rngs`` is accepted and unused. Extra outputs, in this order after the logits:
    ``return_attention=True`` adds ``{}`` (U-Time has no attention weights; registry
    convention); ``return_features=True`` adds the dict of attention-transfer features of
    the reference's feature training (``4_class/models/FEAT_TRAINING.py``), every tensor
    (batch, channels, length):

    * ``"encoder"``: list of the pooled encoder outputs (one per level),
    * ``"bottom"``: the bottleneck output,
    * ``"decoder"``: list of the decoder outputs (one per level, coarse to fine),
    * ``"final"``: the last decoder output (``filters[0]`` × n_times),
    * ``"dense"``: the tanh output (n_outputs × n_times).

    When the input is padded (``n_times`` not a multiple of ``prod(pools)``), every feature is
    cropped to the positions that cover at least one real sample, ``ceil(n_times / scale)``.
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        *,
        rngs: nnx.Rngs,
        filters: Sequence[int] = (16, 32, 64, 128, 256),
        pools: Sequence[int] = (3, 2, 2, 2, 2),
        kernel_size: int = 5,
        dilation: int = 2,
        dec_kernel_size: int = 5,
        dec_dilation: int = 1,
        segment_samples: int | None = None,
    ):
        filters, pools = _as_tuple("filters", filters), _as_tuple("pools", pools)
        if len(filters) != len(pools):
            raise ConfigError(f"UTime: {len(filters)} filters but {len(pools)} pools; give one pool per level")
        if min(n_chans, n_outputs, n_times, kernel_size, dilation, dec_kernel_size, dec_dilation) < 1:
            raise ConfigError(
                f"UTime needs positive n_chans, n_outputs, n_times, kernel sizes and dilations; got n_chans={n_chans}, "
                f"n_outputs={n_outputs}, n_times={n_times}, kernel_size={kernel_size}, dilation={dilation}, "
                f"dec_kernel_size={dec_kernel_size}, dec_dilation={dec_dilation}"
            )
        segment_samples = n_times if segment_samples is None else int(segment_samples)
        if segment_samples < 1 or n_times % segment_samples:
            raise ConfigError(f"UTime: segment_samples={segment_samples} must divide n_times={n_times}")
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, float(sfreq)
        self.filters, self.pools = filters, pools
        self.segment_samples = segment_samples
        self.n_segments = n_times // segment_samples
        total_pool = math.prod(pools)
        self.padded_times = -(-n_times // total_pool) * total_pool
        # Samples per position after each encoder level; decoder level j is at enc_scales[depth-2-j] (1 last).
        self.enc_scales = tuple(math.prod(pools[: k + 1]) for k in range(len(pools)))

        depth = len(filters)
        ins = (n_chans,) + filters[:-1]
        self.enc = nnx.List([
            nnx.List([ConvBNReLU(ins[k], filters[k], kernel_size, dilation, rngs=rngs),
                      ConvBNReLU(filters[k], filters[k], kernel_size, dilation, rngs=rngs)])
            for k in range(depth)
        ])
        bottom = 2 * filters[-1]
        self.bottom = nnx.List([ConvBNReLU(filters[-1], bottom, dec_kernel_size, dec_dilation, rngs=rngs),
                                ConvBNReLU(bottom, bottom, dec_kernel_size, dec_dilation, rngs=rngs)])
        dec_filters = filters[::-1]
        dec_ins = (bottom,) + dec_filters[:-1]
        self.up = nnx.List([ConvBNReLU(dec_ins[j], dec_filters[j], dec_kernel_size, dec_dilation, rngs=rngs)
                            for j in range(depth)])
        self.dec = nnx.List([
            nnx.List([ConvBNReLU(2 * dec_filters[j], dec_filters[j], dec_kernel_size, dec_dilation, rngs=rngs),
                      ConvBNReLU(dec_filters[j], dec_filters[j], dec_kernel_size, dec_dilation, rngs=rngs)])
            for j in range(depth)
        ])
        # Conv1d(filters[0], C, 1) and Conv1d(C, C, 1): Glorot on the (in, out) matrix has PyTorch's fans.
        self.dense_kernel = nnx.Param(glorot(rngs.params(), (filters[0], n_outputs)))
        self.dense_bias = nnx.Param(jnp.zeros((n_outputs,)))
        self.cls_kernel = nnx.Param(glorot(rngs.params(), (n_outputs, n_outputs)))
        self.cls_bias = nnx.Param(jnp.zeros((n_outputs,)))

    @property
    def shapes(self) -> dict:
        """(channels, length) of every returned feature for this ``n_times`` (cropped lengths).

        A property, so that the module's static attributes (and its graphdef) stay hashable.
        """
        f, n, depth = self.filters, self.n_times, len(self.filters)
        return {
            "encoder": [(f[k], _ceil_div(n, self.enc_scales[k])) for k in range(depth)],
            "bottom": (2 * f[-1], _ceil_div(n, self.enc_scales[-1])),
            "decoder": [(f[depth - 1 - j], _ceil_div(n, self.enc_scales[depth - 2 - j]) if j < depth - 1 else n)
                        for j in range(depth)],
            "final": (f[0], n),
            "dense": (self.n_outputs, n),
        }

    def segment_logits(self, dense: jax.Array) -> jax.Array:
        """Rows 5-6: dense (batch, n_times, C) → logits (batch, n_segments, C)."""
        B, T, C = dense.shape
        z = dense.reshape(B, T // self.segment_samples, self.segment_samples, C).mean(2)
        return z @ self.cls_kernel[...] + self.cls_bias[...]

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: nnx.Rngs | None = None,
                 return_attention: bool = False, return_features: bool = False):
        """Forward pass. x: (batch, n_chans, n_times) → logits (batch, n_outputs); see the class notes."""
        del rngs  # no dropout
        n = x.shape[-1]
        if n != self.n_times:
            raise ValueError(f"UTime built for n_times={self.n_times}, got input of length {n}")
        h = jnp.swapaxes(x, 1, 2)  # (B, T, n_chans)
        if self.padded_times > n:
            h = jnp.pad(h, ((0, 0), (0, self.padded_times - n), (0, 0)))

        def valid(s):  # positions covering ≥ 1 real sample at a level of s samples per position
            return _ceil_div(n, s)

        def crop(a, s):
            return a[:, : valid(s)]

        skips, enc_out, scale = [], [], 1
        for (c1, c2), p in zip(self.enc, self.pools):
            h = c2(c1(h, train=train, n_valid=valid(scale)), train=train, n_valid=valid(scale))
            skips.append((h, scale))
            scale *= p
            # MaxPool1d(p) as layers.max_pool. Not h.reshape(B, L // p, p, C).max(2): under jit, XLA's
            # algebraic simplifier (jax 0.10.2, CPU) made JAX's gradient of that form wrong at the
            # default depth, encoder weight gradients off by 20-60 % at 1 x 480 and 1 x 6000
            # (eager or without the `algsimp` pass: right); tests/test_utime_parity.py catches it.
            h = max_pool(h, (1, p, 1))
            enc_out.append(crop(h, scale))
        for c in self.bottom:
            h = c(h, train=train, n_valid=valid(scale))
        bottom = crop(h, scale)

        dec_out = []
        for up, (c1, c2), p, (skip, s) in zip(self.up, self.dec, self.pools[::-1], skips[::-1]):
            h = up(jnp.repeat(h, p, axis=1), train=train, n_valid=valid(s))
            h = jnp.concatenate([skip, h], axis=-1)
            h = c2(c1(h, train=train, n_valid=valid(s)), train=train, n_valid=valid(s))
            dec_out.append(crop(h, s))

        final = dec_out[-1]  # (B, n_times, filters[0])
        dense = jnp.tanh(final @ self.dense_kernel[...] + self.dense_bias[...])
        logits = self.segment_logits(dense)
        if self.n_segments == 1:
            logits = logits[:, 0]

        out = (logits,)
        if return_attention:
            out += ({},)
        if return_features:
            ncl = [jnp.swapaxes(a, 1, 2) for a in (*enc_out, bottom, *dec_out, dense)]  # (B, L, C) → (B, C, L)
            depth = len(enc_out)
            out += ({
                "encoder": ncl[:depth],
                "bottom": ncl[depth],
                "decoder": ncl[depth + 1: 2 * depth + 1],
                "final": ncl[2 * depth],
                "dense": ncl[-1],
            },)
        return out[0] if len(out) == 1 else out
