"""Parity with TorchEEG: TorchEEG ``SSTEmotionNet`` weights copied into jeeg's ``variant="torcheeg"``.

TorchEEG 1.1.3 pins scipy<=1.10.1, so it lives in a venv of its own (``benchmarks/peers``).
``benchmarks/peers/sst_reference.py`` runs there as a subprocess and writes the model's weights
(with calibrated, perturbed BatchNorm statistics), random inputs and eval-mode logits to a file;
this test loads the weights into jeeg and compares the logits. The peers venv's python is
``$JEEG_PEERS_PYTHON`` (``.ci/run`` builds it with ``benchmarks/peers/setup_env.sh`` and sets
``JEEG_REQUIRE_PEERS=1``, so that a missing venv fails CI instead of skipping).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from jeeg.models import build_model
from jeeg.models.sst_emotionnet import load_torcheeg_state_dict

from conftest import peers_python

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("grid", [16, 32])
def test_torcheeg_weights_give_torcheeg_logits(grid, tmp_path):
    ref = tmp_path / "sst.npz"
    subprocess.run([peers_python(), str(REPO / "benchmarks" / "peers" / "sst_reference.py"), "--out", str(ref),
                    "--grid", str(grid), "--batch", "4", "--threads", "2", "--seed", str(grid)],
                   check=True, capture_output=True, text=True)
    z = np.load(ref)
    meta = json.loads(str(z["meta"]))
    assert meta["torcheeg"] == "1.1.3"
    state = {k.removeprefix("state/"): z[k] for k in z.files if k.startswith("state/")}
    model = build_model("sst_emotionnet", 62, 3, 200, 200.0, rngs=nnx.Rngs(0), grid_shape=(grid, grid),
                        variant="torcheeg")
    load_torcheeg_state_dict(model, state)
    logits = np.asarray(model(z["inputs"], train=False))
    want = z["logits"]
    assert logits.shape == want.shape == (4, 3)
    # The samples' logits differ (BatchNorm statistics were calibrated, so the weights matter) ...
    assert np.abs(want - want.mean(0)).max() > 1e-3
    # ... and jeeg reproduces them.
    np.testing.assert_allclose(logits, want, atol=1e-4, rtol=0)
