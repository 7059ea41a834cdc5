#!/usr/bin/env python3
"""Write a U-Time parity reference (the PyTorch twin's weights, eval logits, one AdamW step) to .npz.

Runs inside the peers venv (see setup_env.sh), not in jeeg's environment:

    PY=$(benchmarks/peers/setup_env.sh | tail -n 1)
    "$PY" benchmarks/peers/utime_reference.py --out /tmp/utime_ref.npz --times 480

The model is ``utime_peer.UTime(n_chans=C, n_outputs=K, n_times=T, **kwargs)`` (this directory's
PyTorch twin of jeeg's U-Time, Perslev et al. 2019 arXiv 1910.11162 as modified by Joshi et al.,
arXiv 2112.07252), built under ``torch.manual_seed(seed)``; ``--kwargs`` is a JSON object of the
other constructor arguments (filters, pools, kernel_size, dilation, dec_kernel_size,
dec_dilation).

Every BatchNorm is then given statistics that make the eval-mode logits depend on them: the
running statistics are set to the exact batch statistics of one train-mode pass over a random
calibration batch (``momentum=None`` for that pass, under ``torch.no_grad()``), then perturbed
(``running_mean += N(0, 0.1²)·sqrt(running_var)``, ``running_var *= U(0.5, 1.5)``); the affine
gets weight ~ U(0.5, 1.5) and bias ~ N(0, 0.1²). (Plain random running statistics would squash
the small activations deep in a freshly initialised net; see README, the SSTEmotionNet file.)

Then:

1. eval mode, ``torch.no_grad()``: logits of ``inputs`` (batch, C, T) ~ N(0, 1).
2. train mode, in ``--step-dtype`` (default float64: ``model.double()``, the inputs cast): one
   ``torch.optim.AdamW(lr, weight_decay, betas=(0.9, 0.999), eps=1e-8)`` step on
   the mean cross-entropy of ``train_x`` (batch, C, T) and labels ``train_y``. BatchNorm uses the
   batch statistics and updates its running statistics (momentum 0.1, *unbiased* batch variance,
   PyTorch's rule). Float64, because this network's float32 gradients at a random initialisation
   carry relative errors of ~3e-3 (PyTorch) to ~1e-2 (jeeg) against float64, and Adam's first
   step (update ≈ ±lr wherever |gradient| ≫ eps) turns a near-zero gradient's rounding into a
   full ±lr step of either sign; in float64 both sides agree to ~1e-12.

Output keys (float32 unless noted): ``init/<name>`` and ``step/<name>`` (every ``state_dict()``
entry before and after the step, ``step/`` and ``loss`` in the step's dtype; ``num_batches_tracked``
as a float), ``grad/<name>`` (the step's gradients), ``inputs``, ``logits``,
``train_x``, ``train_y`` (int64), ``loss`` (the step's loss), ``meta`` (0-d JSON string:
versions and arguments). Random streams: model init ``seed``, BatchNorm randomisation
``seed + 1``, inputs and labels ``seed + 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from utime_peer import UTime  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output .npz path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chans", type=int, default=1)
    p.add_argument("--times", type=int, default=480)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--calib-batch", type=int, default=8)
    p.add_argument("--kwargs", default="{}", help="JSON object of further UTime constructor arguments")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--step-dtype", choices=("float32", "float64"), default="float64")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N)")
    return p.parse_args(argv)


def state(model: torch.nn.Module, prefix: str, dtype: str) -> dict:
    return {f"{prefix}/{k}": v.detach().cpu().numpy().astype(dtype) for k, v in model.state_dict().items()}


def randomise_batchnorms(model: torch.nn.Module, calib: torch.Tensor, g: torch.Generator) -> None:
    """Calibrated, perturbed running statistics and random affines for every BatchNorm1d (docstring)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: after one batch, exactly its statistics
        model.train()
        model(calib)
        for bn in bns:
            bn.momentum = 0.1
            n = bn.num_features
            bn.running_mean.add_(0.1 * torch.randn(n, generator=g) * bn.running_var.sqrt())
            bn.running_var.mul_(0.5 + torch.rand(n, generator=g))
            bn.weight.copy_(0.5 + torch.rand(n, generator=g))
            bn.bias.copy_(0.1 * torch.randn(n, generator=g))


def main(argv=None) -> None:
    a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    kwargs = json.loads(a.kwargs)
    torch.manual_seed(a.seed)
    model = UTime(n_chans=a.chans, n_outputs=a.classes, n_times=a.times, **kwargs)
    g = torch.Generator().manual_seed(a.seed + 1)
    randomise_batchnorms(model, torch.randn(a.calib_batch, a.chans, a.times, generator=g), g)
    gx = torch.Generator().manual_seed(a.seed + 2)
    inputs = torch.randn(a.batch, a.chans, a.times, generator=gx)
    train_x = torch.randn(a.batch, a.chans, a.times, generator=gx)
    train_y = torch.randint(0, a.classes, (a.batch,), generator=gx)

    model.eval()
    with torch.no_grad():
        logits = model(inputs)
    out = {**state(model, "init", "float32"), "inputs": inputs.numpy(), "logits": logits.numpy()}

    dtype = getattr(torch, a.step_dtype)
    model = model.to(dtype)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, 0.999), eps=1e-8)
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(train_x.to(dtype)), train_y)
    loss.backward()
    grads = {f"grad/{k}": p.grad.numpy().copy() for k, p in model.named_parameters()}
    opt.step()
    out.update(state(model, "step", a.step_dtype), **grads)
    out.update(train_x=train_x.numpy(), train_y=train_y.numpy().astype(np.int64), loss=np.array(loss.item(), dtype=a.step_dtype))
    meta = {"torch": torch.__version__, "args": vars(a), "kwargs": kwargs}
    np.savez(a.out, meta=np.array(json.dumps(meta)), **out)


if __name__ == "__main__":
    main()
