"""Parity with a PyTorch U-Time: the twin's weights copied into jeeg's ``utime`` give the same logits,
and the same parameters and running statistics after one AdamW step.

U-Time: Perslev et al. 2019, arXiv 1910.11162, as modified by Joshi et al., arXiv 2112.07252
(github.com/acrophase/Sleep_Staging_KD, ``4_class/models/eeg_base.py``). The twin,
``benchmarks/peers/utime_peer.py``, is a plain ``torch.nn`` module with the reference code's
structure (Conv1d, BatchNorm1d, MaxPool1d, nn.Upsample(nearest), ReLU before BatchNorm);
``benchmarks/peers/utime_reference.py`` runs it in the PyTorch peers venv as a subprocess and
writes its weights (calibrated, perturbed BatchNorm statistics and random affines), eval-mode
logits, and its weights after one AdamW step on a batch. The peers venv's python is
``$JEEG_PEERS_PYTHON`` (``.ci/run`` sets ``JEEG_REQUIRE_PEERS=1``, so that a missing venv fails
CI instead of skipping).

What makes the comparison fair (each a documented difference, not a tolerance):

* Shapes: ``n_times`` a multiple of ``prod(pools)`` (the twin refuses others; jeeg pads them and
  masks the padding out of its BatchNorm statistics, which ``nn.BatchNorm1d`` cannot do).
* Where jeeg generalises the reference (kernel ``dilation·(kernel−1)`` odd: the extra 'same'
  padding zero at the end; decoder block input width ``2·filters[level]``), the twin does as
  jeeg; the second case exercises both (kernel 4 × dilation 3, filters that do not double).
* The step runs in float64 on both sides (PyTorch ``model.double()``; jeeg's same step under
  ``jax.enable_x64``, the ported variables float64). In float32 the gradients of this network at
  a random initialisation are themselves uncertain: against float64, PyTorch's are off by ~3e-3
  and jeeg's by ~1e-2 (relative L2 per tensor, default network at 1 × 480), and Adam's first
  step, ≈ ±lr wherever |gradient| ≫ eps, turns the rounding of a near-zero gradient into a full
  step of either sign (seen: one bottom bias, gradient 1.6e-5 against −5e-6, 2e-3 apart). In
  float64 both sides agree to ~1e-10. The eval logits are compared in float32, jeeg's dtype.
* The running variance: PyTorch blends in the *unbiased* batch variance, Flax the biased one, so
  jeeg's new running variance is PyTorch's minus ``0.1 · var_unbiased / n`` (n = batch × length
  values per feature map at that BatchNorm's level); the test checks exactly that.
* Max-pooling ties (a window of ReLU zeros, which BatchNorm maps to equal values): PyTorch sends
  the gradient to one of the tied positions; how jeeg splits it does not matter, as ReLU
  discards the gradient of every zero and the BatchNorm sums over the tied positions are the same.

The step is jeeg's own (:meth:`jeeg.engine.loop.CompiledLoop._train_step_one`: cross-entropy,
optax AdamW, jitted), with a constant learning rate. This test found that jeeg's U-Time
gradients were wrong under jit: max pooling written as ``reshape(B, L // p, p, C).max(2)`` made
XLA's algebraic simplifier (jax 0.10.2, CPU) return encoder weight gradients off by 20-60 % (at
1 × 480 and 1 × 6000, default network; right eagerly or with ``XLA_FLAGS=
--xla_disable_hlo_passes=algsimp``); ``jeeg/models/utime.py`` now pools with
``lax.reduce_window``. Measured (2026-11-30, torch 2.13 CPU, 2 cores): float32 logits within
3.5e-6 (default network) and 2.1e-7 (small one); after the float64 step, loss, parameters and
running statistics within 1.2e-10 and 4e-15 (the step moves the weights by ~1e-3; the weight
decay alone moves a BatchNorm scale of ~1 by 5e-4).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.engine.loop import CompiledLoop, MemberState, TrainConfig
from jeeg.models import build_model

from conftest import peers_python

REPO = Path(__file__).resolve().parents[1]
LR, WD = 1e-3, 0.5  # decay moves a weight of 1 by lr·wd = 5e-4, above the 1e-4 tolerance
BATCH, CLASSES = 4, 5


def _blocks(model, n_times: int) -> list[tuple[object, str, int]]:
    """(jeeg ConvBNReLU, twin module prefix, positions per feature map at its level) for every block."""
    pools, depth = model.pools, len(model.pools)
    out = []
    for k in range(depth):
        length = n_times // math.prod(pools[:k])
        out += [(model.enc[k][i], f"encoder.blocks.{k}.{i}", length) for i in range(2)]
    out += [(model.bottom[i], f"encoder.bottom.{i}", n_times // math.prod(pools)) for i in range(2)]
    for j in range(depth):
        length = n_times // math.prod(pools[: depth - 1 - j])
        out.append((model.up[j], f"decoder.upsamples.{j}.1", length))
        out += [(model.dec[j][i], f"decoder.blocks.{j}.{i}", length) for i in range(2)]
    return out


def _port(model, s: dict, n_times: int) -> None:
    """Copy a twin state dict (name → array) into jeeg's U-Time, in place, in the model's float dtype
    (float64 under ``jax.enable_x64``)."""
    dtype = jnp.asarray(0.0).dtype

    def put(var, a):
        var.set_value(jnp.asarray(a, dtype))

    for block, name, _ in _blocks(model, n_times):
        # Conv1d weight (out, in, kernel) → (kernel, in, out).
        put(block.kernel, s[f"{name}.layers.1.weight"].transpose(2, 1, 0))
        put(block.bias, s[f"{name}.layers.1.bias"])
        put(block.bn.scale, s[f"{name}.layers.3.weight"])
        put(block.bn.bias, s[f"{name}.layers.3.bias"])
        put(block.bn.mean, s[f"{name}.layers.3.running_mean"])
        put(block.bn.var, s[f"{name}.layers.3.running_var"])
    # Conv1d(in, out, 1) weight (out, in, 1) → (in, out).
    put(model.dense_kernel, s["dense.0.weight"][:, :, 0].T)
    put(model.dense_bias, s["dense.0.bias"])
    put(model.cls_kernel, s["segment_classifier.weight"][:, :, 0].T)
    put(model.cls_bias, s["segment_classifier.bias"])


def _export(model, n_times: int) -> dict:
    """jeeg's U-Time as a twin state dict (the inverse of :func:`_port`; no ``num_batches_tracked``)."""
    out = {}
    for block, name, _ in _blocks(model, n_times):
        out[f"{name}.layers.1.weight"] = np.asarray(block.kernel[...]).transpose(2, 1, 0)
        for suffix, var in (("layers.1.bias", block.bias), ("layers.3.weight", block.bn.scale),
                            ("layers.3.bias", block.bn.bias), ("layers.3.running_mean", block.bn.mean),
                            ("layers.3.running_var", block.bn.var)):
            out[f"{name}.{suffix}"] = np.asarray(var[...])
    out["dense.0.weight"] = np.asarray(model.dense_kernel[...]).T[:, :, None]
    out["dense.0.bias"] = np.asarray(model.dense_bias[...])
    out["segment_classifier.weight"] = np.asarray(model.cls_kernel[...]).T[:, :, None]
    out["segment_classifier.bias"] = np.asarray(model.cls_bias[...])
    return out


