#!/usr/bin/env python3
"""Write a TorchEEG SSTEmotionNet parity reference (weights, inputs, eval-mode logits) to .npz.

Runs inside the peers venv (see setup_env.sh), not in jeeg's environment:

    PY=$(benchmarks/peers/setup_env.sh | tail -n 1)
    "$PY" benchmarks/peers/sst_reference.py --out /tmp/sst_ref.npz

The model is ``torcheeg.models.SSTEmotionNet(grid_size=(g, g), num_classes=C)`` with every
other constructor argument at its default.  After construction (under
``torch.manual_seed(seed)``) the BatchNorm running statistics and affine parameters are
replaced (random affine params; running stats calibrated on a random batch and then
randomly perturbed -- see ``randomise_batchnorm``), so that a parity check exercises them
and the logits genuinely depend on the input.

Output keys (all float32 unless noted):

* ``state/<name>``  every ``state_dict()`` entry, in state_dict order (this includes the
  BatchNorm ``num_batches_tracked`` counters, stored as float32; they are unused in eval).
* ``inputs``        (batch, spectral_in_channels + temporal_in_channels, g, g), channels
  ``[:spectral_in_channels]`` are the spectral maps, the rest the temporal maps.
* ``logits``        (batch, num_classes), eval mode, ``torch.no_grad()``.
* ``debug/spectral_features`` / ``debug/temporal_features``  outputs of the two DenseNet3D
  streams (the vectors concatenated before the classifier head), to localise mismatches.
* ``meta``          0-d unicode array holding a JSON string (versions, constructor args,
  seed, the randomisation recipe, state key order).  Read it with ``json.loads(str(z["meta"]))``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _compat import import_torcheeg_models  # noqa: E402

# Offsets from --seed for the independent random streams (model init uses the seed itself).
BN_SEED_OFFSET = 1
INPUT_SEED_OFFSET = 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output .npz path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", type=int, default=32, help="grid size g (grid_size=(g, g)); must be >= 16")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--num-classes", type=int, default=3)
    p.add_argument("--calib-batch", type=int, default=16,
                   help="samples in the BatchNorm calibration pass (see randomise_batchnorm)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N)")
    p.add_argument("--list-keys", action="store_true", help="print state_dict name -> shape to stderr")
    args = p.parse_args(argv)
    if args.grid < 16:
        p.error("--grid must be >= 16 (SSTEmotionNet asserts this)")
    if args.batch < 1 or args.num_classes < 1 or args.calib_batch < 2:
        p.error("--batch and --num-classes must be >= 1, --calib-batch >= 2")
    return args


def randomise_batchnorm(model: torch.nn.Module, generator: torch.Generator,
                        calib_batch: int, input_shape) -> int:
    """Give every BatchNorm random affine params and realistic-but-perturbed running stats.

    Plain random running stats (e.g. running_var ~ U(0.5, 1.5)) are far larger than the
    variance of the activations a default-initialised SSTEmotionNet actually produces
    (down to ~1e-4 deep in the net), so every BatchNorm would squash its input to ~0,
    the logits would be set by the BN biases alone and would be (nearly) identical for
    every input: a weak parity check.  Instead:

    1. weight ~ U(0.5, 1.5), bias ~ N(0, 0.1);
    2. running stats = exact batch statistics of one train-mode forward pass over a
       calibration batch x_cal ~ N(0, 1) of ``calib_batch`` samples (momentum=None);
    3. running_mean += N(0, 0.1) * sqrt(running_var);  running_var *= U(0.5, 1.5).

    All draws come from ``generator`` in this order (affine for every BN in
    ``model.modules()`` order, then x_cal, then the perturbations in module order).
    Returns the number of BatchNorm modules.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for bn in bns:
            n = bn.num_features
            bn.weight.copy_(torch.rand(n, generator=generator) + 0.5)
            bn.bias.copy_(torch.randn(n, generator=generator) * 0.1)
        x_cal = torch.randn(calib_batch, *input_shape, generator=generator, dtype=torch.float32)
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: one pass stores the exact batch stats
        model.train()
        model(x_cal)
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
            n = bn.num_features
            bn.running_mean.add_(torch.randn(n, generator=generator) * 0.1 * bn.running_var.sqrt())
            bn.running_var.mul_(torch.rand(n, generator=generator) + 0.5)
    model.eval()
    return len(bns)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    models = import_torcheeg_models()
    import torcheeg

    SSTEmotionNet = models.SSTEmotionNet
    ctor_kwargs = {"grid_size": (args.grid, args.grid), "num_classes": args.num_classes}
    bound = inspect.signature(SSTEmotionNet.__init__).bind(None, **ctor_kwargs)
    bound.apply_defaults()
    resolved_args = {k: v for k, v in bound.arguments.items() if k != "self"}

    torch.manual_seed(args.seed)
    model = SSTEmotionNet(**ctor_kwargs)
    n_spec = resolved_args["spectral_in_channels"]
    n_temp = resolved_args["temporal_in_channels"]
    n_bn = randomise_batchnorm(model, torch.Generator().manual_seed(args.seed + BN_SEED_OFFSET),
                               args.calib_batch, (n_spec + n_temp, args.grid, args.grid))
    gen_in = torch.Generator().manual_seed(args.seed + INPUT_SEED_OFFSET)
    inputs = torch.randn(args.batch, n_spec + n_temp, args.grid, args.grid, generator=gen_in,
                         dtype=torch.float32)

    with torch.no_grad():
        logits = model(inputs)
        # Same slicing/permutation SSTEmotionNet.forward does, for per-stream debugging.
        spec_feat = model.spatial_spectral(inputs[:, :n_spec].permute(0, 2, 3, 1))
        temp_feat = model.spatial_temporal(inputs[:, n_spec:].permute(0, 2, 3, 1))

    state = model.state_dict()
    arrays = {f"state/{k}": v.detach().cpu().numpy().astype(np.float32) for k, v in state.items()}
    arrays["inputs"] = inputs.numpy().astype(np.float32)
    arrays["logits"] = logits.numpy().astype(np.float32)
    arrays["debug/spectral_features"] = spec_feat.numpy().astype(np.float32)
    arrays["debug/temporal_features"] = temp_feat.numpy().astype(np.float32)

    meta = {
        "model": "torcheeg.models.SSTEmotionNet",
        "torch": torch.__version__,
        "torcheeg": torcheeg.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "constructor_args": {k: list(v) if isinstance(v, tuple) else v for k, v in resolved_args.items()},
        "constructor_kwargs_passed": {k: list(v) if isinstance(v, tuple) else v
                                      for k, v in ctor_kwargs.items()},
        "seed": args.seed,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "input_layout": (f"(batch, {n_spec}+{n_temp}, H, W): channels [0:{n_spec}] spectral, "
                         f"[{n_spec}:{n_spec + n_temp}] temporal; forward() permutes each part to "
                         "(N, H, W, C) and unsqueezes to (N, 1, H, W, C) for Conv3d"),
        "batchnorm_randomisation": {
            "generator_seed": args.seed + BN_SEED_OFFSET,
            "weight": "U(0.5, 1.5)", "bias": "N(0, 0.1)",
            "running_stats": (f"exact batch stats of a train-mode pass over x_cal ~ N(0, 1) "
                              f"({args.calib_batch} samples), then running_mean += "
                              "N(0, 0.1) * sqrt(running_var), running_var *= U(0.5, 1.5)"),
            "calib_batch": args.calib_batch,
            "eps": "1.1e-5 in every SSTEmotionNet BatchNorm3d (not PyTorch's default 1e-5)",
            "modules": n_bn,
        },
        "inputs": {"distribution": "N(0, 1)", "generator_seed": args.seed + INPUT_SEED_OFFSET},
        "mode": "eval, torch.no_grad()",
        "torch_scatter_stubbed": bool(getattr(models, "__jeeg_torch_scatter_stubbed__", False)),
        "state_keys": list(state.keys()),
        "state_shapes": {k: list(v.shape) for k, v in state.items()},
    }
    arrays["meta"] = np.array(json.dumps(meta))

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    # Write atomically: a reader never sees a half-written file.
    tmp = args.out + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, args.out)

    if args.list_keys:
        for k, v in state.items():
            print(f"{k} -> {tuple(v.shape)}", file=sys.stderr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: {len(state)} state tensors ({n_params} params, {n_bn} BatchNorms), "
          f"inputs {tuple(inputs.shape)}, logits {tuple(logits.shape)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
