"""Independent QuTiP model of phase-matching QKD: the parity projection of the source-replacement state.

Shares no code with :mod:`qkdsym.protocols.tf_qkd` or the symbolic engine.  The kept round is modelled as

    |Psi(delta)> = 1/2 sum_{kappa_a, kappa_b} |kappa_a kappa_b>_{AB} (x) |(-1)^kappa_a alpha>_a
                                                                   (x) |(-1)^kappa_b alpha e^{i delta}>_b

with ``alpha = sqrt(mu/2)`` (``qutip.coherent(..., method='analytic')``, truncated Fock space of dimension
``cutoff`` per mode).  Channel and station: both modes lose photons with transmittance ``eta`` and meet on
the 50:50 beam splitter ``exp(pi/4 (a^dag b - a b^dag))`` (``qutip.destroy``, ``Qobj.expm``); two threshold
detectors with dark-count probability ``p_d``.  Loss of equal transmittance commutes with the beam
splitter, so the POVM element "only port P clicks" is, on the input modes,

    U^dag [(1 - (1-p_d)(1-eta)^{n_P}) (x) (1-p_d)(1-eta)^{n_P'}] U,

exact on every block of total photon number < cutoff (the beam splitter conserves it).

What it computes, for every residual phase ``delta``:

* the projector ``Pi_k`` onto ``k`` photons in modes ``a, b`` together (the parity projection is
  ``sum_{k even} Pi_k``) gives the ``k``-photon yield ``Y_k`` and, with the virtual qubits projected onto
  ``|kappa_a kappa_b>``, the ``k``-photon bit error (misalignment ``e_d`` flips the heralding detector);
* the virtual protocol's X measurement ``|+-><+-|`` etc. on the qubits gives ``P(X_A X_B = +1 | one click)``
  directly (no photon numbers): the even-parity fraction.

The kept rounds' ``delta`` has the triangular density on ``(-2 pi/M, 2 pi/M)``; the averages are taken with
``scipy.integrate.quad_vec`` (adaptive Gauss-Kronrod), not the Gauss-Legendre rule of the closed forms.

Example
-------
>>> from qkdsym.verify.qutip_tf import tf_parity_model
>>> r = tf_parity_model(0.1, 1e-2, M=16, e_d=0.0, p_d=0.0)
>>> round(float(r.e_k[1]), 6), round(float(r.E_X_parity + r.q_k[1::2].sum()), 12)
(0.006393, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import qutip as qt
from scipy.integrate import quad_vec

from ..symbols import validate

__all__ = ["TFModelResult", "tf_parity_model"]


@dataclass(frozen=True)
class TFModelResult:
    """Averages over the kept rounds' residual phase (``q_k, e_k, Y_k`` indexed by photon number)."""

    Q_mu: float
    E_Z: float
    Y_k: np.ndarray
    e_k: np.ndarray
    q_k: np.ndarray
    E_X_parity: float        # P(X_A X_B = +1 | one click) from the qubit measurement (no photon numbers)
    E_X_pm_qkd: float        # sum_{k odd} q_k e_k + q_0 (1 - e_0) + sum_{k even >= 2} q_k
    cutoff: int


