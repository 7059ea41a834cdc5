"""The run layer: what turns a configuration and a dataset into model inputs, input maps and a
trainer, written once for every caller (``jeeg cv``, ``--final``, ``jeeg evaluate``, validation).

* :mod:`jeeg.run.setup` — :func:`~jeeg.run.setup.input_maps`, :func:`~jeeg.run.setup.model_inputs_for`
  and :func:`~jeeg.run.setup.build_trainer`.
* :mod:`jeeg.run.crossval` — :func:`~jeeg.run.crossval.cross_validate`, ``jeeg cv`` on trials in
  memory (``mne.Epochs``, arrays).
* :mod:`jeeg.run.estimator` — :class:`~jeeg.run.estimator.EEGClassifier`, a scikit-learn classifier
  on arrays or ``mne.Epochs``.
"""

from importlib import import_module

from jeeg.run.setup import build_trainer, input_maps, model_inputs_for

#: Names loaded on first access (their modules import jeeg.cv and jeeg.validate, which import
#: jeeg.run.setup): name → module.
_LAZY = {"EEGClassifier": "jeeg.run.estimator", "cross_validate": "jeeg.run.crossval"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jeeg.run' has no attribute {name!r}")


__all__ = ["EEGClassifier", "cross_validate", "build_trainer", "input_maps", "model_inputs_for"]