def _reference(tmp_path, times: int, kwargs: dict, seed: int) -> dict:
    ref = tmp_path / "utime.npz"
    subprocess.run([peers_python(), str(REPO / "benchmarks" / "peers" / "utime_reference.py"), "--out", str(ref),
                    "--chans", "1", "--times", str(times), "--classes", str(CLASSES), "--batch", str(BATCH),
                    "--kwargs", json.dumps(kwargs), "--lr", str(LR), "--weight-decay", str(WD),
                    "--threads", "2", "--seed", str(seed)],
                   check=True, capture_output=True, text=True)
    z = dict(np.load(ref))
    z.pop("meta")
    return z


def _part(z: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in z.items() if k.startswith(prefix)}


@pytest.mark.parametrize("times,kwargs", [
    (480, {}),  # the default network (filters 16..256, pools 3, 2, 2, 2, 2), 10 positions at the bottom
    (240, {"filters": [4, 6, 10], "pools": [2, 3, 2], "kernel_size": 4, "dilation": 3,
           "dec_kernel_size": 3, "dec_dilation": 2}),
])
def test_pytorch_twin_weights_logits_and_one_step(times, kwargs, tmp_path):
    z = _reference(tmp_path, times, kwargs, seed=times)
    init = _part(z, "init/")

    # Eval mode, float32: the samples' logits differ, and jeeg reproduces them.
    # Abstract construction (initialising the default network eagerly took 4-7 s); _port sets every variable.
    model = nnx.eval_shape(lambda: build_model("utime", 1, CLASSES, times, 200.0, rngs=nnx.Rngs(0), **kwargs))
    assert model.padded_times == times  # no padding: the twin's shapes
    _port(model, init, times)
    assert all(isinstance(v, jax.Array) for v in jax.tree.leaves(nnx.state(model)))
    want = z["logits"]
    assert np.abs(want - want.mean(0)).max() > 1e-3
    logits = np.asarray(model(jnp.asarray(z["inputs"]), train=False))
    assert logits.shape == want.shape == (BATCH, CLASSES)
    np.testing.assert_allclose(logits, want, atol=1e-5, rtol=0)

    # One training step (train-mode BatchNorm, AdamW) with jeeg's engine step, in float64 (the same
    # model, its variables replaced by float64 ones).
    step = _part(z, "step/")
    assert step["dense.0.weight"].dtype == np.float64
    with jax.enable_x64(True):
        loop = CompiledLoop("utime", kwargs, 1, CLASSES, times, 200.0,
                            TrainConfig(lr=LR, weight_decay=WD, schedule="constant"),
                            batch_size=BATCH, n_train_pad=BATCH, n_eval_pad=BATCH)
        _port(model, init, times)
        _, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
        assert {v.dtype for v in jax.tree.leaves((params, stats))} == {np.dtype("float64")}
        state = MemberState(params, stats, loop._tx(LR, WD).init(params))
        new, loss, _ = jax.jit(loop._train_step_one)(state, jnp.asarray(z["train_x"], jnp.float64),
                                                     jnp.asarray(z["train_y"]), jax.random.key(1), LR, WD)
        np.testing.assert_allclose(float(loss), float(z["loss"]), atol=1e-10, rtol=0)
        got = _export(nnx.merge(loop.graphdef, new.params, new.batch_stats), times)
    stat_keys = {k for k in got if k.endswith(("running_mean", "running_var"))}
    assert got.keys() - stat_keys == {k for k in step if not k.endswith(("running_mean", "running_var", "tracked"))}
    moved = 0.0
    for k in sorted(got.keys() - stat_keys):
        np.testing.assert_allclose(got[k], step[k], atol=1e-9, rtol=0, err_msg=k)
        moved = max(moved, float(np.abs(step[k] - init[k]).max()))
    assert moved > 0.5 * LR  # the step moved the weights by about lr (Adam's first step)

    # Running statistics: the means match; the variances differ by PyTorch's unbiased correction.
    for _, name, length in _blocks(model, times):
        key = f"{name}.layers.3"
        np.testing.assert_allclose(got[f"{key}.running_mean"], step[f"{key}.running_mean"], atol=1e-9, rtol=0,
                                   err_msg=name)
        var_unbiased = (step[f"{key}.running_var"] - 0.9 * init[f"{key}.running_var"].astype(np.float64)) / 0.1
        n = BATCH * length
        np.testing.assert_allclose(got[f"{key}.running_var"], step[f"{key}.running_var"] - 0.1 * var_unbiased / n,
                                   atol=1e-9, rtol=0, err_msg=name)
