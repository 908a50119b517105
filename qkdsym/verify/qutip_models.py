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


# =========================================================================================
# Rate protocols: decoy BB84 with WCPs, BB84 with a single-photon source, MDI-QKD with WCPs
# =========================================================================================
# Independent of the symbolic engine and of the closed forms: the states are built in a
# truncated Fock space, loss is the Kraus channel above, linear optics are unitaries built
# with ``qutip.destroy``/``expm`` and detectors are diagonal threshold POVMs.

__all__ += ["RateModelResult", "bb84_wcp_model", "bb84_wcp_squash_difference", "mdi_decoy_model", "sps_model"]


@dataclass(frozen=True)
class RateModelResult:
    """Observables of a rate-protocol QuTiP model run."""

    values: dict[str, float]
    cutoff: int              # Fock cutoff per mode
    converged: bool          # the convergence criterion was met
    change: float            # largest relative change of an observable at the last cutoff step
    phase_points: int = 0    # phase-average grid (MDI only)

    def __getitem__(self, key: str) -> float:
        return self.values[key]


def _rel_change(cur: dict[str, float], prev: dict[str, float]) -> float:
    return max(abs(cur[k] - prev[k]) / max(abs(cur[k]), abs(prev[k]), 1e-300) if abs(cur[k] - prev[k]) > 1e-17
               else 0.0 for k in cur)


