"""Independent QuTiP density-matrix models of the heralded DIQKD protocols.

These models share no code with the symbolic engine: states are truncated Fock
vectors (``qutip.coherent(..., method='analytic')``, ``qutip.basis``), loss is
the amplitude-damping channel with its Kraus operators, the beam splitter is
the unitary ``exp(i pi n_b) exp(pi/4 (a^dag b - a b^dag))`` built from
``qutip.destroy`` and ``Qobj.expm``, and detectors are diagonal Fock-space
POVMs.  They are the test oracle of the closed forms.

Method
------
Atom measurements act on other subsystems than the optics, so they commute
with it: for each pair of settings and outcomes the atoms are projected first
(``<a|_A <b|_B``), leaving an unnormalised product state of the two pulses.
Each pulse then crosses its loss channel (a single-mode density matrix), Bob's
pulse picks up the misalignment phase, and

    P(a, b, pattern) = Tr[(U^dag Pi_pattern U) (rho_A (x) rho_B)].

The beam splitter conserves the total photon number, so in a truncated space
it is exact on the blocks of total photon number < cutoff; ``U^dag Pi U`` is
kept on those blocks only, and the cutoff is raised until every observable
changes by less than ``tol`` (the neglected weight is the probability of
>= cutoff photons in both pulses together).

Example
-------
>>> from qkdsym.verify.qutip_models import ecs_diqkd_model
>>> r = ecs_diqkd_model(0.2, 1.0)                 # ideal: S = sqrt2 (1 + e^{-0.4})
>>> abs(r.S - 2**0.5 * (1 + 2.718281828459045**-0.4)) < 1e-12, r.converged
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import qutip as qt

from ..symbols import validate

__all__ = ["ModelResult", "ecs_diqkd_model", "bell_diqkd_model", "joint_probabilities_ecs",
           "beam_splitter_unitary", "loss_kraus", "chi_eigenvector"]

ALICE = {"A0": 0.0, "A1": math.pi / 4, "A2": -math.pi / 4}
BOB = {"B1": 0.0, "B2": math.pi / 2}
CHSH = ((1, "A1", "B1"), (-1, "A1", "B2"), (1, "A2", "B1"), (1, "A2", "B2"))


@dataclass(frozen=True)
class ModelResult:
    """Observables of a QuTiP model run."""

    Q_zz: float
    e_zz: float
    S: float
    cutoff: int        # Fock cutoff per mode
    converged: bool    # the convergence criterion was met


# ------------------------------------------------------------------ pieces
def chi_eigenvector(theta: float, outcome: int) -> qt.Qobj:
    """Eigenvector of cos(theta) sigma_z + sin(theta) sigma_x for outcome +1/-1 (|+z> = basis(2,0))."""
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    if outcome == 1:
        return c * qt.basis(2, 0) + s * qt.basis(2, 1)
    return s * qt.basis(2, 0) - c * qt.basis(2, 1)


@lru_cache(maxsize=64)
def loss_kraus(N: int, eta: float) -> tuple[qt.Qobj, ...]:
    """Kraus operators ``A_k = sum_n sqrt(C(n,k)) eta^((n-k)/2) (1-eta)^(k/2) |n-k><n|`` of pure loss."""
    ops = []
    for k in range(N):
        M = np.zeros((N, N))
        for n in range(k, N):
            M[n - k, n] = math.sqrt(math.comb(n, k)) * eta ** ((n - k) / 2) * (1 - eta) ** (k / 2)
        ops.append(qt.Qobj(M))
    return tuple(ops)


def apply_loss(rho: qt.Qobj, eta: float) -> qt.Qobj:
    """``sum_k A_k rho A_k^dag`` on a single mode."""
    return sum((A * rho * A.dag() for A in loss_kraus(rho.shape[0], eta)), 0 * rho)


@lru_cache(maxsize=16)
def beam_splitter_unitary(N: int) -> qt.Qobj:
    """``c = (a+b)/sqrt2``, ``d = (a-b)/sqrt2`` on two modes of cutoff ``N`` (exact for total photons < N)."""
    a = qt.tensor(qt.destroy(N), qt.qeye(N))
    b = qt.tensor(qt.qeye(N), qt.destroy(N))
    rotate = ((math.pi / 4) * (a.dag() * b - a * b.dag())).expm()   # (x, y) -> ((x+y)/sqrt2, (y-x)/sqrt2)
    flip = (1j * math.pi * b.dag() * b).expm()                        # second output: -> (x-y)/sqrt2
    return flip * rotate


@lru_cache(maxsize=16)
def _low_photon_mask(N: int) -> np.ndarray:
    n = np.arange(N)
    return (n[:, None] + n[None, :] < N).reshape(-1)


def _threshold(N: int, p_d: float, eta_D: float, click: bool) -> qt.Qobj:
    no_click = (1 - p_d) * (1 - eta_D) ** np.arange(N)
    return qt.qdiags(1 - no_click if click else no_click, 0)


def _check(**values: float) -> None:
    for k, v in values.items():
        validate(k, v)


# ---------------------------------------------------------------------- ECS
def _ecs_pattern_operators(N: int, p_d: float, eta_D: float) -> dict[str, np.ndarray]:
    U = beam_splitter_unitary(N)
    mask = _low_photon_mask(N)
    ops = {}
    for name, (cc, cd) in {"D1": (True, False), "D2": (False, True)}.items():
        Pi = qt.tensor(_threshold(N, p_d, eta_D, cc), _threshold(N, p_d, eta_D, cd))
        O = (U.dag() * Pi * U).full()
        O[~mask, :] = 0
        O[:, ~mask] = 0
        ops[name] = O.reshape(N, N, N, N)   # (ia, ib, ja, jb): rows (a, b), columns (a, b)
    return ops


def _pulse(N: int, mu: float, theta: float, outcome: int, eta: float, phase: float) -> np.ndarray:
    alpha = math.sqrt(mu)
    v = chi_eigenvector(theta, outcome).full().ravel().real
    plus, minus = qt.coherent(N, alpha, method="analytic"), qt.coherent(N, -alpha, method="analytic")
    psi = (v[0] * plus + v[1] * minus) / math.sqrt(2)      # <outcome|_atom (|+z>|alpha> + |-z>|-alpha>)/sqrt2
    rho = apply_loss(psi * psi.dag(), eta)
    if phase:
        P = (1j * phase * qt.num(N)).expm()
        rho = P * rho * P.dag()
    return rho.full()


def joint_probabilities_ecs(mu: float, eta: float, p_d: float, e_d: float, theta_a: float, theta_b: float,
                            cutoff: int, eta_D: float = 1.0) -> dict[tuple[int, int, str], float]:
    """``P(a, b, pattern)`` for a, b in {+1, -1}, pattern 'D1' or 'D2' (exactly one click); raw b, no flip."""
    N = cutoff
    ops = _ecs_pattern_operators(N, p_d, eta_D)
    delta = math.acos(1 - 2 * e_d)
    out = {}
    for a in (1, -1):
        rA = _pulse(N, mu, theta_a, a, eta, 0.0)
        for b in (1, -1):
            rB = _pulse(N, mu, theta_b, b, eta, delta)
            for name, O in ops.items():
                out[(a, b, name)] = float(np.einsum("ikjl,ji,lk->", O, rA, rB).real)
    return out


def _ecs_observables(mu, eta, p_d, e_d, N, eta_D) -> tuple[float, float, float]:
    def joint(A, B):
        return joint_probabilities_ecs(mu, eta, p_d, e_d, ALICE[A], BOB[B], N, eta_D)

    def corr(A, B):
        P = joint(A, B)
        Q = sum(P.values())
        sgn = {"D1": 1, "D2": -1 if B == "B1" else 1}
        return Q, sum(a * b * sgn[h] * p for (a, b, h), p in P.items()) / Q if Q > 0 else 0.0

    Q, E_key = corr("A0", "B1")
    S = sum(c * corr(A, B)[1] for c, A, B in CHSH)
    return Q, (1 - E_key) / 2, S


def ecs_diqkd_model(mu: float, eta: float, p_d: float = 0.0, e_d: float = 0.0, *, cutoff: int | None = None,
                    tol: float = 1e-12, eta_D: float = 1.0, max_cutoff: int = 48) -> ModelResult:
    """Q_zz, e_zz and S of ECS heralded DIQKD from a truncated Fock-space model.

    ``cutoff=None`` raises the cutoff from 8 in steps of 4 until every
    observable changes by less than ``tol`` (relative, or absolute below 1).
    """
    _check(mu=mu, eta=eta, p_d=p_d, e_d=e_d, eta_d=eta_D)
    if cutoff is not None:
        return ModelResult(*_ecs_observables(mu, eta, p_d, e_d, cutoff, eta_D), cutoff, True)
    N = 8
    prev = _ecs_observables(mu, eta, p_d, e_d, N, eta_D)
    while N < max_cutoff:
        N += 4
        cur = _ecs_observables(mu, eta, p_d, e_d, N, eta_D)
        if all(abs(x - y) <= tol * max(1.0, abs(x)) for x, y in zip(cur, prev, strict=True)):
            return ModelResult(*cur, N, True)
        prev = cur
    return ModelResult(*prev, N, False)


# --------------------------------------------------------------------- Bell
@lru_cache(maxsize=4)
def _bell_operators(p_d: float, eta_D: float) -> dict[str, tuple[qt.Qobj, frozenset[str]]]:
    N = 3  # at most two photons in one mode (HOM bunching)
    # mode order (aH, bH, aV, bV); BS on (aH, bH) -> (cH, dH) and (aV, bV) -> (cV, dV)
    U = qt.tensor(beam_splitter_unitary(N), beam_splitter_unitary(N))
    clicks = {m: _threshold(N, p_d, eta_D, True) for m in ("cH", "dH", "cV", "dV")}
    none = {m: _threshold(N, p_d, eta_D, False) for m in ("cH", "dH", "cV", "dV")}
    patterns = {("cH", "cV"): frozenset({"B1", "B2"}), ("dH", "dV"): frozenset({"B1", "B2"}),
                ("cH", "dV"): frozenset({"B1"}), ("cV", "dH"): frozenset({"B1"})}
    out = {}
    for on, flips in patterns.items():
        Pi = qt.tensor(*[(clicks if m in on else none)[m] for m in ("cH", "dH", "cV", "dV")])
        out["+".join(on)] = (U.dag() * Pi * U, flips)
    return out


def _photon(theta: float, outcome: int, eta: float) -> qt.Qobj:
    """User's photon after <outcome| on the spin of (|+z>|H> + |-z>|V>)/sqrt2, then loss: modes (H, V)."""
    N = 3
    v = chi_eigenvector(theta, outcome).full().ravel().real
    H = qt.tensor(qt.basis(N, 1), qt.basis(N, 0))
    V = qt.tensor(qt.basis(N, 0), qt.basis(N, 1))
    psi = (v[0] * H + v[1] * V) / math.sqrt(2)
    rho = psi * psi.dag()
    K = loss_kraus(N, eta)
    return sum((qt.tensor(A, B) * rho * qt.tensor(A, B).dag() for A in K for B in K), 0 * rho)


def bell_diqkd_model(eta: float, p_d: float = 0.0, *, eta_D: float = 1.0) -> ModelResult:
    """Q_zz, e_zz and S of the Bell-state (spin-photon, two-photon BSM) heralded DIQKD baseline."""
    _check(eta=eta, p_d=p_d, eta_d=eta_D)
    ops = _bell_operators(float(p_d), float(eta_D))

    def corr(A: str, B: str) -> tuple[float, float]:
        Q = E = 0.0
        for a in (1, -1):
            rA = _photon(ALICE[A], a, eta)
            for b in (1, -1):
                rB = _photon(BOB[B], b, eta)
                rho = qt.tensor(rA, rB).permute([0, 2, 1, 3])   # (aH, aV, bH, bV) -> (aH, bH, aV, bV)
                for O, flips in ops.values():
                    p = float((O * rho).tr().real)
                    Q += p
                    E += a * (-b if B in flips else b) * p
        return Q, (E / Q if Q > 0 else 0.0)

    Q, E_key = corr("A0", "B1")
    S = sum(c * corr(A, B)[1] for c, A, B in CHSH)
    return ModelResult(Q, (1 - E_key) / 2, S, 3, True)
