"""Numeric twin: replay an :class:`~qkdsym.experiment.Experiment` in QuTiP.

The twin reads the same recorded steps as :meth:`Experiment.symbolic
<qkdsym.experiment.Experiment.symbolic>` but shares none of the symbolic
machinery -- no coherent-state (Bargmann) terms, no generating functions, no
POVM kernels, no SymPy, no closed forms.  It is an interpreter over a
truncated density matrix: states and operators are built with QuTiP 5
(``basis``, ``tensor``, ``destroy``, ``num``, ``Qobj.expm``) and the joint
density matrix is a NumPy tensor into which each local operator is contracted
on its subsystems' axes (what ``qutip.expand_operator`` and ``U rho U^dag``
would give, without ``dim x dim`` operators):

* every qubit is a 2-level space, every optical mode a Fock space truncated at
  ``cutoff`` photons (dimension ``cutoff``);
* a cat source is the vector ``(|0>|alpha> + |1>|-alpha>)/sqrt2`` with
  ``|alpha>`` given by its Fock amplitudes ``e^{-|alpha|^2/2} alpha^n/sqrt(n!)``
  and normalised within the cutoff; a spin-photon source is
  ``(|0>|1,0> + |1>|0,1>)/sqrt2``; a new source is tensored onto the state;
* loss is the binomial Kraus channel
  ``A_k = sum_n sqrt(C(n,k) eta^(n-k) (1-eta)^k) |n-k><n|``;
* a phase is ``exp(i phi n)``, a misalignment the phase ``arccos(1 - 2 e_d)``;
* a beam splitter of transmissivity ``T`` is
  ``exp(i pi n_d) exp(theta (a^dag b - a b^dag))`` with ``cos theta = sqrt T``
  (``qutip.Qobj.expm``), which maps ``|x>|y>`` to
  ``|sqrt T x + sqrt(1-T) y> |sqrt(1-T) x - sqrt T y>`` as the engine's
  convention; it is exact on the blocks of fewer than ``cutoff`` photons in
  the two modes;
* a threshold detector is the diagonal POVM ``no click = (1-p_d)(1-eta_D)^n``,
  a number-resolving one ``P(k|n) = (1-p_d) Bin(k; n, eta_D) + p_d Bin(k-1; n, eta_D)``;
* a herald is the product of its detectors' POVM elements, the qubits'
  unnormalised state is ``Tr_modes[Pi_h rho]`` and the correlators are
  ``sum_h s_h Tr[(chi_a (x) chi_b) rho_h]`` with Bob's flips ``s_h``.

The cutoff is chosen by convergence: it grows until ``Q_zz``, ``e_zz`` and
``S`` change by less than ``tol`` (relative) between two cutoffs.  With only
Fock sources (a fixed total photon number ``n``) the state is exact from
cutoff ``n + 1`` and one more cutoff confirms it.

Example
-------
The Bell-state protocol without loss: every herald is a perfect ``psi``, S = 2 sqrt2:

>>> from qkdsym.experiment import Experiment, Threshold
>>> from qkdsym.verify.twin import numeric_twin
>>> bsm = Experiment().spin_photon_source("A", ("aH", "aV")).spin_photon_source("B", ("bH", "bV"))
>>> bsm = bsm.beam_splitter(("aH", "bH"), out=("cH", "dH")).beam_splitter(("aV", "bV"), out=("cV", "dV"))
>>> bsm = bsm.detectors({m: Threshold() for m in ("cH", "cV", "dH", "dV")})
>>> pattern = lambda *on: {m: m in on for m in ("cH", "cV", "dH", "dV")}
>>> bsm = (bsm.herald("psi+ c", pattern("cH", "cV"), flips={"B1", "B2"})
...           .herald("psi+ d", pattern("dH", "dV"), flips={"B1", "B2"})
...           .herald("psi- 1", pattern("cH", "dV"), flips={"B1"})
...           .herald("psi- 2", pattern("cV", "dH"), flips={"B1"}))
>>> r = numeric_twin(bsm, {})
>>> round(r["Q_zz"], 12), round(r["e_zz"], 12), round(r["S"], 12), r["cutoff"]
(0.5, 0.0, 2.828427124746, 4)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import qutip as qt

from ..experiment import (PNR, BeamSplitter, CatSource, Experiment, Loss, Misalignment, Phase, Ref,
                          SpinPhotonSource)
from ..symbols import PARAMS, validate

if TYPE_CHECKING:  # pragma: no cover
    from ..protocols.base import HeraldedProtocol

__all__ = ["numeric_twin", "twin_vs_closed_form", "twin_check", "twin_rows", "sample_points"]

#: the largest Hilbert-space dimension the twin builds (density matrices of this size squared)
MAX_DIM = 4096


def _value(ref: Ref, values: Mapping[str, float]) -> float:
    return float(values[ref]) if isinstance(ref, str) else float(ref)


def _coherent(N: int, alpha: float) -> np.ndarray:
    n = np.arange(N)
    logs = np.array([0.5 * math.lgamma(k + 1) for k in n])
    with np.errstate(divide="ignore"):
        mag = np.exp(n * math.log(abs(alpha)) - logs) if alpha != 0 else (n == 0).astype(float)
    v = mag * np.sign(alpha) ** n if alpha != 0 else mag
    return v / np.linalg.norm(v)   # normalised within the cutoff


def _loss_kraus(N: int, eta: float) -> list[qt.Qobj]:
    ops = []
    for k in range(N):
        M = np.zeros((N, N))
        for n in range(k, N):
            M[n - k, n] = math.sqrt(math.comb(n, k) * eta ** (n - k) * (1 - eta) ** k)
        if np.any(M):
            ops.append(qt.Qobj(M))
    return ops


@lru_cache(maxsize=64)
def _beam_splitter(N: int, T: float) -> qt.Qobj:
    """``exp(i pi n_b) exp(theta (a^dag b - a b^dag))``, ``cos theta = sqrt T``, on two modes of cutoff ``N``.

    The generator conserves ``n_a + n_b`` (also once truncated), so it is
    exponentiated block by block of equal total photon number: the same
    matrix as ``Qobj.expm`` of the whole truncated generator, at a fraction of the cost.
    """
    a = qt.tensor(qt.destroy(N), qt.qeye(N))
    b = qt.tensor(qt.qeye(N), qt.destroy(N))
    theta = math.acos(math.sqrt(T))
    G = (theta * (a.dag() * b - a * b.dag())).full()
    total = np.add.outer(np.arange(N), np.arange(N)).ravel()
    rotate = np.zeros_like(G)
    for n in range(2 * N - 1):
        idx = np.flatnonzero(total == n)
        rotate[np.ix_(idx, idx)] = qt.Qobj(G[np.ix_(idx, idx)]).expm().full()   # (x, y) -> (cx + sy, cy - sx)
    flip = qt.tensor(qt.qeye(N), (1j * math.pi * qt.num(N)).expm())         # second output -> sx - cy
    return flip * qt.Qobj(rotate, dims=[[N, N], [N, N]])


def _binomial(N: int, k: int, eta: float) -> np.ndarray:
    return np.array([math.comb(n, k) * eta**k * (1 - eta) ** (n - k) if k <= n else 0.0 for n in range(N)])


def _povm(det: Any, outcome: bool | int, N: int, values: Mapping[str, float]) -> np.ndarray:
    eff, pd = _value(det.efficiency, values), _value(det.p_d, values)
    if isinstance(det, PNR):
        k = int(outcome)
        dark = _binomial(N, k - 1, eff) if k >= 1 else np.zeros(N)
        return (1 - pd) * _binomial(N, k, eff) + pd * dark
    none = (1 - pd) * (1 - eff) ** np.arange(N)
    return 1 - none if outcome else none


def _chi(theta: float) -> np.ndarray:
    return np.array([[math.cos(theta), math.sin(theta)], [math.sin(theta), -math.cos(theta)]])


class _Register:
    """The density matrix of named subsystems as a NumPy tensor ``rho[i_1..i_n, j_1..j_n]``.

    Local operators (QuTiP ``Qobj``) are contracted into the tensor on their
    subsystems' axes: the same result as ``qutip.expand_operator`` followed by
    ``U rho U^dag``, without building ``dim x dim`` operators.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.dims: list[int] = []
        self.rho = np.ones((), dtype=complex)

    def add(self, names: list[str], psi: qt.Qobj) -> None:
        v = psi.full().ravel()
        dims = [int(d) for d in psi.dims[0]]
        n, k = len(self.dims), len(dims)
        new = np.multiply.outer(v, v.conj()).reshape(dims + dims)
        rho = np.multiply.outer(self.rho, new)   # axes: old kets, old bras, new kets, new bras
        order = list(range(n)) + list(range(2 * n, 2 * n + k)) + list(range(n, 2 * n)) + \
            list(range(2 * n + k, 2 * n + 2 * k))
        self.rho = rho.transpose(order)
        self.names += names
        self.dims += dims

    def _axes(self, targets: list[str]) -> list[int]:
        return [self.names.index(t) for t in targets]

    def _contract(self, op: np.ndarray, axes: list[int]) -> None:
        k = len(axes)
        out = np.tensordot(op, self.rho, axes=(list(range(k, 2 * k)), axes))
        self.rho = np.moveaxis(out, list(range(k)), axes)

    def unitary(self, U: qt.Qobj, targets: list[str]) -> None:
        """``rho -> U rho U^dag`` with ``U`` acting on ``targets`` (in that order)."""
        ax = self._axes(targets)
        d = [self.dims[i] for i in ax]
        op = U.full().reshape(d + d)
        self._contract(op, ax)
        self._contract(op.conj(), [i + len(self.dims) for i in ax])

    def channel(self, kraus: list[qt.Qobj], target: str) -> None:
        """``rho -> sum_k A_k rho A_k^dag`` on one subsystem (as one superoperator)."""
        i = self.names.index(target)
        n = len(self.dims)
        S = sum(np.multiply.outer(A.full(), A.full().conj()) for A in kraus)   # S[a, j, b, l] = A[a,j] A*[b,l]
        out = np.tensordot(S, self.rho, axes=([1, 3], [i, i + n]))            # axes: a, b, rest
        self.rho = np.moveaxis(out, [0, 1], [i, i + n])

    def diagonal(self, modes: list[str], keep: list[str]) -> np.ndarray:
        """``M[q, q', n_1.., n_m] = <q, n|rho|q', n>``: qubits ``keep`` (ket, bra), modes' diagonals,
        every other subsystem traced out."""
        n = len(self.dims)
        letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        ket = [next(letters) for _ in range(n)]
        bra = list(ket)
        for q in keep:
            bra[self.names.index(q)] = next(letters)
        out = [ket[self.names.index(q)] for q in keep] + [bra[self.names.index(q)] for q in keep] + \
            [ket[self.names.index(m)] for m in modes]
        return np.einsum(f"{''.join(ket)}{''.join(bra)}->{''.join(out)}", self.rho)


