"""STFF-DA: EEGNet-style CNN front end → LSTM → additive attention → linear classifier.

The STFF-DA paper has no public code, so the layer table and every default below are jeeg's own
choice, justified by the closest published models: the CNN front end of EEGNet (Lawhern et al.,
J. Neural Eng. 2018, doi 10.1088/1741-2552/aace8c), the CNN → LSTM → attention back end of ACRNN
(Tao et al., IEEE Trans. Affective Comput. 2020, doi 10.1109/TAFFC.2020.3025777) and of the
attention-enhanced convolutional-recurrent motor-imagery decoder of Sci. Rep. 2025
(doi 10.1038/s41598-025-17922-1), and additive attention (Bahdanau, Cho & Bengio, ICLR 2015,
arXiv 1409.0473, eq. 6). At the reference shapes (64 channels, 500 samples at 250 Hz,
4 classes):

======  ======================================================================  ==============
 row     op                                                                      output
======  ======================================================================  ==============
 1       Conv 1→F1=16, kernel (1, k1=64) 'same', no bias; BN (no affine, below)  (B,16,64,500)
 2       depthwise Conv (n_chans,1), multiplier D=2 → 32, no bias, max-norm 1;   (B,32,1,500)
         BN; ELU
 3       AvgPool (1,4); Dropout 0.25                                             (B,32,1,125)
 4       separable conv: depthwise (1,k2=16) 'same' + pointwise 32→32; BN; ELU   (B,32,1,125)
 5       AvgPool (1,4); Dropout 0.25                                             (B,32,1,31)
 6       to sequence                                                             (B,31,32)
 7       LSTM, hidden 64, all steps                                              (B,31,64)
 8       additive attention pooling over steps                                   (B,64)
 9       Dropout 0.5 → Linear 64→n_outputs (logits)                              (B,4)
======  ======================================================================  ==============

Kernel sizes scale with the sampling rate (jeeg's choice: temporal kernel ≈ fs/4, second ≈ fs/16):
``k1 = round(64·sfreq/250)`` and ``k2 = round(16·sfreq/250)``, so the table holds exactly at
250 Hz and EEGMMIDB at 160 Hz gets k1 = 41, k2 = 10. Layout inside is NHWC with H = EEG
channels, W = time, C = feature maps; rows 1-2 are computed as a 1-D conv (shifted sums on
accelerators: :class:`~jeeg.models.layers.TemporalFilterBank`) and an einsum (see
the comments there: identical maths, much faster gradients on XLA:CPU), and row 4 as shifted
sums and a matmul (grouped convolutions vmapped over members mis-partition on XLA:CPU). BatchNorm uses PyTorch's defaults (momentum 0.1, eps 1e-5);
convolutions and linear layers Glorot-uniform (as EEGNet) [inferred].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jeeg.attention import additive_attention
from jeeg.errors import ConfigError
from jeeg.models.layers import (
    LSTM,
    DepthwiseSpatialConv,
    DepthwiseTemporalConv,
    TemporalFilterBank,
    glorot,
    temporal_spatial_rows,
)


class STFFDA(nnx.Module):
    """STFF-DA motor-imagery decoder (layer table and defaults: jeeg's own choice, module docstring).

    Parameters
    ----------
    n_chans : int
        Number of EEG channels (rows of each trial).
    n_outputs : int
        Number of classes (logits returned).
    n_times : int
        Samples per trial; must be ≥ 16 (two 4× poolings).
    sfreq : float
        Sampling frequency in Hz; sets the temporal kernel sizes.
    rngs : nnx.Rngs
        Keys for parameter initialisation (``params`` stream).
    F1, D, F2 : int
        Temporal filters (16), depth multiplier (2) and separable filters (F1·D = 32).
    lstm_hidden, att_dim : int
        LSTM hidden size and attention projection size (64, 64).
    drop_cnn, drop_head : float
        Dropout after each pooling (0.25) and before the classifier (0.5).
    max_norm : float
        Max L2 norm of each spatial (depthwise) filter (1.0).
    temporal_conv : {"auto", "factored", "conv", "shifted"}
        How rows 1–2 are computed (:func:`jeeg.models.layers.temporal_spatial_rows`): ``"auto"`` is
        ``"factored"``, spatial filters first; ``"conv"`` and ``"shifted"`` the plain order with
        row 1 as a convolution or shifted multiply-adds. Same parameters and maths either way.

    Raises
    ------
    ConfigError
        If ``n_times < 16`` or ``n_chans``/``n_outputs`` are not positive.

    Notes
    -----
    Call ``model(x, train=..., rngs=...)`` with ``x`` of shape (batch, n_chans, n_times), per-trial
    standardised EEG. Returns logits (batch, n_outputs); with ``return_attention=True`` also the
    attention weights α (batch, n_tokens), where token t covers samples ``[16t, 16t + 16)``.
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        *,
        rngs: nnx.Rngs,
        F1: int = 16,
        D: int = 2,
        F2: int | None = None,
        lstm_hidden: int = 64,
        att_dim: int = 64,
        drop_cnn: float = 0.25,
        drop_head: float = 0.5,
        max_norm: float = 1.0,
        temporal_conv: str = "auto",
    ):
        if n_chans < 1 or n_outputs < 1:
            raise ConfigError(f"STFFDA needs n_chans ≥ 1 and n_outputs ≥ 1; got {n_chans}, {n_outputs}")
        if n_times < 16:
            raise ConfigError(f"STFFDA needs n_times ≥ 16 (two 4× poolings); got n_times={n_times}")
        F2 = F1 * D if F2 is None else F2
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, float(sfreq)
        self.k1 = max(1, round(64 * sfreq / 250))
        self.k2 = max(1, round(16 * sfreq / 250))
        self.n_tokens = (n_times // 4) // 4
        self.token_stride = 16  # samples per attention token (two 4x poolings)
        bn = dict(momentum=0.9, epsilon=1e-5, rngs=rngs)
        # Row 1 as a 1-D conv over (batch·n_chans, n_times): the same (1, k1) kernel, but XLA:CPU
        # differentiates it ~3x faster than the 2-D form.
        self.conv_t = TemporalFilterBank(F1, self.k1, padding="SAME", kernel_init=glorot, rngs=rngs,
                                         impl=temporal_conv)
        # No affine parameters here [inferred improvement]: a linear spatial conv and BatchNorm
        # follow, which cancel any per-map scale and shift exactly, so their true gradient is 0;
        # Adam turned the floating-point noise in it into lr-sized steps, making results depend
        # on reduction order (1 vs 8 devices differed by 5e-3 in this bias).
        self.bn_t = nnx.BatchNorm(F1, use_bias=False, use_scale=False, **bn)
        self.conv_s = DepthwiseSpatialConv(n_chans, F1, D, max_norm=max_norm, rngs=rngs)
        self.bn_s = nnx.BatchNorm(F1 * D, **bn)
        self.drop1 = nnx.Dropout(drop_cnn)
        self.conv_sep_d = DepthwiseTemporalConv(F1 * D, self.k2, rngs=rngs)
        self.conv_sep_p = nnx.Linear(F1 * D, F2, use_bias=False, kernel_init=glorot, rngs=rngs)  # 1x1 conv
        self.bn_sep = nnx.BatchNorm(F2, **bn)
        self.drop2 = nnx.Dropout(drop_cnn)
        self.lstm = LSTM(F2, lstm_hidden, rngs=rngs)
        self.att_w = nnx.Param(glorot(rngs.params(), (lstm_hidden, att_dim)))
        self.att_b = nnx.Param(jnp.zeros((att_dim,)))
        self.att_v = nnx.Param(nnx.initializers.normal(1.0 / att_dim**0.5)(rngs.params(), (att_dim,)))
        self.drop_head = nnx.Dropout(drop_head)
        self.head = nnx.Linear(lstm_hidden, n_outputs, kernel_init=glorot, rngs=rngs)

    def __call__(
        self,
        x: jax.Array,
        *,
        train: bool = False,
        rngs: nnx.Rngs | None = None,
        return_attention: bool = False,
    ):
        """Forward pass. x: (batch, n_chans, n_times) → logits (batch, n_outputs)."""
        det = not train
        h = temporal_spatial_rows(x, self.conv_t, self.bn_t, self.conv_s, train=train)[:, None]  # rows 1–2: (B, 1, T1, F1·D)
        h = jax.nn.elu(self.bn_s(h, use_running_average=det))
        h = self.drop1(nnx.avg_pool(h, (1, 4), strides=(1, 4)), deterministic=det, rngs=rngs)  # row 3
        h = self.conv_sep_p(self.conv_sep_d(h))
        h = jax.nn.elu(self.bn_sep(h, use_running_average=det))  # row 4
        h = self.drop2(nnx.avg_pool(h, (1, 4), strides=(1, 4)), deterministic=det, rngs=rngs)  # row 5
        seq = h[:, 0]  # row 6: (B, n_tokens, F2)
        hs = self.lstm(seq)  # row 7
        context, alpha = additive_attention(hs, self.att_w[...], self.att_b[...], self.att_v[...])  # row 8
        logits = self.head(self.drop_head(context, deterministic=det, rngs=rngs))  # row 9
        if return_attention:
            return logits, {"attention": alpha}
        return logits
