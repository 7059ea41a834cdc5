"""Model registry: drives CLI choices, docs and the parametrised "every model" tests.

Every model follows braindecode's constructor signature
``Model(n_chans, n_outputs, n_times, sfreq, *, rngs, **hyper_params)`` and is called as
``model(x, train=bool, rngs=nnx.Rngs | None, return_attention=bool)`` with ``x`` of shape
(batch, n_chans, n_times).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flax import nnx

from jeeg.errors import ConfigError
from jeeg.models.eegnet import EEGNetV4
from jeeg.models.layers import apply_constraints
from jeeg.models.msc_t3am import MSCT3AM
from jeeg.models.sst_emotionnet import SSTEmotionNet
from jeeg.models.stff_da import STFFDA
from jeeg.models.utime import UTime


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its class, display name and source."""

    cls: Callable[..., nnx.Module]
    display_name: str
    reference: str


REGISTRY: dict[str, ModelSpec] = {
    "stff_da": ModelSpec(
        STFFDA,
        "STFF-DA",
        "CNN→LSTM→additive attention; no public code: defaults are jeeg's own, after EEGNet (Lawhern et al. 2018, "
        "doi 10.1088/1741-2552/aace8c) and ACRNN (Tao et al. 2020, doi 10.1109/TAFFC.2020.3025777)",
    ),
    "eegnet": ModelSpec(
        EEGNetV4,
        "EEGNet-v4",
        "Lawhern et al. 2018, doi 10.1088/1741-2552/aace8c; braindecode EEGNetv4 defaults",
    ),
    "msc_t3am": ModelSpec(
        MSCT3AM,
        "MSC-T3AM",
        "Yan, Wang & Li 2025, doi 10.1016/j.neunet.2025.107806; github.com/BICN001/MSC-T3AM",
    ),
    "sst_emotionnet": ModelSpec(
        SSTEmotionNet,
        "SST-EmotionNet",
        "Jia et al. 2020, doi 10.1145/3394171.3413724; official Keras model github.com/ziyujia/SST-EmotionNet "
        "(variant='torcheeg': TorchEEG's port)",
    ),
    "utime": ModelSpec(
        UTime,
        "U-Time (1-D)",
        "Perslev et al. 2019, arXiv 1910.11162; modified as Joshi et al. 2021, arXiv 2112.07252 "
        "(github.com/acrophase/Sleep_Staging_KD)",
    ),
}


def get_model_spec(name: str) -> ModelSpec:
    """Look up a model by registry name; raises ConfigError listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}") from None


def build_model(
    name: str, n_chans: int, n_outputs: int, n_times: int, sfreq: float, *, rngs: nnx.Rngs, **kwargs
) -> nnx.Module:
    """Instantiate a registered model with its weight constraints already applied.

    Raises
    ------
    ConfigError
        For an unknown model name or a hyper-parameter the model does not accept.
    """
    spec = get_model_spec(name)
    try:
        model = spec.cls(n_chans, n_outputs, n_times, sfreq, rngs=rngs, **kwargs)
    except TypeError as e:
        raise ConfigError(f"bad hyper-parameters for model {name!r} ({kwargs}): {e}") from None
    apply_constraints(model)
    return model


__all__ = ["MSCT3AM", "REGISTRY", "STFFDA", "EEGNetV4", "ModelSpec", "UTime", "apply_constraints", "build_model", "get_model_spec"]
