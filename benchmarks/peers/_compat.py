"""Import shims shared by the scripts in benchmarks/peers (run inside the peers venv, or on a GPU
machine with the wheels of benchmarks/device/wheels.txt beside its own torch).

``torcheeg.models`` imports every model family eagerly, and its GNN family
(``torcheeg/models/gnn/rgnn.py``) does ``from torch_scatter import scatter_add``
at import time.  ``torch_scatter`` belongs to torcheeg's optional ``pyg`` extra, has
no PyPI wheels for torch 2.13 (it would have to be compiled from source), and
nothing here uses RGNN.  So, when it is missing, a stub module is registered whose
``scatter_add`` raises if it is ever called.

Where even that import fails with ImportError (``torcheeg/__init__.py`` imports mne, and another
model family may need a package that a machine lacks), :func:`import_torcheeg_models` loads
TorchEEG's own, unmodified ``torcheeg/models/cnn/sst_emotion_net.py`` from the installed torcheeg
package by its file location, without executing ``torcheeg/__init__.py`` or any other torcheeg
module (that file imports only torch and the standard library).  The object returned says which
way was taken in ``__jeeg_import__``: ``"package"`` or ``"module file"``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

#: TorchEEG's source file of SSTEmotionNet, relative to the torcheeg package folder.
SST_EMOTION_NET_FILE = os.path.join("models", "cnn", "sst_emotion_net.py")
#: Name under which that file is registered in sys.modules when loaded by location (not a torcheeg.* name,
#: so that a later ``import torcheeg`` is not confused by a half-made package).
SST_MODULE_NAME = "_jeeg_torcheeg_sst_emotion_net"


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


def _load_sst_module_file() -> types.ModuleType:
    """TorchEEG's ``sst_emotion_net.py`` loaded from the installed package's folder, by location.

    ``importlib.util.find_spec("torcheeg")`` locates the top-level package without executing its
    ``__init__.py``.  Raises ImportError when torcheeg is not installed or lacks the file.
    """
    spec = importlib.util.find_spec("torcheeg")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("torcheeg is not installed (no package 'torcheeg' on sys.path)")
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, SST_EMOTION_NET_FILE)
        if os.path.isfile(path):
            break
    else:
        raise ImportError(f"torcheeg at {list(spec.submodule_search_locations)} has no {SST_EMOTION_NET_FILE}")
    if SST_MODULE_NAME in sys.modules:
        return sys.modules[SST_MODULE_NAME]
    file_spec = importlib.util.spec_from_file_location(SST_MODULE_NAME, path)
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[SST_MODULE_NAME] = module
    try:
        file_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[SST_MODULE_NAME]
        raise
    try:
        from importlib.metadata import version

        module.__version__ = version("torcheeg")
    except Exception:  # noqa: BLE001 - a version is only informative
        module.__version__ = "unknown"
    return module


def import_torcheeg_models():
    """An object with TorchEEG's ``SSTEmotionNet``: the ``torcheeg.models`` module, else (when that
    import fails with ImportError) TorchEEG's ``sst_emotion_net.py`` loaded by file location.

    Attributes set on it: ``__jeeg_import__`` (``"package"`` or ``"module file"``),
    ``__jeeg_torch_scatter_stubbed__`` and, for the module file, ``__jeeg_import_error__`` (why the
    package import failed).
    """
    stubbed = _install_torch_scatter_stub()
    try:
        import torcheeg.models as models
    except ImportError as exc:
        try:
            models = _load_sst_module_file()
        except ImportError as exc2:
            raise ImportError(f"{exc}; and loading TorchEEG's {SST_EMOTION_NET_FILE} directly failed: {exc2}") from exc
        models.__jeeg_import__ = "module file"
        models.__jeeg_import_error__ = f"{type(exc).__name__}: {exc}"
    else:
        models.__jeeg_import__ = "package"
    models.__jeeg_torch_scatter_stubbed__ = stubbed
    return models