@lru_cache(maxsize=8)
def _station(cutoff: int, eta: float, p_d: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """POVM elements 'only L' and 'only R' on the input modes (a, b), and the total photon number of each
    basis vector (the POVM elements are block diagonal in it, so ``Pi_k`` acts by selecting entries)."""
    a = qt.tensor(qt.destroy(cutoff), qt.qeye(cutoff))
    b = qt.tensor(qt.qeye(cutoff), qt.destroy(cutoff))
    U = (math.pi / 4 * (a.dag() * b - a * b.dag())).expm()
    n = np.arange(cutoff)
    silent = np.diag((1 - p_d) * (1 - eta) ** n)
    clicks = np.eye(cutoff) - silent
    only_L = qt.Qobj(np.kron(clicks, silent), dims=a.dims)
    only_R = qt.Qobj(np.kron(silent, clicks), dims=a.dims)
    pov = [(U.dag() * P * U).full() for P in (only_L, only_R)]
    tot = np.add.outer(n, n).ravel()
    for P in pov:  # block diagonal: no element couples different total photon numbers
        assert np.max(np.abs(P[tot[:, None] != tot[None, :]])) < 1e-12
    return pov[0], pov[1], tot


def _observables(delta: float, mu: float, eta: float, e_d: float, p_d: float, cutoff: int) -> np.ndarray:
    L, R, tot = _station(cutoff, eta, p_d)
    alpha = math.sqrt(mu / 2)
    # mode states of the four key-bit branches
    psi = {(ka, kb): qt.tensor(qt.coherent(cutoff, (-1) ** ka * alpha, method="analytic"),
                               qt.coherent(cutoff, (-1) ** kb * alpha * np.exp(1j * delta), method="analytic")
                               ).full().ravel()
           for ka in (0, 1) for kb in (0, 1)}
    K = cutoff
    Y = np.zeros(K)
    err = np.zeros(K)
    for (ka, kb), v in psi.items():
        good, bad = (L, R) if ka == kb else (R, L)        # in phase -> L; Bob's guess: L -> 0, R -> 1
        # <Pi_k v| F |Pi_k v> for every k at once: F is block diagonal, so sum conj(v) (F v) over block k
        pg = np.bincount(tot, np.real(np.conj(v) * (good @ v)), minlength=2 * K)[:K] / 4
        pb = np.bincount(tot, np.real(np.conj(v) * (bad @ v)), minlength=2 * K)[:K] / 4
        Y += pg + pb
        err += (1 - e_d) * pb + e_d * pg
    # virtual X measurement: amplitude of |x_A x_B> is sum_kappa <x|kappa> psi_kappa / 2
    even = 0.0
    for xa in (1, -1):
        for xb in (1, -1):
            if xa * xb != 1:
                continue
            w = sum((xa ** ka) * (xb ** kb) * v for (ka, kb), v in psi.items()) / 4   # <x|k> = (+-1)^k / sqrt2
            even += float(np.real(np.vdot(w, (L + R) @ w)))
    return np.concatenate([Y, err, [even]])


def tf_parity_model(mu: float, eta: float, *, M: int = 16, e_d: float = 0.02, p_d: float = 3.42e-9,
                    cutoff: int = 14) -> TFModelResult:
    """Averages over the residual phase of the kept rounds (triangular on ``(-2 pi/M, 2 pi/M)``)."""
    validate("mu", mu)
    validate("eta", eta)
    validate("e_d", e_d)
    validate("p_d", p_d)
    if int(M) != M or M < 2 or int(M) % 2:
        raise ValueError(f"parameter 'M' (number of phase slices) = {M!r} must be an even integer >= 2")
    wid = 2 * math.pi / M
    dens = lambda d: 2 * (wid - d) / wid**2        # folded onto (0, wid): the observables are even in delta
    avg, _ = quad_vec(lambda d: dens(d) * _observables(d, mu, eta, e_d, p_d, cutoff), 0.0, wid,
                      epsabs=0.0, epsrel=1e-10)
    K = cutoff
    Yk, errk, even = avg[:K], avg[K:2 * K], float(avg[-1])
    Pk = np.array([math.exp(-mu) * mu**k / math.factorial(k) for k in range(K)])
    Q = float(np.sum(Yk))                  # Yk here already carries P(k): projections of the coherent states
    q = Yk / Q
    e = np.where(Yk > 0, errk / np.where(Yk > 0, Yk, 1), 0.5)
    odd = np.arange(K) % 2 == 1
    ex_pm = float(np.sum(q[odd] * e[odd]) + q[0] * (1 - e[0]) + np.sum(q[~odd][1:]))
    with np.errstate(invalid="ignore", divide="ignore"):
        Y_per = np.where(Pk > 0, Yk / Pk, 0.0)
    return TFModelResult(Q, float(np.sum(errk)) / Q, Y_per, e, q, even / Q, ex_pm, cutoff)