def _run(exp: Experiment, values: Mapping[str, float], N: int) -> tuple[float, float, float]:
    """Q_zz, e_zz and S at one cutoff ``N``."""
    reg = _Register()
    r = 1 / math.sqrt(2)
    for step in exp.steps:
        if isinstance(step, CatSource):
            alpha = math.sqrt(_value(step.intensity, values))
            psi = r * (qt.tensor(qt.basis(2, 0), qt.Qobj(_coherent(N, alpha)))
                       + qt.tensor(qt.basis(2, 1), qt.Qobj(_coherent(N, -alpha))))
            reg.add([step.qubit, step.mode], psi)
        elif isinstance(step, SpinPhotonSource):
            one, zero = qt.basis(N, 1), qt.basis(N, 0)
            psi = r * (qt.tensor(qt.basis(2, 0), one, zero) + qt.tensor(qt.basis(2, 1), zero, one))
            reg.add([step.qubit, *step.modes], psi)
        elif isinstance(step, Loss):
            reg.channel(_loss_kraus(N, _value(step.transmittance, values)), step.mode)
        elif isinstance(step, (Phase, Misalignment)):
            phi = (_value(step.phase, values) if isinstance(step, Phase)
                   else math.acos(1 - 2 * _value(step.error, values)))
            reg.unitary((1j * phi * qt.num(N)).expm(), [step.mode])
        elif isinstance(step, BeamSplitter):
            reg.unitary(_beam_splitter(N, _value(step.transmissivity, values)), list(step.modes))
            for old, new in zip(step.modes, step.out):
                reg.names[reg.names.index(old)] = new
    # heralds: the qubits' unnormalised state Tr_modes[Pi_h rho] (Alice, Bob), Pi_h diagonal in Fock space
    modes = list(exp.detector_specs)
    M = reg.diagonal(modes, [exp.alice, exp.bob])
    Q = 0.0
    corr: dict[tuple[str, str], float] = {}
    pairs = {(a, b) for _, a, b in exp.chsh} | {tuple(exp.key_pair)}
    for h in exp.heralds:
        rho_h = M
        for m in modes:   # contract the last axis with that mode's POVM element
            det = exp.detector_specs[m]
            default = 0 if isinstance(det, PNR) else False
            rho_h = np.tensordot(rho_h, _povm(det, h.clicks.get(m, default), N, values), axes=([4], [0]))
        rho_h = rho_h.reshape(4, 4)
        Q += float(np.trace(rho_h).real)
        for a, b in pairs:
            sign = -1.0 if b in h.flips else 1.0
            O = np.kron(_chi(float(exp.alice_settings[a])), _chi(float(exp.bob_settings[b])))
            corr[(a, b)] = corr.get((a, b), 0.0) + sign * float(np.trace(O @ rho_h).real)
    if Q <= 0:
        return 0.0, 0.5, 0.0
    e = (Q - corr[tuple(exp.key_pair)]) / (2 * Q)
    S = sum(c * corr[(a, b)] for c, a, b in exp.chsh) / Q
    return Q, e, S


