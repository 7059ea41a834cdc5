"""Attention cores, one function per kind, each an XLA reference implementation.

Faster paths (cuDNN, Pallas) will be opt-in and carry an equivalence test against these
(conventions §2). Every function is written for a single example or a batch with leading
axes; callers ``vmap`` over members.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def additive_attention(
    h: jax.Array,
    w: jax.Array,
    b: jax.Array,
    v: jax.Array,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Additive (Bahdanau-style) attention pooling over time.

    ``u_t = tanh(W h_t + b)``, ``e_t = vᵀ u_t``, ``α = softmax_t(e)``, ``c = Σ_t α_t h_t``.

    Parameters
    ----------
    h : Array, shape (..., n_steps, d_hidden)
        Sequence of hidden states (e.g. LSTM outputs).
    w : Array, shape (d_hidden, d_att)
        Projection weights.
    b : Array, shape (d_att,)
        Projection bias.
    v : Array, shape (d_att,)
        Scoring vector.
    mask : Array of bool, shape (..., n_steps), optional
        False marks padded steps, which get zero weight.

    Returns
    -------
    context : Array, shape (..., d_hidden)
        Attention-weighted sum of ``h``.
    alpha : Array, shape (..., n_steps)
        Attention weights over steps; each row sums to 1.

    References
    ----------
    Bahdanau, Cho & Bengio, "Neural machine translation by jointly learning to align and
    translate", ICLR 2015, arXiv 1409.0473, eq. 6; the pooling form used in STFF-DA-like
    CNN-LSTM-attention decoders (Tao et al., IEEE Trans. Affective Comput. 2020,
    doi 10.1109/TAFFC.2020.3025777; STFF-DA's row 8, :mod:`jeeg.models.stff_da`).
    """
    u = jnp.tanh(h @ w + b)
    e = u @ v
    if mask is not None:
        e = jnp.where(mask, e, -jnp.inf)
    alpha = jax.nn.softmax(e, axis=-1)
    context = jnp.einsum("...t,...td->...d", alpha, h)
    return context, alpha
