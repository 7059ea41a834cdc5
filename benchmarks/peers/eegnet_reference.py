#!/usr/bin/env python3
"""Write a braindecode ``EEGNetv4`` parity reference (weights, eval logits, one AdamW step) to .npz.

Runs inside the peers venv (see setup_env.sh), not in jeeg's environment:

    PY=$(benchmarks/peers/setup_env.sh | tail -n 1)
    "$PY" benchmarks/peers/eegnet_reference.py --out /tmp/eegnet_ref.npz --chans 8 --times 256

The model is ``braindecode.models.EEGNetv4(n_chans=C, n_outputs=K, n_times=T,
final_conv_length="auto", drop_prob=0.0)``, built under ``torch.manual_seed(seed)``; every other
argument is braindecode's default (Lawhern et al. 2018, doi 10.1088/1741-2552/aace8c). Dropout
is off so that one training step is deterministic on both sides.
After construction, the BatchNorm running statistics of all three BatchNorms and the affine
parameters of ``bnorm_1`` and ``bnorm_2`` are randomised (running mean ~ N(0, 0.1²), running
var ~ U(0.5, 1.5), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1²)), so that the eval-mode logits
exercise them. ``bnorm_temporal``'s affine stays at its initial identity (weight 1, bias 0):
jeeg's EEGNet has no affine there (see ``jeeg/models/eegnet.py``).

Then:

1. eval mode, ``torch.no_grad()``: logits of ``inputs`` (batch, C, T) ~ N(0, 1). This forward
   also applies braindecode's max-norm (``Conv2dWithConstraint`` renorms ``conv_spatial.weight``
   in place at the start of every forward), so the dumped ``init/`` weights are the constrained ones.
2. train mode, ``bnorm_temporal.weight``/``.bias`` frozen (``requires_grad_(False)``, excluded
   from the optimiser): one ``torch.optim.AdamW(lr, weight_decay, betas=(0.9, 0.999), eps=1e-8)``
   step on the mean cross-entropy of ``train_x`` (batch, C, T) and labels ``train_y``. BatchNorm
   uses the batch statistics and updates its running statistics (momentum 0.01, *unbiased*
   batch variance, PyTorch's rule). braindecode applies max-norm only at the start of the next
   forward; the dumped ``step/`` weights have it applied (``torch.renorm(w, 2, 0, 1)``), as that
   forward would, which is where jeeg applies it (right after the update).

Output keys (float32 unless noted): ``init/<name>`` and ``step/<name>`` (every ``state_dict()``
entry before and after the step; ``num_batches_tracked`` as float32), ``inputs``, ``logits``,
``train_x``, ``train_y`` (int64), ``loss`` (the step's loss), ``meta`` (0-d JSON string:
versions and arguments).
"""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version

import numpy as np
import torch
from braindecode.models import EEGNetv4


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output .npz path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chans", type=int, default=8)
    p.add_argument("--times", type=int, default=256)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N)")
    return p.parse_args(argv)


def state(model: torch.nn.Module, prefix: str) -> dict:
    return {f"{prefix}/{k}": v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}


def main(argv=None) -> None:
    a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = EEGNetv4(n_chans=a.chans, n_outputs=a.classes, n_times=a.times, final_conv_length="auto", drop_prob=0.0)
    g = torch.Generator().manual_seed(a.seed + 1)
    with torch.no_grad():
        for name in ("bnorm_temporal", "bnorm_1", "bnorm_2"):
            bn = getattr(model, name)
            bn.running_mean.copy_(0.1 * torch.randn(bn.num_features, generator=g))
            bn.running_var.copy_(0.5 + torch.rand(bn.num_features, generator=g))
            if name != "bnorm_temporal":
                bn.weight.copy_(0.5 + torch.rand(bn.num_features, generator=g))
                bn.bias.copy_(0.1 * torch.randn(bn.num_features, generator=g))
    gx = torch.Generator().manual_seed(a.seed + 2)
    inputs = torch.randn(a.batch, a.chans, a.times, generator=gx)
    train_x = torch.randn(a.batch, a.chans, a.times, generator=gx)
    train_y = torch.randint(0, a.classes, (a.batch,), generator=gx)

    model.eval()
    with torch.no_grad():
        logits = model(inputs)
    out = {**state(model, "init"), "inputs": inputs.numpy(), "logits": logits.numpy()}

    model.train()
    model.bnorm_temporal.weight.requires_grad_(False)
    model.bnorm_temporal.bias.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr,
                            weight_decay=a.weight_decay, betas=(0.9, 0.999), eps=1e-8)
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(train_x), train_y)
    loss.backward()
    opt.step()
    with torch.no_grad():  # braindecode's max-norm, as the next forward applies it
        w = model.conv_spatial
        w.weight.data = torch.renorm(w.weight.data, p=2, dim=0, maxnorm=w.max_norm)
    out.update(state(model, "step"))
    out.update(train_x=train_x.numpy(), train_y=train_y.numpy().astype(np.int64), loss=np.float32(loss.item()))
    meta = {"braindecode": version("braindecode"), "torch": torch.__version__, "args": vars(a),
            "n_final": int(model.final_layer.conv_classifier.weight.shape[-1])}
    np.savez(a.out, meta=np.array(json.dumps(meta)), **out)


if __name__ == "__main__":
    main()