def _photon_bound(exp: Experiment) -> int | None:
    """Total photon number when every source is a Fock source (then the twin is exact above it)."""
    if any(isinstance(s, CatSource) for s in exp.steps):
        return None
    return sum(1 for s in exp.steps if isinstance(s, SpinPhotonSource))


def numeric_twin(experiment: "Experiment | HeraldedProtocol", values: Mapping[str, float], *,
                 cutoff: int | None = None,
                 tol: float = 1e-10, max_cutoff: int = 40) -> dict[str, Any]:
    """``Q_zz``, ``e_zz`` and ``S`` of ``experiment`` computed in QuTiP (see the module docstring).

    ``experiment`` is an :class:`~qkdsym.experiment.Experiment` or a protocol
    made by :meth:`Experiment.protocol` (its recorded experiment is used).
    ``values`` gives every parameter the experiment names.  ``cutoff=None``
    raises the Fock cutoff per mode until the observables change by less
    than ``tol`` (relative; ``1e-14`` absolute for values near 0).  The
    result also holds ``cutoff`` (the one used), ``converged`` (None for a
    fixed cutoff) and ``history`` (``(cutoff, Q_zz, e_zz, S)`` per step).
    """
    exp = getattr(experiment, "experiment", experiment)
    if not isinstance(exp, Experiment):
        raise ValueError(f"numeric_twin needs an Experiment (or a protocol built by Experiment.protocol), "
                         f"got {type(experiment).__name__}")
    exp.check()
    need = exp.parameters
    missing = [p for p in need if p not in values]
    unknown = sorted(set(values) - set(need))
    if missing or unknown:
        raise ValueError(f"numeric_twin: the experiment's parameters are {list(need)}; "
                         f"missing {missing}, unknown {unknown}")
    vals = {}
    for k in need:
        validate(k, values[k])
        vals[k] = float(values[k])
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol = {tol!r} is outside the allowed range (0, 1)")
    n_qubits = len(exp.qubits)
    mode_count = sum(1 if isinstance(s, CatSource) else 2 if isinstance(s, SpinPhotonSource) else 0
                     for s in exp.steps)

    def dim(N: int) -> int:
        return 2**n_qubits * N**mode_count

    if cutoff is not None:
        if isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 2 or dim(cutoff) > MAX_DIM:
            raise ValueError(f"cutoff = {cutoff!r} is outside the allowed range: integers >= 2 with "
                             f"2^qubits * cutoff^modes <= {MAX_DIM}")
        obs = _run(exp, vals, cutoff)
        return {"Q_zz": obs[0], "e_zz": obs[1], "S": obs[2], "cutoff": cutoff, "converged": None,
                "history": [(cutoff, *obs)]}
    bound = _photon_bound(exp)
    N = bound + 1 if bound is not None else 6
    step = 1 if bound is not None else 2
    history = [(N, *_run(exp, vals, N))]
    while True:
        N += step
        if N > max_cutoff or dim(N) > MAX_DIM:
            _, Q, e, S = history[-1]
            return {"Q_zz": Q, "e_zz": e, "S": S, "cutoff": history[-1][0], "converged": False,
                    "history": history}
        history.append((N, *_run(exp, vals, N)))
        (_, *prev), (_, *cur) = history[-2], history[-1]
        if all(abs(x - y) <= max(tol * abs(x), 1e-14) for x, y in zip(cur, prev)):
            _, Q, e, S = history[-1]
            return {"Q_zz": Q, "e_zz": e, "S": S, "cutoff": N, "converged": True, "history": history}


