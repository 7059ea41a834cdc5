"""PyTorch twin of jeeg's modified U-Time (runs inside the peers venv, not jeeg's).

U-Time: Perslev et al., "U-Time: a fully convolutional network for time series segmentation
applied to sleep staging", NeurIPS 2019, arXiv 1910.11162; as modified by Joshi et al., arXiv
2112.07252, whose code (github.com/acrophase/Sleep_Staging_KD, ``4_class/models/eeg_base.py``)
is what this file follows, module for module: ``ConvBNReLU`` (zero padding → Conv1d with bias →
ReLU → BatchNorm1d, in that order), an ``Encoder`` (two ConvBNReLU then MaxPool1d per level, a
two-ConvBNReLU bottom at twice the last width), a ``Decoder`` (per level: nn.Upsample(nearest)
→ ConvBNReLU, concatenation [skip, up] on the channel axis, two ConvBNReLU), a ``dense``
Conv1d(kernel 1) + Tanh, then the mean over each segment and a Conv1d(kernel 1) segment
classifier. Convolutions: ``xavier_uniform_`` weights, zero biases; BatchNorm1d: PyTorch's
defaults (momentum 0.1, eps 1e-5). There is no pytorch-lightning, no metric or data code.

At the sleep-staging shape (1 channel × 6000 samples = 30 s at 200 Hz, one segment) it is the
reference's network. Where jeeg (``jeeg/models/utime.py``) generalises the reference, the twin
does as jeeg, so that the two are the same function of the same weights:

* 'same' zero padding of ``dilation·(kernel−1)`` in total, the extra zero (when that is odd) at
  the end; the reference pads ``dilation·(kernel−1)//2`` on both sides (identical for odd kernels).
* The first decoder convolution of each level takes ``2·filters[level]`` channels, the width of
  ``concat[skip, up]``; the reference declares the previous level's width (identical whenever
  filters double per level, as by default).
* The encoder's bottom uses ``dec_kernel_size``/``dec_dilation`` (the reference: the encoder's
  kernel size and dilation 1 — the defaults, 5 and 1, are the same).

Unlike jeeg, the twin refuses a ``n_times`` that is not a multiple of ``prod(pools)`` (48 by
default): jeeg zero-pads such inputs and masks the padding out of the BatchNorm batch statistics,
which ``nn.BatchNorm1d`` cannot do.

Shapes: ``UTime(...)(x)`` with x (batch, n_chans, n_times) returns logits (batch, n_outputs),
or (batch, n_segments, n_outputs) when ``segment_samples`` < ``n_times``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class ConvBNReLU(nn.Module):
    """'same' zero padding → Conv1d (bias) → ReLU → BatchNorm1d; (batch, in, L) → (batch, out, L)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, dilation: int = 1):
        super().__init__()
        total = dilation * (kernel_size - 1)
        self.layers = nn.Sequential(
            nn.ConstantPad1d((total // 2, total - total // 2), 0.0),
            nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=True),
            nn.ReLU(),
            nn.BatchNorm1d(out_channels),
        )
        nn.init.xavier_uniform_(self.layers[1].weight)
        nn.init.zeros_(self.layers[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Encoder(nn.Module):
    """Per level: 2×ConvBNReLU → skip, MaxPool1d(pool); then the bottom, 2×ConvBNReLU to 2·filters[-1]."""

    def __init__(self, filters: Sequence[int], in_channels: int, pools: Sequence[int], kernel_size: int,
                 dilation: int, bottom_kernel_size: int, bottom_dilation: int):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(
            ConvBNReLU(in_channels if k == 0 else filters[k - 1], filters[k], kernel_size, dilation),
            ConvBNReLU(filters[k], filters[k], kernel_size, dilation),
        ) for k in range(len(filters))])
        self.maxpools = nn.ModuleList([nn.MaxPool1d(p) for p in pools])
        self.bottom = nn.Sequential(
            ConvBNReLU(filters[-1], 2 * filters[-1], bottom_kernel_size, bottom_dilation),
            ConvBNReLU(2 * filters[-1], 2 * filters[-1], bottom_kernel_size, bottom_dilation),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        shortcuts = []
        for block, maxpool in zip(self.blocks, self.maxpools):
            z = block(x)
            shortcuts.append(z)
            x = maxpool(z)
        return self.bottom(x), shortcuts


class Decoder(nn.Module):
    """Per level: Upsample(nearest) → ConvBNReLU, cat[skip, z], 2×ConvBNReLU (filters: coarse to fine)."""

    def __init__(self, filters: Sequence[int], upsample_kernels: Sequence[int], in_channels: int,
                 kernel_size: int, dilation: int):
        super().__init__()
        self.upsamples = nn.ModuleList([nn.Sequential(
            nn.Upsample(scale_factor=upsample_kernels[k], mode="nearest"),
            ConvBNReLU(in_channels if k == 0 else filters[k - 1], filters[k], kernel_size, dilation),
        ) for k in range(len(filters))])
        self.blocks = nn.ModuleList([nn.Sequential(
            ConvBNReLU(2 * filters[k], filters[k], kernel_size, dilation),
            ConvBNReLU(filters[k], filters[k], kernel_size, dilation),
        ) for k in range(len(filters))])

    def forward(self, z: torch.Tensor, shortcuts: list[torch.Tensor]) -> torch.Tensor:
        for upsample, block, shortcut in zip(self.upsamples, self.blocks, shortcuts[::-1]):
            z = upsample(z)
            z = torch.cat([shortcut, z], dim=1)
            z = block(z)
        return z


class UTime(nn.Module):
    """Modified U-Time (1-D); arguments as jeeg's ``jeeg.models.utime.UTime`` (without ``sfreq``/``rngs``).

    Parameters
    ----------
    n_chans, n_outputs, n_times : int
        Input channels, classes and samples per example.
    filters, pools : sequence of int
        Encoder widths and max-pooling factors per level ((16, 32, 64, 128, 256) and (3, 2, 2, 2, 2)).
    kernel_size, dilation : int
        Encoder convolutions (5, 2).
    dec_kernel_size, dec_dilation : int
        Bottom and decoder convolutions (5, 1).
    segment_samples : int or None
        Samples per classified segment; default ``n_times`` (one segment).

    Raises
    ------
    ValueError
        For mismatched ``filters``/``pools``, a ``n_times`` that is not a multiple of
        ``prod(pools)``, or a ``segment_samples`` that does not divide ``n_times``.
    """

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, *,
                 filters: Sequence[int] = (16, 32, 64, 128, 256), pools: Sequence[int] = (3, 2, 2, 2, 2),
                 kernel_size: int = 5, dilation: int = 2, dec_kernel_size: int = 5, dec_dilation: int = 1,
                 segment_samples: int | None = None):
        super().__init__()
        filters, pools = list(filters), list(pools)
        if len(filters) != len(pools):
            raise ValueError(f"UTime: {len(filters)} filters but {len(pools)} pools; give one pool per level")
        if n_times % math.prod(pools):
            raise ValueError(f"UTime twin: n_times={n_times} must be a multiple of prod(pools)={math.prod(pools)} "
                             "(jeeg pads other lengths and masks its BatchNorm statistics; the twin does not)")
        self.n_times = n_times
        self.segment_samples = n_times if segment_samples is None else int(segment_samples)
        if self.segment_samples < 1 or n_times % self.segment_samples:
            raise ValueError(f"UTime: segment_samples={segment_samples} must divide n_times={n_times}")
        self.encoder = Encoder(filters, n_chans, pools, kernel_size, dilation, dec_kernel_size, dec_dilation)
        self.decoder = Decoder(filters[::-1], pools[::-1], 2 * filters[-1], dec_kernel_size, dec_dilation)
        self.dense = nn.Sequential(nn.Conv1d(filters[0], n_outputs, kernel_size=1, bias=True), nn.Tanh())
        nn.init.xavier_uniform_(self.dense[0].weight)
        nn.init.zeros_(self.dense[0].bias)
        self.segment_classifier = nn.Conv1d(n_outputs, n_outputs, kernel_size=1)
        nn.init.xavier_uniform_(self.segment_classifier.weight)
        nn.init.zeros_(self.segment_classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.n_times:
            raise ValueError(f"UTime built for n_times={self.n_times}, got input of length {x.shape[-1]}")
        z, shortcuts = self.encoder(x)
        z = self.dense(self.decoder(z, shortcuts))  # (batch, n_outputs, n_times)
        z = z.unfold(-1, self.segment_samples, self.segment_samples).mean(dim=-1)  # (batch, n_outputs, n_segments)
        y = self.segment_classifier(z).transpose(1, 2)  # (batch, n_segments, n_outputs)
        return y[:, 0] if y.shape[1] == 1 else y
