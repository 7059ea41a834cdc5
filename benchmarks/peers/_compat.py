"""Import shims shared by the scripts in benchmarks/peers (run inside the peers venv).

``torcheeg.models`` imports every model family eagerly, and its GNN family
(``torcheeg/models/gnn/rgnn.py``) does ``from torch_scatter import scatter_add``
at import time.  ``torch_scatter`` belongs to torcheeg's optional ``pyg`` extra, has
no PyPI wheels for torch 2.13 (it would have to be compiled from source), and
nothing here uses RGNN.  So, when it is missing, a stub module is registered whose
``scatter_add`` raises if it is ever called.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _install_torch_scatter_stub() -> bool:
    """Register a stub ``torch_scatter`` if the real one is absent; return True if stubbed."""
    if "torch_scatter" in sys.modules or importlib.util.find_spec("torch_scatter") is not None:
        return False

    stub = types.ModuleType("torch_scatter")

    def scatter_add(*args, **kwargs):  # pragma: no cover - only hit by RGNN
        raise NotImplementedError(
            "torch_scatter is stubbed in the jeeg peers venv (torcheeg's RGNN is unsupported here)"
        )

    stub.scatter_add = scatter_add
    stub.__jeeg_stub__ = True
    sys.modules["torch_scatter"] = stub
    return True


def import_torcheeg_models():
    """Return the ``torcheeg.models`` module, stubbing ``torch_scatter`` when needed."""
    stubbed = _install_torch_scatter_stub()
    import torcheeg.models as models

    models.__jeeg_torch_scatter_stubbed__ = stubbed
    return models