def twin_vs_closed_form(protocol: Any, values: Mapping[str, float], **kw: Any) -> dict[str, float]:
    """Relative difference ``|twin - closed form| / |closed form|`` per observable
    (the absolute difference where the closed form is 0).

    ``protocol`` is one made by :meth:`Experiment.protocol`; ``values`` its
    free parameters in the most general scenario; ``kw`` go to :func:`numeric_twin`.
    """
    exp = getattr(protocol, "experiment", None)
    if exp is None:
        raise ValueError(f"{getattr(protocol, 'name', protocol)!r} was not built by Experiment.protocol: "
                         "it has no recorded experiment to replay")
    twin = numeric_twin(exp, values, **kw)
    closed = protocol.evaluate(**values)
    return {k: abs(twin[k] - closed[k]) / abs(closed[k]) if closed[k] != 0 else abs(twin[k])
            for k in ("Q_zz", "e_zz", "S")}


def sample_points(protocol: Any, n: int = 4, seed: int = 0, *, intensity_max: float = 0.5) -> list[dict[str, float]]:
    """``n`` random points of ``protocol``'s parameters inside their domains.

    Free (optimised) parameters are drawn from their search range capped at
    ``intensity_max``, unbounded parameters from ``[lo, lo + 1]``, the others
    from their domain; open bounds are kept clear by 1e-3 of the width.
    """
    import random

    if n < 1:
        raise ValueError(f"n = {n!r} is outside the allowed range [1, inf)")
    rng = random.Random(seed)
    free = dict(getattr(protocol, "free", {}) or {})
    out = []
    for _ in range(n):
        pt = {}
        for name in protocol.parameters:
            p = PARAMS[name]
            lo, hi = p.lo, (p.lo + 1.0 if p.hi is None else p.hi)
            if name in free:
                lo, hi = max(lo, free[name][0], min(0.01, intensity_max)), min(hi, free[name][1], intensity_max)
            pad = 1e-3 * (hi - lo)
            pt[name] = rng.uniform(lo + (pad if p.lo_open else 0.0), hi - (pad if p.hi_open else 0.0))
        out.append(pt)
    return out


