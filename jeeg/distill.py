"""Knowledge-distillation losses (MSC-T3AM's EEGNet teacher → student; architectures.md §1).

The fused teacher + student train steps (online and offline distillation as members) build on
:func:`kd_loss`; see the README's status of the MSC-T3AM issue.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jeeg.errors import ConfigError

REDUCTIONS = ("reference", "batchmean")


def kd_loss(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    labels: jax.Array,
    *,
    temperature: float = 1.5,
    kd_weight: float = 1.0,
    reduction: str = "reference",
    t_squared: bool = False,
) -> jax.Array:
    """Student loss ``CE(y, s) + kd_weight · KL(softmax(t/T) ‖ softmax(s/T))`` (Hinton et al. 2015).

    Parameters
    ----------
    student_logits, teacher_logits : Array, shape (batch, n_classes)
        The teacher's logits are wrapped in ``stop_gradient``: only the student learns from it.
    labels : Array int, shape (batch,)
    temperature : float
        Softening temperature T (MSC-T3AM: 1.5).
    kd_weight : float
        Weight of the distillation term; CE has weight 1 (MSC-T3AM: 1 : 1).
    reduction : {"reference", "batchmean"}
        ``"reference"``: PyTorch ``KLDivLoss(reduction='mean')`` as the MSC-T3AM code uses it, the
        sum of the element-wise terms divided by batch x n_classes (the batch-mean KL divided by
        n_classes). ``"batchmean"``: the batch-mean KL, the mathematically usual form.
    t_squared : bool
        Multiply the distillation term by T² (Hinton et al.'s gradient-scale correction; the
        reference code does not).

    Returns
    -------
    Array, scalar
        The mean loss over the batch.

    Raises
    ------
    ConfigError
        For an unknown ``reduction`` or a temperature ≤ 0.
    """
    if reduction not in REDUCTIONS:
        raise ConfigError(f"kd reduction must be one of {REDUCTIONS}; got {reduction!r}")
    if temperature <= 0:
        raise ConfigError(f"kd temperature must be > 0; got {temperature}")
    ce = optax.softmax_cross_entropy_with_integer_labels(student_logits, labels).mean()
    log_p_s = jax.nn.log_softmax(student_logits / temperature, axis=-1)
    log_p_t = jax.nn.log_softmax(jax.lax.stop_gradient(teacher_logits) / temperature, axis=-1)
    elementwise = jnp.exp(log_p_t) * (log_p_t - log_p_s)  # target · (log target − input)
    kl = elementwise.sum() / student_logits.shape[0]
    if reduction == "reference":
        kl = kl / student_logits.shape[-1]
    if t_squared:
        kl = kl * temperature**2
    return ce + kd_weight * kl
