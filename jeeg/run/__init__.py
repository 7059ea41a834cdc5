"""The run layer: what turns a configuration and a dataset into model inputs, input maps and a
trainer, written once for every caller (``jeeg cv``, ``--final``, ``jeeg evaluate``, validation).

* :mod:`jeeg.run.setup` — :func:`~jeeg.run.setup.input_maps`, :func:`~jeeg.run.setup.model_inputs_for`
  and :func:`~jeeg.run.setup.build_trainer`.
* :mod:`jeeg.run.crossval` — :func:`~jeeg.run.crossval.cross_validate`, ``jeeg cv`` on trials in
  memory (``mne.Epochs``, arrays).
* :mod:`jeeg.run.estimator` — :class:`~jeeg.run.estimator.EEGClassifier`, a scikit-learn classifier
  on arrays or ``mne.Epochs``.
"""

from jeeg.run.crossval import cross_validate
from jeeg.run.estimator import EEGClassifier
from jeeg.run.setup import build_trainer, input_maps, model_inputs_for

__all__ = ["EEGClassifier", "cross_validate", "build_trainer", "input_maps", "model_inputs_for"]
