"""Cross-subject alignment of EEG trials: Euclidean alignment and Riemannian re-centring.

Each subject's trials are whitened by a reference covariance of that subject,

.. math:: \\tilde X_i = \\bar R^{-1/2} X_i ,

so that every subject's trials are centred on the identity matrix and look alike to a model
trained on other subjects.

* ``"euclidean"`` — Euclidean alignment (EA): :math:`\\bar R` is the arithmetic mean of the
  subject's trial covariances, He H, Wu D (2020), "Transfer learning for brain-computer
  interfaces: a Euclidean space data alignment approach", IEEE Trans. Biomed. Eng. 67(2):399-410,
  doi:10.1109/TBME.2019.2913914, eqs. (4)-(5).
* ``"riemann"`` — Riemannian re-centring: :math:`\\bar R` is the Riemannian (affine-invariant)
  mean of the trial covariances, as in Zanini P, Congedo M, Jutten C, Said S, Berthoumieu Y (2018),
  "Transfer learning: a Riemannian geometry framework with applications to brain-computer
  interfaces", IEEE Trans. Biomed. Eng. 65(5):1107-1116, doi:10.1109/TBME.2017.2742541, sec. III-A;
  applied here to the signals, so that their covariances are re-centred at the identity.

What each step sees
-------------------
A subject's matrix is computed from **that subject's own trials of one task, without labels**
(:func:`align` takes no labels). Nothing is shared between subjects, so:

* in a cross-subject fold (``loso``, ``subject_group_kfold``) a training subject is aligned with
  its own trials, and a test subject with its own unlabelled trials: the test subject's trials
  are used transductively, as in He & Wu (2020); its labels never are;
* ``jeeg evaluate`` aligns each new subject with its own unlabelled trials in the same way;
* in a within-subject fold the matrix mixes the subject's training and test trials (unlabelled).

Covariances are pyriemann's sample covariance matrices :math:`X X^\top / n_{times}` (``estimator="scm", assume_centered=True``,
as in He & Wu's eq. (4)) and the means are pyriemann's ``mean_euclid`` and ``mean_riemann``
(pyriemann.readthedocs.io).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from jeeg.errors import DataError

#: Values of the ``alignment`` config key.
ALIGNMENTS = ("none", "euclidean", "riemann")


def reference_matrix(X: np.ndarray, method: str) -> np.ndarray:
    """The reference covariance :math:`\\bar R` of one subject's trials.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        The subject's trials (µV).
    method : {"euclidean", "riemann"}

    Returns
    -------
    ndarray, float64, shape (n_chans, n_chans)
        Symmetric positive-definite reference (µV²).

    Raises
    ------
    DataError
        Fewer than one trial, or trial covariances that are not positive definite (rank-deficient
        data, e.g. average-referenced or a flat channel: drop a channel with ``channels``).
    """
    from pyriemann.geometry.covariance import covariances
    from pyriemann.geometry.mean import mean_euclid, mean_riemann

    if method not in ("euclidean", "riemann"):
        raise DataError(f"alignment reference needs method 'euclidean' or 'riemann'; got {method!r}")
    X = np.asarray(X, np.float64)
    if X.ndim != 3 or X.shape[0] < 1:
        raise DataError(f"alignment needs trials of shape (n_trials, n_chans, n_times); got {X.shape}")
    C = covariances(X, estimator="scm", assume_centered=True)
    eig = np.linalg.eigvalsh(C)
    if np.any(eig[:, 0] <= 1e-10 * eig[:, -1]):
        raise DataError(
            f"alignment: {int(np.sum(eig[:, 0] <= 1e-10 * eig[:, -1]))} of {len(C)} trial covariances "
            f"({X.shape[1]} channels) are not positive definite; the data are rank-deficient (average "
            "reference, a flat or duplicated channel): drop a channel (config key channels)")
    return mean_euclid(C) if method == "euclidean" else mean_riemann(C)


def align(X: np.ndarray, groups: np.ndarray, method: str) -> np.ndarray:
    """Whiten each group's trials by the inverse square root of its reference covariance.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        Trials in µV.
    groups : ndarray, shape (n_trials,)
        The alignment unit of every trial (jeeg passes ``subject`` and ``task`` as one key): each
        unit's matrix is computed from that unit's trials alone. No labels are taken.
    method : {"none", "euclidean", "riemann"}

    Returns
    -------
    ndarray, float32, shape (n_trials, n_chans, n_times)
        Aligned trials (dimensionless: each unit's reference covariance becomes the identity).

    Raises
    ------
    DataError
        An unknown ``method``, mismatched shapes, or rank-deficient data (:func:`reference_matrix`).
    """
    from pyriemann.geometry.base import invsqrtm

    if method not in ALIGNMENTS:
        raise DataError(f"alignment must be one of {ALIGNMENTS}; got {method!r}")
    X = np.asarray(X)
    groups = np.asarray(groups)
    if groups.shape != X.shape[:1]:
        raise DataError(f"alignment: groups has shape {groups.shape}, trials {X.shape[:1]}")
    if method == "none":
        return X
    out = np.empty(X.shape, np.float32)
    for g in _unique(groups):
        idx = np.flatnonzero(groups == g)
        try:
            W = invsqrtm(reference_matrix(X[idx], method))
        except DataError as e:
            raise DataError(f"unit {g}: {e}") from None
        out[idx] = np.einsum("ij,njt->nit", W, X[idx].astype(np.float64)).astype(np.float32)
    return out


def _unique(groups: np.ndarray) -> list:
    return list(dict.fromkeys(groups.tolist()))


def align_dataset(ds, method: str):
    """:class:`~jeeg.data.EpochsDataset` with each (subject, task)'s trials aligned (:func:`align`).

    The labels ``ds.y`` are not read. ``ds.info["alignment"]`` records the method and its unit.

    Raises
    ------
    DataError
        From :func:`align`, naming the subject and task.
    """
    if method == "none":
        return ds
    units = np.array([f"subject {int(s)}, task {t}" for s, t in zip(ds.subject, ds.task)])
    X = align(ds.X, units, method)
    return replace(ds, X=X, info={**(ds.info or {}), "alignment": {"method": method, "unit": "subject x task",
                                                                   "labels_used": False}})


__all__ = ["ALIGNMENTS", "align", "align_dataset", "reference_matrix"]
