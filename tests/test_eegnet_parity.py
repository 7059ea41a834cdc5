"""Parity with braindecode: ``EEGNetv4`` weights copied into jeeg's ``eegnet`` (Lawhern et al. 2018,
doi 10.1088/1741-2552/aace8c), same logits and same parameters after one AdamW step.

braindecode lives in the PyTorch peers venv (``benchmarks/peers``);
``benchmarks/peers/eegnet_reference.py`` runs there as a subprocess and writes braindecode's
weights (randomised BatchNorm statistics and affines), eval-mode logits, and its weights after
one AdamW step on a batch. The peers venv's python is ``$JEEG_PEERS_PYTHON`` (``.ci/run`` sets
``JEEG_REQUIRE_PEERS=1``, so that a missing venv fails CI instead of skipping).

What makes the one-step comparison fair (each a documented difference, not a tolerance):

* jeeg's first BatchNorm has no affine parameters (``jeeg/models/eegnet.py``); braindecode's
  is frozen at its initial identity (``requires_grad_(False)``, out of the optimiser).
* Dropout is 0 on both sides (different random streams otherwise).
* braindecode applies max-norm at the start of each forward, jeeg right after each update;
  the reference applies braindecode's renorm to the stepped weights, as its next forward would.
* The running variance: PyTorch blends in the *unbiased* batch variance, Flax the biased one,
  so jeeg's new running variance is PyTorch's minus ``(1 - 0.99) · var_unbiased / n`` (n values
  per feature map); the test checks exactly that (here the correction is ~1e-6 of the variance,
  below the tolerance either way).

The step is jeeg's own (:meth:`jeeg.engine.loop.CompiledLoop._train_step_one`: cross-entropy,
optax AdamW, constraints), with a constant learning rate, in every formulation of rows 1–2
(``temporal_conv``: one convolution, shifted sums, or the default spatial-filters-first form).
Measured (2026-11-29, braindecode 0.8.1, torch 2.13 CPU): logits within 3e-7, parameters after
the step within 1.2e-7 (the step moves them by 1e-3 to 1.7e-3; without the weight decay
jeeg would be off by up to 7e-4), running statistics within 1.2e-7 after the variance correction.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jeeg.engine.loop import CompiledLoop, MemberState, TrainConfig

from conftest import peers_python

REPO = Path(__file__).resolve().parents[1]
LR, WD = 1e-3, 0.5  # decay moves a weight of 1 by lr·wd = 5e-4, above the 1e-4 tolerance


def _port(model, s: dict) -> None:
    """Copy a braindecode ``EEGNetv4`` state dict (name → array) into jeeg's model, in place."""
    F1 = s["conv_temporal.weight"].shape[0]
    FD, _, C, _ = s["conv_spatial.weight"].shape
    # bnorm_temporal's affine must be the identity that jeeg's affine-free BatchNorm is.
    np.testing.assert_array_equal(s["bnorm_temporal.weight"], 1.0)
    np.testing.assert_array_equal(s["bnorm_temporal.bias"], 0.0)
    # Conv2d(1, F1, (1, K)) weight (F1, 1, 1, K) → (K, 1, F1).
    model.conv_t.kernel[...] = jnp.asarray(s["conv_temporal.weight"][:, 0, 0, :].T[:, None, :])
    # Grouped Conv2d(F1, F1·D, (C, 1)) weight (F1·D, 1, C, 1), output map f·D + d → (C, F1, D).
    model.conv_s.kernel[...] = jnp.asarray(s["conv_spatial.weight"][:, 0, :, 0].reshape(F1, FD // F1, C).transpose(2, 0, 1))
    # Depthwise Conv2d (F, 1, 1, K) → (K, F); pointwise (F2, F, 1, 1) → Linear (F, F2).
    model.conv_sep_d.kernel[...] = jnp.asarray(s["conv_separable_depth.weight"][:, 0, 0, :].T)
    model.conv_sep_p.kernel[...] = jnp.asarray(s["conv_separable_point.weight"][:, :, 0, 0].T)
    # Classifier Conv2d(F2, K, (1, n_final)) weight (K, F2, 1, n_final) → (n_final·F2, K), row t·F2 + f.
    w = s["final_layer.conv_classifier.weight"][:, :, 0, :]
    model.cls_kernel[...] = jnp.asarray(w.transpose(2, 1, 0).reshape(-1, w.shape[0]))
    model.cls_bias[...] = jnp.asarray(s["final_layer.conv_classifier.bias"])
    for jname, tname in (("bn_t", "bnorm_temporal"), ("bn_s", "bnorm_1"), ("bn_sep", "bnorm_2")):
        bn = getattr(model, jname)
        bn.mean[...] = jnp.asarray(s[f"{tname}.running_mean"])
        bn.var[...] = jnp.asarray(s[f"{tname}.running_var"])
        if bn.scale is not None:
            bn.scale[...] = jnp.asarray(s[f"{tname}.weight"])
            bn.bias[...] = jnp.asarray(s[f"{tname}.bias"])


def _reference(tmp_path, chans, times) -> tuple[dict, dict]:
    ref = tmp_path / "eegnet.npz"
    subprocess.run([peers_python(), str(REPO / "benchmarks" / "peers" / "eegnet_reference.py"), "--out", str(ref),
                    "--chans", str(chans), "--times", str(times), "--classes", "4", "--batch", "8",
                    "--lr", str(LR), "--weight-decay", str(WD), "--threads", "2", "--seed", str(chans)],
                   check=True, capture_output=True, text=True)
    z = dict(np.load(ref))
    meta = json.loads(str(z.pop("meta")))
    assert meta["braindecode"] == "0.8.1"
    return z, meta


def _part(z: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in z.items() if k.startswith(prefix)}


@pytest.mark.parametrize("chans,times,sfreq,temporal_conv", [(8, 256, 128.0, "shifted"), (8, 256, 128.0, "factored"),
                                                              (64, 640, 160.0, "conv"), (64, 640, 160.0, "factored")])
def test_braindecode_weights_logits_and_one_step(chans, times, sfreq, temporal_conv, tmp_path):
    z, meta = _reference(tmp_path, chans, times)
    loop = CompiledLoop("eegnet", {"drop": 0.0, "temporal_conv": temporal_conv}, chans, 4, times, sfreq,
                        TrainConfig(lr=LR, weight_decay=WD, schedule="constant"),
                        batch_size=8, n_train_pad=8, n_eval_pad=8)
    model = loop._make(jax.random.key(0))
    assert model.n_final == meta["n_final"]
    init = _part(z, "init/")
    _port(model, init)

    # Eval mode: the samples' logits differ, and jeeg reproduces them.
    want = z["logits"]
    assert np.abs(want - want.mean(0)).max() > 1e-3
    logits = np.asarray(model(jnp.asarray(z["inputs"]), train=False))
    assert logits.shape == want.shape == (8, 4)
    np.testing.assert_allclose(logits, want, atol=1e-5, rtol=0)

    # One training step (train-mode BatchNorm, AdamW, max-norm) with jeeg's engine step.
    _, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    state = MemberState(params, stats, loop._tx(LR, WD).init(params))
    new, loss, _ = jax.jit(loop._train_step_one)(state, jnp.asarray(z["train_x"]), jnp.asarray(z["train_y"]),
                                                 jax.random.key(1), LR, WD)
    np.testing.assert_allclose(float(loss), float(z["loss"]), atol=1e-5, rtol=0)
    stepped = nnx.merge(loop.graphdef, new.params, new.batch_stats)
    got = loop._make(jax.random.key(2))  # any weights: overwritten below
    step = _part(z, "step/")
    _port(got, step)
    moved = 0.0
    for path, v in nnx.to_flat_state(nnx.state(stepped, nnx.Param)):
        want_p = np.asarray(dict(nnx.to_flat_state(nnx.state(got, nnx.Param)))[path][...])
        np.testing.assert_allclose(np.asarray(v[...]), want_p, atol=1e-4, rtol=0, err_msg=str(path))
        moved = max(moved, float(np.abs(want_p - np.asarray(
            dict(nnx.to_flat_state(nnx.state(model, nnx.Param)))[path][...])).max()))
    assert moved > 0.5 * LR  # the step moved the weights by about lr (Adam's first step)

    # Running statistics: the means match; the variances differ by PyTorch's unbiased correction.
    bn_n = {"bn_t": 8 * chans * model.shapes["temporal"], "bn_s": 8 * model.shapes["temporal"],
            "bn_sep": 8 * model.shapes["separable"]}
    for jname, tname in (("bn_t", "bnorm_temporal"), ("bn_s", "bnorm_1"), ("bn_sep", "bnorm_2")):
        bn = getattr(stepped, jname)
        np.testing.assert_allclose(np.asarray(bn.mean[...]), step[f"{tname}.running_mean"], atol=1e-5, rtol=0)
        var_unbiased = (step[f"{tname}.running_var"] - 0.99 * init[f"{tname}.running_var"]) / 0.01
        n = bn_n[jname]
        np.testing.assert_allclose(np.asarray(bn.var[...]), step[f"{tname}.running_var"] - 0.01 * var_unbiased / n,
                                   atol=1e-5, rtol=0)
