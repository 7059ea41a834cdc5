"""The run layer: what turns a configuration and a dataset into model inputs, input maps and a
trainer, written once for every caller (``jeeg cv``, ``--final``, ``jeeg evaluate``, validation).

* :mod:`jeeg.run.setup` — :func:`~jeeg.run.setup.input_maps`, :func:`~jeeg.run.setup.model_inputs_for`
  and :func:`~jeeg.run.setup.build_trainer`.
"""

from jeeg.run.setup import build_trainer, input_maps, model_inputs_for

__all__ = ["build_trainer", "input_maps", "model_inputs_for"]
