"""EEGNet-4,2 (v4), as braindecode's ``EEGNetv4``: MSC-T3AM's distillation teacher and a model of its own.

Source: Lawhern et al., "EEGNet: a compact convolutional neural network for EEG-based
brain-computer interfaces", J. Neural Eng. 15 (2018) 056013, doi 10.1088/1741-2552/aace8c;
layer settings of braindecode's ``EEGNetv4`` (github.com/braindecode/braindecode,
``braindecode/models/eegnet.py``), the teacher of the MSC-T3AM reference code
(github.com/BICN001/MSC-T3AM @ 71cc802, ``net_train.py``).
At MSC-T3AM's shapes (62 channels, 1500 samples, 6 classes):

======  =======================================================================  ==============
 row     op                                                                       output
======  =======================================================================  ==============
 1       Conv 1→F1=8, kernel (1, 64), padding 32 each side, no bias; BN           (B,8,62,1501)
 2       depthwise Conv (n_chans,1), multiplier D=2 → 16, no bias, max-norm 1;    (B,16,1,1501)
         BN; ELU
 3       AvgPool (1,4); Dropout 0.25                                              (B,16,1,375)
 4       separable: depthwise (1,16) padding 8 each side + pointwise 16→F2=16,    (B,16,1,376)
         no biases; BN; ELU
 5       AvgPool (1,8); Dropout 0.25                                              (B,16,1,47)
 6       Conv F2→n_outputs over the remaining (1, 47) samples, bias (logits)      (B,6)
======  =======================================================================  ==============

BatchNorm as braindecode: PyTorch momentum 0.01 (Flax 0.99), eps 1e-3. Glorot-uniform weights,
zero biases. The kernel sizes are braindecode's defaults whatever the sampling rate (64 taps
is half a second at 128 Hz, EEGNet's rate); ``kernel_length`` changes them.

Departure [inferred improvement, as in STFF-DA]: the first BatchNorm has no affine parameters.
A linear depthwise spatial convolution and a second BatchNorm follow, so any per-map scale and
shift is cancelled exactly: those parameters have zero true gradient, and Adam would turn the
rounding noise in it into learning-rate-sized steps. The function class is unchanged.
Rows 1, 2 and 4 are written as a 1-D conv, an einsum and shifted sums (see
:mod:`jeeg.models.layers`; row 1 as shifted sums on accelerators, where vmapped convolutions
are slow): identical maths, faster and exact under vmap and sharding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models.layers import (
    DepthwiseSpatialConv,
    DepthwiseTemporalConv,
    TemporalFilterBank,
    glorot,
    temporal_spatial_rows,
)


class EEGNetV4(nnx.Module):
    """EEGNet v4 (Lawhern et al. 2018; braindecode ``EEGNetv4`` defaults).

    Parameters
    ----------
    n_chans : int
        EEG channels.
    n_outputs : int
        Classes (logits returned).
    n_times : int
        Samples per trial; after rows 1–5 at least one sample must remain.
    sfreq : float
        Sampling frequency in Hz (recorded; the kernel sizes do not depend on it).
    rngs : nnx.Rngs
        ``params`` stream for initialisation.
    F1, D, F2 : int
        Temporal filters (8), depth multiplier (2), separable filters (16).
    kernel_length, sep_kernel_length : int
        Taps of the temporal (64) and separable depthwise (16) convolutions.
    pool1, pool2 : int
        Average-pooling factors (4, 8).
    drop : float
        Dropout after each pooling (0.25).
    max_norm : float
        Max L2 norm of each spatial filter (1.0).
    temporal_conv : {"auto", "factored", "conv", "shifted"}
        How rows 1–2 are computed (:func:`jeeg.models.layers.temporal_spatial_rows`): ``"auto"`` is
        ``"factored"``, spatial filters first; ``"conv"`` and ``"shifted"`` the plain order with
        row 1 as a convolution or shifted multiply-adds. Same parameters and maths either way.

    Raises
    ------
    ConfigError
        If ``n_times`` is too short for the two poolings.

    Notes
    -----
    ``model(x, train=..., rngs=...)`` with x (batch, n_chans, n_times) returns logits
    (batch, n_outputs); ``return_attention=True`` returns ``(logits, {})`` (EEGNet has none).
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        *,
        rngs: nnx.Rngs,
        F1: int = 8,
        D: int = 2,
        F2: int = 16,
        kernel_length: int = 64,
        sep_kernel_length: int = 16,
        pool1: int = 4,
        pool2: int = 8,
        drop: float = 0.25,
        max_norm: float = 1.0,
        temporal_conv: str = "auto",
    ):
        if n_chans < 1 or n_outputs < 1:
            raise ConfigError(f"EEGNetV4 needs n_chans ≥ 1 and n_outputs ≥ 1; got {n_chans}, {n_outputs}")
        t1 = n_times + 2 * (kernel_length // 2) - kernel_length + 1
        t3 = t1 // pool1
        t4 = t3 + 2 * (sep_kernel_length // 2) - sep_kernel_length + 1
        self.n_final = t4 // pool2
        if t3 < 1 or self.n_final < 1:
            raise ConfigError(
                f"EEGNetV4: n_times={n_times} is too short for pooling by {pool1} and {pool2}; "
                f"use at least {pool1 * pool2} samples or smaller pool sizes"
            )
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, float(sfreq)
        self.shapes = {"temporal": t1, "pool1": t3, "separable": t4, "pool2": self.n_final}
        self.pool1, self.pool2 = pool1, pool2
        self.kernel_length = kernel_length
        bn = dict(momentum=0.99, epsilon=1e-3, rngs=rngs)
        self.conv_t = TemporalFilterBank(F1, kernel_length, padding=[(kernel_length // 2,) * 2], kernel_init=glorot,
                                         rngs=rngs, impl=temporal_conv)
        self.bn_t = nnx.BatchNorm(F1, use_bias=False, use_scale=False, **bn)
        self.conv_s = DepthwiseSpatialConv(n_chans, F1, D, max_norm=max_norm, rngs=rngs)
        self.bn_s = nnx.BatchNorm(F1 * D, **bn)
        self.drop1 = nnx.Dropout(drop)
        self.conv_sep_d = DepthwiseTemporalConv(F1 * D, sep_kernel_length, rngs=rngs,
                                                padding=(sep_kernel_length // 2,) * 2)
        self.conv_sep_p = nnx.Linear(F1 * D, F2, use_bias=False, kernel_init=glorot, rngs=rngs)  # 1x1 conv
        self.bn_sep = nnx.BatchNorm(F2, **bn)
        self.drop2 = nnx.Dropout(drop)
        # Conv2d(F2, n_outputs, (1, n_final)) initialised with its own fan-in/out, applied as a matmul.
        w = glorot(rngs.params(), (1, self.n_final, F2, n_outputs)).reshape(self.n_final * F2, n_outputs)
        self.cls_kernel = nnx.Param(w)
        self.cls_bias = nnx.Param(jnp.zeros((n_outputs,)))

    def features(self, x: jax.Array, *, train: bool = False, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Rows 1–5: x (batch, n_chans, n_times) → (batch, n_final, F2)."""
        det = not train
        h = temporal_spatial_rows(x, self.conv_t, self.bn_t, self.conv_s, train=train)[:, None]  # rows 1–2: (B, 1, T1, F1·D)
        h = jax.nn.elu(self.bn_s(h, use_running_average=det))
        h = self.drop1(nnx.avg_pool(h, (1, self.pool1), strides=(1, self.pool1)), deterministic=det, rngs=rngs)
        h = self.conv_sep_p(self.conv_sep_d(h))
        h = jax.nn.elu(self.bn_sep(h, use_running_average=det))
        h = self.drop2(nnx.avg_pool(h, (1, self.pool2), strides=(1, self.pool2)), deterministic=det, rngs=rngs)
        return h[:, 0]

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: nnx.Rngs | None = None,
                 return_attention: bool = False):
        """Forward pass. x: (batch, n_chans, n_times) → logits (batch, n_outputs)."""
        h = self.features(x, train=train, rngs=rngs)
        logits = h.reshape(h.shape[0], -1) @ self.cls_kernel[...] + self.cls_bias[...]
        return (logits, {}) if return_attention else logits