def twin_check(protocol: Any, points: list[Mapping[str, float]] | None = None, *, n: int = 4, seed: int = 0,
               rtol: float = 1e-8, atol: float = 1e-12, **kw: Any) -> list[dict[str, Any]]:
    """Compare a builder-made protocol's closed forms with its numeric twin.

    One row per point and observable: ``point``, ``observable``, ``closed``,
    ``twin``, ``cutoff``, ``ok`` (``|twin - closed| <= max(rtol |closed|, atol)``
    and the cutoff converged).  ``points`` default to :func:`sample_points`.

    >>> from qkdsym.experiment import Experiment, Threshold
    >>> exp = (Experiment().cat_source("A", "a").cat_source("B", "b").loss("a").loss("b")
    ...        .beam_splitter(("a", "b"), out=("c", "d")).detectors({"c": Threshold(), "d": Threshold()})
    ...        .herald("D1", {"c": True, "d": False}).herald("D2", {"c": False, "d": True}, flips={"B1"}))
    >>> rows = twin_check(exp.protocol("ecs-lossy", "ECS, loss only"), n=2)
    >>> len(rows), all(r["ok"] for r in rows)
    (6, True)
    """
    exp = getattr(protocol, "experiment", None)
    if exp is None:
        raise ValueError(f"{getattr(protocol, 'name', protocol)!r} was not built by Experiment.protocol: "
                         "it has no recorded experiment to replay")
    rows = []
    for pt in (points if points is not None else sample_points(protocol, n, seed)):
        twin = numeric_twin(exp, pt, **kw)
        closed = protocol.evaluate(**pt)
        for k in ("Q_zz", "e_zz", "S"):
            ok = abs(twin[k] - closed[k]) <= max(rtol * abs(closed[k]), atol) and twin["converged"] is not False
            rows.append({"point": dict(pt), "observable": k, "closed": closed[k], "twin": twin[k],
                         "cutoff": twin["cutoff"], "ok": bool(ok)})
    return rows


def twin_rows(protocol: Any, points: list[Mapping[str, float]] | None = None, *, n: int = 4,
              seed: int = 0) -> list[Any]:
    """:func:`twin_check` as :class:`qkdsym.verify.runner.CheckRow` rows (kind ``"twin"``), the form
    ``qkdsym verify`` prints; agreement by the runner's criterion (:func:`~qkdsym.verify.runner.agree`)."""
    import time

    from .runner import CheckRow, agree

    rows = []
    for pt in (points if points is not None else sample_points(protocol, n, seed)):
        t0 = time.perf_counter()
        twin = numeric_twin(getattr(protocol, "experiment", protocol), pt)
        secs = time.perf_counter() - t0
        closed = protocol.evaluate(**pt)
        label = ", ".join(f"{k}={v:.4g}" for k, v in pt.items())
        for obs in ("Q_zz", "e_zz", "S"):
            a, b = float(closed[obs]), float(twin[obs])
            ok = agree(a, b) and twin["converged"] is not False
            rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
            rows.append(CheckRow(protocol.name, "twin", label, obs, "agree" if ok else "DIFFERENT",
                                 f"closed {a:.15g} vs twin {b:.15g} (rel {rel:.1e}, cutoff {twin['cutoff']}, "
                                 f"{secs:.2f} s)", ok))
    return rows
