"""The compiled engine selects the same epochs and predicts the same classes as the host-loop
engine it replaced, on real folds of S001-S002 (``fixtures/engine_reference.json``, recorded at
commit 14c2420 by ``fixtures/record_engine_reference.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jeeg.data import load_eegmmidb, standardize_trials

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "engine_reference.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("model", ["stff_da", "eegnet"])
def test_compiled_engine_matches_the_host_loop_engine_on_real_folds(model, reference, eegmmidb_root,
                                                                   tmp_path_factory):
    import sys

    sys.path.insert(0, str(FIXTURES))
    from record_engine_reference import run

    ds = load_eegmmidb([1, 2], "left_right_imagined", data_dir=eegmmidb_root, cache_dir=tmp_path_factory.mktemp("c"))
    ref = reference["cases"][model]
    members, res = run(model, ds, standardize_trials(ds.X), ds.y, ref["config"])
    assert [m.test.tolist() for m in members] == ref["test"]  # the same real folds
    assert res.best_epoch.tolist() == ref["best_epoch"]
    assert res.stopped_epoch.tolist() == ref["stopped_epoch"]
    for k, logits in enumerate(res.test_logits):
        assert logits.argmax(-1).tolist() == ref["predictions"][k], k
        # Same trained network up to float32 rounding of a differently fused program.
        np.testing.assert_allclose(logits, ref["test_logits"][k], atol=1e-4)