def _poisson_start(mean: float, tail: float = 1e-13, lowest: int = 6) -> int:
    """Smallest cutoff ``N >= lowest`` with Poisson(``mean``) weight at ``n >= N`` below ``tail`` (a first guess
    for the convergence loop, which still confirms it)."""
    N, pn, cdf = 0, math.exp(-mean), 0.0
    while True:
        cdf += pn
        N += 1
        if N >= lowest and 1.0 - cdf < tail and pn * mean / N < tail:
            return -(-N // 4) * 4      # a multiple of 4: points share cutoffs (and the cached operators)
        pn *= mean / N


def _converge(fn, start: int, step: int, tol: float, max_cutoff: int, cutoff: int | None) -> RateModelResult:
    """Raise the cutoff from ``start`` in ``step``s until every observable changes by < ``tol`` (relative;
    absolute changes below 1e-17 count as none)."""
    if cutoff is not None:
        vals, extra = fn(cutoff)
        return RateModelResult(vals, cutoff, True, float("nan"), **extra)
    N = start
    prev, extra = fn(N)
    change = float("inf")
    while N < max_cutoff:
        N += step
        cur, extra = fn(N)
        change = _rel_change(cur, prev)
        if change <= tol:
            return RateModelResult(cur, N, True, change, **extra)
        prev = cur
    return RateModelResult(prev, N, False, change, **extra)


@lru_cache(maxsize=64)
def _kraus_array(N: int, eta: float) -> np.ndarray:
    """:func:`loss_kraus` as a real array ``K[k, m, n]`` (read only)."""
    K = np.array([A.full().real for A in loss_kraus(N, eta)])
    K.setflags(write=False)
    return K


def _loss_on_mode(rho: np.ndarray, K: np.ndarray, mode: int) -> np.ndarray:
    """``sum_k A_k rho A_k^dag`` on ``mode`` (0 or 1) of a two-mode density matrix ``rho[a, b, a', b']``."""
    if mode == 0:
        return np.einsum("kai,ivjw,kbj->avbw", K, rho, K, optimize=True)
    return np.einsum("kai,uivj,kbj->uavb", K, rho, K, optimize=True)


@lru_cache(maxsize=32)
def _polarisation_rotation(N: int, theta: float) -> np.ndarray:
    """``exp(theta (a^dag b - a b^dag))`` (real, dense): a photon in H becomes ``cos(theta) H - sin(theta) V``
    (probability ``sin^2 theta`` in V).  The generator conserves the total photon number, so it is
    exponentiated block by block on the blocks of total photon number < N (exact there); the truncated
    blocks (>= N) carry no weight and are left as the identity."""
    from scipy.linalg import expm

    a = qt.tensor(qt.destroy(N), qt.qeye(N))
    b = qt.tensor(qt.qeye(N), qt.destroy(N))
    G = (theta * (a.dag() * b - a * b.dag())).full().real
    U = np.eye(N * N)
    for n in range(N):
        idx = np.array([i * N + (n - i) for i in range(n + 1)])
        U[np.ix_(idx, idx)] = expm(G[np.ix_(idx, idx)])
    return U


def bb84_wcp_squash_difference(mu: float, eta: float, Y0: float, e_d: float) -> float:
    """``E Q`` of the physical detector-pair model minus the textbook ``Y0/2 + e_d (Q - Y0)`` (hand-derived).

    With ``a = eta mu``, per-detector dark probability ``p`` (``Y0 = 1 - (1-p)^2``), a coherent
    polarisation rotation with ``sin^2 theta = e_d`` and double clicks given a random bit, the no-click
    probabilities are ``n_H = (1-p) e^{-a(1-e_d)}``, ``n_V = (1-p) e^{-a e_d}`` and
    ``E Q = Q/2 + (n_H - n_V)/2``, so

        Delta = [(1 - 2 e_d)(1-p)^2 (1 - e^{-a}) - (1-p)(e^{-a e_d} - e^{-a(1-e_d)})] / 2
              = -p(1-p)(1 - e^{-a})/2 + O(e_d a^3) + ...

    (a dark click in the detector of the signal's bit is no error; a multi-photon pulse split by the
    rotation gives double clicks).  Zero when ``Y0 = 0`` and ``e_d`` in {0, 1/2}.
    """
    p = Y0 / (1 + math.sqrt(1 - Y0))           # 1 - sqrt(1 - Y0) without cancellation
    a = eta * mu
    return 0.5 * ((1 - 2 * e_d) * (1 - p) ** 2 * (-math.expm1(-a))
                  - (1 - p) * (math.exp(-a * e_d) - math.exp(-a * (1 - e_d))))


def _bb84_observables(mu, eta, Y0, e_d, N, misalignment, background):
    # phase-randomised WCP: the coherent state dephased in the Fock basis (a Poisson mixture), mode H
    rho_h = qt.coherent_dm(N, math.sqrt(mu), method="analytic")
    rho_h = qt.qdiags(np.real(rho_h.diag()), 0)
    rho = qt.tensor(rho_h, qt.fock_dm(N, 0)).full().real          # modes (H, V); bit 0 = H; real throughout
    if misalignment == "rotation":                                # coherent rotation, sin^2 theta = e_d
        R = _polarisation_rotation(N, math.asin(math.sqrt(e_d)))
        rho = R @ rho @ R.T
    elif misalignment == "flip":                                  # the whole pulse H <-> V with prob e_d
        R = _polarisation_rotation(N, math.pi / 2)
        rho = (1 - e_d) * rho + e_d * (R @ rho @ R.T)
    else:
        raise ValueError(f"misalignment {misalignment!r} is not 'rotation' or 'flip'")
    r = rho.reshape(N, N, N, N)
    K = _kraus_array(N, eta)
    r = _loss_on_mode(_loss_on_mode(r, K, 0), K, 1)
    rho = qt.Qobj(r.reshape(N * N, N * N), dims=[[N, N], [N, N]])
    if background == "dark":                                      # independent dark clicks, 1-(1-p)^2 = Y0
        p = Y0 / (1 + math.sqrt(1 - Y0))           # 1 - sqrt(1 - Y0) without cancellation
        click, none = _click_povm(N, p, True), _click_povm(N, p, False)
        P = {o: float(qt.expect(qt.tensor(*(click if c else none for c in o)), rho)) for o in
             ((0, 0), (1, 0), (0, 1), (1, 1))}
    elif background == "random":                                  # a background event = a double click
        click, none = _click_povm(N, 0.0, True), _click_povm(N, 0.0, False)
        ideal = {o: float(qt.expect(qt.tensor(*(click if c else none for c in o)), rho)) for o in
                 ((0, 0), (1, 0), (0, 1), (1, 1))}
        trace = sum(ideal.values())
        P = {o: (1 - Y0) * v + (Y0 * trace if o == (1, 1) else 0.0) for o, v in ideal.items()}
    else:
        raise ValueError(f"background {background!r} is not 'dark' or 'random'")
    Q = P[(1, 0)] + P[(0, 1)] + P[(1, 1)]
    EQ = P[(0, 1)] + 0.5 * P[(1, 1)]                             # V alone = error; double click: random bit
    return {"Q_mu": Q, "EQ_mu": EQ, "E_mu": EQ / Q if Q > 0 else 0.5}, {}


def bb84_wcp_model(mu: float, eta: float, Y0: float = 0.0, e_d: float = 0.0, *, misalignment: str = "rotation",
                   background: str = "dark", cutoff: int | None = None, tol: float = 1e-12,
                   max_cutoff: int = 40) -> RateModelResult:
    """``Q_mu``, ``E_mu``, ``EQ_mu`` of a phase-randomised WCP through pure loss onto a threshold detector pair.

    Polarisation qubit (modes H, V), the state sent in H.  ``misalignment="rotation"``: a coherent
    polarisation rotation with ``sin^2 theta = e_d``; ``"flip"``: the pulse is flipped H <-> V with
    probability ``e_d`` (the textbook model).  ``background="dark"``: each detector clicks in the dark
    with ``p``, ``1 - (1-p)^2 = Y0``; ``"random"``: with probability ``Y0`` both detectors click (a
    background event carries a random bit, the textbook model).  Double clicks get a random bit.
    ``Q`` is the probability of at least one click, ``EQ`` that of V alone plus half the double clicks.
    """
    _check(mu=mu, eta=eta, Y0=Y0, e_d=e_d)
    return _converge(lambda N: _bb84_observables(mu, eta, Y0, e_d, N, misalignment, background),
                     _poisson_start(mu), 4, tol, max_cutoff, cutoff)


def _sps_observables(x, g2, eta, N):
    # SPS truncated at two photons with <n> = x and g2(0) = <a^dag^2 a^2>/<n>^2 = 2 p2/x^2
    p2 = g2 * x * x / 2
    p1 = x - 2 * p2
    p0 = 1 - p1 - p2
    if min(p0, p1) < 0:
        raise ValueError(f"SPS with <n> = {x!r}, g2 = {g2!r} is not a state (p0 = {p0:.6g}, p1 = {p1:.6g})")
    rho = p0 * qt.fock_dm(N, 0) + p1 * qt.fock_dm(N, 1) + p2 * qt.fock_dm(N, 2)
    a = qt.destroy(N)
    n_meas = float(qt.expect(a.dag() * a, rho))
    g2_meas = float(qt.expect(a.dag() * a.dag() * a * a, rho)) / n_meas**2 if n_meas > 0 else 0.0
    multi = float(sum(rho.diag()[2:]).real)                              # emission of >= 2 photons
    out = apply_loss(rho, eta)
    Q = float(qt.expect(_click_povm(N, 0.0, True), out))                # threshold click, no background
    return {"Q": Q, "p_multi": multi, "R_x": Q - multi, "n_mean": n_meas, "g2": g2_meas}, {}


def sps_model(x: float, g2: float, eta: float, *, cutoff: int | None = None, tol: float = 1e-12) -> RateModelResult:
    """Gain ``Q``, multi-photon emission ``p_multi`` and ``R_x = Q - p_multi`` of the SPS ``(<n> = x, g2)``.

    The state has at most two photons, so any cutoff >= 3 is exact; the convergence loop checks 3 -> 6.
    ``n_mean`` and ``g2`` are re-measured on the state (``<a^dag a>``, ``<a^dag^2 a^2>/<n>^2``).
    """
    _check(eta=eta, g2=g2)
    return _converge(lambda N: _sps_observables(x, g2, eta, N), 3, 3, tol, 6, cutoff)


@lru_cache(maxsize=16)
def _bin_operators(N: int, p_d: float) -> dict[tuple[int, int], np.ndarray]:
    """``U^dag (Pi_1 (x) Pi_2) U`` of one time bin for the click patterns (1, 0), (0, 1) (exactly one detector)."""
    # beam_splitter_unitary(N) (flip * rotate), with the rotation exponentiated block by block (fast)
    flip = np.diag(np.tile((-1.0) ** np.arange(N), N))        # (-1)^{n_b}
    U = qt.Qobj(flip @ _polarisation_rotation(N, math.pi / 4), dims=[[N, N], [N, N]])
    mask = _low_photon_mask(N)
    ops = {}
    for pat in ((1, 0), (0, 1)):
        Pi = qt.tensor(*(_click_povm(N, p_d, bool(c)) for c in pat))
        O = (U.dag() * Pi * U).full()
        O[~mask, :] = 0
        O[:, ~mask] = 0
        # as a matrix acting on vec(rho_A^T): T[k, l] = sum_ij O[i, k, j, l] rho_A[j, i]
        if np.abs(O.imag).max() > 1e-14:   # pragma: no cover - U and Pi are real
            raise ArithmeticError("the beam-splitter click operator is not real")
        ops[pat] = np.ascontiguousarray(O.real.reshape(N, N, N, N).transpose(0, 2, 1, 3).reshape(N * N, N * N))
    return ops


def _click_povm(N: int, p: float, click: bool) -> qt.Qobj:
    """Threshold detector (efficiency inside the loss) with dark probability ``p``: click = ``p`` on the
    vacuum and 1 otherwise, written without the cancellation of ``1 - (1 - p)`` (exact for tiny ``p``)."""
    n = np.arange(N)
    return qt.qdiags(np.where(n == 0, p, 1.0) if click else np.where(n == 0, 1.0 - p, 0.0), 0)


def _lossy_coherent(N: int, alpha: float, eta: float) -> np.ndarray:
    """``sum_k A_k |alpha><alpha| A_k^dag`` (truncated coherent state, Kraus loss), a real array."""
    psi = qt.coherent(N, alpha, method="analytic").full().real.ravel()
    v = _kraus_array(N, eta) @ psi                               # A_k |alpha>, (k, N)
    return v.T @ v


def _mdi_amplitudes(basis: str, bit: int, mu: float) -> tuple[float, float]:
    if basis == "Z":
        return (math.sqrt(mu), 0.0) if bit == 0 else (0.0, math.sqrt(mu))
    return math.sqrt(mu / 2), (1 if bit == 0 else -1) * math.sqrt(mu / 2)


def _mdi_observables(mu_a, mu_b, eta, p_d, e_d, bsm, N, M):
    ops = _bin_operators(N, float(p_d))
    phis = 2 * math.pi * np.arange(M) / M
    n = np.arange(N)
    phase = np.exp(1j * (n[None, :, None] - n[None, None, :]) * phis[:, None, None])   # (M, N, N)
    out = {}
    for basis in ("Z", "X"):
        # per bit and time bin t (early, late): Alice's T_c[k, l] = sum_ij O_c[i, k, j, l] rho_A[j, i] and
        # Bob's e^{i phi n} rho_B e^{-i phi n} on the phase grid, so that a bin's pattern probability is
        # Tr[O_c (rho_A (x) rho_B(phi))] = sum_kl T_c[k, l] rho_B(phi)[l, k]
        TA = {(ba, t, c): (_lossy_coherent(N, amp, eta).T.reshape(-1) @ O).reshape(N, N)
              for ba in (0, 1) for t, amp in enumerate(_mdi_amplitudes(basis, ba, mu_a)) for c, O in ops.items()}
        RB = {(bb, t): phase * _lossy_coherent(N, amp, eta)
              for bb in (0, 1) for t, amp in enumerate(_mdi_amplitudes(basis, bb, mu_b))}
        P = {}   # (a, b) -> {event: probability}
        for ba in (0, 1):
            for bb in (0, 1):
                b = {(t, c): np.einsum("kl,plk->p", TA[(ba, t, c)], RB[(bb, t)]).real for t in (0, 1) for c in ops}
                psi_m = np.mean(b[(0, (1, 0))] * b[(1, (0, 1))] + b[(0, (0, 1))] * b[(1, (1, 0))])
                psi_p = np.mean(b[(0, (1, 0))] * b[(1, (1, 0))] + b[(0, (0, 1))] * b[(1, (0, 1))])
                P[(ba, bb)] = {"psi-": float(psi_m), "psi+": float(psi_p)}
        events = ("psi-",) if bsm == "psi-" else ("psi-", "psi+")
        Q = EQ = 0.0
        for ba in (0, 1):
            for bb in (0, 1):          # announced bits; Bob actually sent bb ^ flip (flip with prob e_d)
                for flip, w in ((0, 1 - e_d), (1, e_d)):
                    for ev in events:
                        p = w * P[(ba, bb ^ flip)][ev] / 4
                        Q += p
                        if (ba == bb) if (basis == "Z" or ev == "psi-") else (ba != bb):
                            EQ += p
        out.update({f"Q_{basis}": Q, f"EQ_{basis}": EQ, f"E_{basis}": EQ / Q if Q > 0 else 0.5})
    return out


def mdi_decoy_model(mu_a: float, mu_b: float, eta: float, p_d: float = 0.0, e_d: float = 0.0, *,
                    bsm: str = "psi-", cutoff: int | None = None, tol: float = 1e-12, max_cutoff: int = 32,
                    phase_points: int | None = None) -> RateModelResult:
    """``Q_Z, EQ_Z, E_Z, Q_X, EQ_X, E_X`` of time-bin MDI-QKD with phase-randomised WCPs.

    Each user sends a coherent state in two time-bin modes (Z: ``|sqrt mu>_e |0>_l`` or ``|0>_e |sqrt mu>_l``;
    X: ``|sqrt(mu/2)>_e |+-sqrt(mu/2)>_l``), each mode crosses the loss channel ``eta``, a 50:50 beam splitter
    mixes Alice's and Bob's modes of each bin and two threshold detectors (dark probability ``p_d`` per
    detector and bin) read both bins.  ``psi-``: exactly (D1 early, D2 late) or (D2 early, D1 late) click;
    ``psi+`` (``bsm="both"``): exactly (D1 early, D1 late) or (D2 early, D2 late).  Z errors: equal bits;
    X errors: equal bits for ``psi-``, different for ``psi+``.  Misalignment: Bob's sent bit is flipped
    with probability ``e_d`` (a classical mixture).

    Phase randomisation: for fixed phases the four-mode state is a product over the two bins, and the
    click POVMs are invariant under a common phase of all modes, so averaging both users' phases reduces
    to averaging the relative phase ``phi`` of Bob's pulse.  In the cutoff-``N`` model a bin's probability
    is a trigonometric polynomial of degree < N in ``phi``, the product of two bins of degree < 2N - 1,
    so the uniform ``phase_points = 2N`` grid average is exact.
    """
    _check(mu_a=mu_a, mu_b=mu_b, eta=eta, p_d=p_d, e_d=e_d)
    if bsm not in ("psi-", "both"):
        raise ValueError(f"bsm {bsm!r} is not 'psi-' or 'both'")

    def fn(N):
        M = phase_points if phase_points is not None else 2 * N
        return _mdi_observables(mu_a, mu_b, eta, p_d, e_d, bsm, N, M), {"phase_points": M}

    return _converge(fn, _poisson_start(mu_a + mu_b), 4, tol, max_cutoff, cutoff)
