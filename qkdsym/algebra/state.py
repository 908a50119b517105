"""Symbolic states: qubits (x) multimode coherent-state superpositions.

A density operator is kept as a finite sum of terms

    coeff * exp(expo) * |q><q'|  (x)  ||a>><<b||

where ``q, q'`` are computational-basis labels of the qubit register and
``||a>> = exp(|a|^2/2)|a>`` is an *unnormalised* (Bargmann) multimode coherent
state.  The bra is stored through its conjugated amplitudes ``b_bar``; ket
amplitudes ``a`` and bra amplitudes ``b_bar`` are treated as independent
variables, so every operation below is holomorphic in them:

* inner product        <<b||a>>            = exp(b_bar . a)
* pure loss (eta)      ||a>><<b||  ->  exp((1-eta) b_bar a) ||sqrt(eta) a>><<sqrt(eta) b||
* passive optics U     a -> U a,  b_bar -> conj(U) b_bar
* a POVM element F     <<b|| F ||a>>  =  sum_j w_j (b_bar a)^m_j exp(lam_j b_bar a)

Because of this holomorphy, Fock states come from the same engine: a single
photon is ``|1> = d/ds ||s>>`` at ``s = 0``.  A state may carry *generators*
(pairs of ket/bra symbols with a derivative order); :meth:`State.trace`
differentiates with respect to them and sets them to zero at the very end,
which is exact because every operation is linear in the density operator.

Example
-------
A qubit entangled with a cat state keeps the coherence ``<-a|a> = exp(-2 mu)``
when the mode passes a lossy channel and is then traced out (the environment
is traced too), so ``<+x|rho_A|+x> = (1 + exp(-2 mu))/2`` for any ``eta``:

>>> import sympy as sp
>>> from qkdsym.algebra.state import Branch, State
>>> mu, eta = sp.symbols("mu eta", positive=True)
>>> a = sp.sqrt(mu)
>>> cat = State.coherent_superposition(
...     [Branch(1/sp.sqrt(2), {"A": 0}, {"m": a}), Branch(1/sp.sqrt(2), {"A": 1}, {"m": -a})])
>>> sp.simplify(cat.trace())
1
>>> off = cat.damp("m", eta).project_qubit("A", (1/sp.sqrt(2), 1/sp.sqrt(2))).trace()   # <+x|rho_A|+x> after loss
>>> sp.simplify(off - (1 + sp.exp(-2*mu))/2)
0
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from ..lazy import sp

__all__ = ["Term", "Branch", "PhotonBranch", "Generator", "Kernel", "State"]


@dataclass(frozen=True)
class Term:
    """One term ``coeff * exp(expo) * |qket><qbra| (x) ||ket>><<bra||``.

    ``bra`` holds the *conjugated* bra amplitudes (independent variables).
    """

    coeff: sp.Expr
    expo: sp.Expr
    qket: tuple[int, ...]
    qbra: tuple[int, ...]
    ket: tuple[sp.Expr, ...]
    bra: tuple[sp.Expr, ...]


@dataclass(frozen=True)
class Branch:
    """A branch ``amplitude * |qubits> (x) |coherent amplitudes>`` of a pure state.

    ``modes`` maps a mode name to its (normalised) coherent amplitude; a mode
    left out is in vacuum.
    """

    amplitude: sp.Expr
    qubits: Mapping[str, int]
    modes: Mapping[str, sp.Expr]


@dataclass(frozen=True)
class PhotonBranch:
    """A branch ``amplitude * |qubits> (x) |1>_mode`` (one photon in ``mode``)."""

    amplitude: sp.Expr
    qubits: Mapping[str, int]
    mode: str


@dataclass(frozen=True)
class Generator:
    """Ket/bra generating symbols: the state is ``(d/ds)^order (d/dt)^order / order!`` at 0."""

    ket: sp.Symbol
    bra: sp.Symbol
    order: int = 1


@dataclass(frozen=True)
class Kernel:
    """A POVM element in coherent-state form: ``sum_j w_j x^m_j exp(lam_j x)``, ``x = b_bar a``.

    ``parts`` is a tuple of ``(w, m, lam)``.  Built by :mod:`qkdsym.optics.detectors`.
    """

    parts: tuple[tuple[sp.Expr, int, sp.Expr], ...]
    label: str = ""


@dataclass(frozen=True)
class State:
    """A (possibly unnormalised) state of named qubits and named bosonic modes.

    States are immutable: every operation returns a new :class:`State`.
    """

    qubits: tuple[str, ...]
    modes: tuple[str, ...]
    terms: tuple[Term, ...]
    generators: tuple[Generator, ...] = field(default=())

    # ------------------------------------------------------------------ build
    @staticmethod
    def coherent_superposition(branches: Sequence[Branch], qubits: Sequence[str] | None = None,
                               modes: Sequence[str] | None = None) -> "State":
        """The pure state ``sum_i amplitude_i |qubits_i>|modes_i>`` as a density operator.

        Coherent states are normalised; the branch amplitudes are used as
        given (choose them so the state is normalised, or normalise later).
        """
        qubits = tuple(qubits) if qubits is not None else _names(b.qubits for b in branches)
        modes = tuple(modes) if modes is not None else _names(b.modes for b in branches)
        kets = []
        for b in branches:
            q = tuple(int(b.qubits.get(n, 0)) for n in qubits)
            amp = tuple(sp.sympify(b.modes.get(m, 0)) for m in modes)
            norm2 = sum((x * sp.conjugate(x) for x in amp), sp.Integer(0))
            kets.append((sp.sympify(b.amplitude), q, amp, norm2))
        terms = []
        for (ci, qi, ai, ni), (cj, qj, aj, nj) in itertools.product(kets, kets):
            terms.append(Term(ci * sp.conjugate(cj), -(ni + nj) / 2, qi, qj, ai,
                              tuple(sp.conjugate(x) for x in aj)))
        return State(qubits, modes, tuple(terms))

    @staticmethod
    def photon_superposition(branches: Sequence[PhotonBranch], qubits: Sequence[str] | None = None,
                             modes: Sequence[str] | None = None) -> "State":
        """The pure state ``sum_i amplitude_i |qubits_i> (x) |1>_{mode_i}``.

        Built as a generating function: one ket symbol ``s`` and one bra
        symbol ``t`` shared by all branches, differentiated once each at the end.
        """
        qubits = tuple(qubits) if qubits is not None else _names(b.qubits for b in branches)
        modes = tuple(modes) if modes is not None else tuple(dict.fromkeys(b.mode for b in branches))
        s, t = sp.Dummy("s"), sp.Dummy("t")
        terms = []
        for bi, bj in itertools.product(branches, branches):
            qi = tuple(int(bi.qubits.get(n, 0)) for n in qubits)
            qj = tuple(int(bj.qubits.get(n, 0)) for n in qubits)
            ket = tuple(s if m == bi.mode else sp.Integer(0) for m in modes)
            bra = tuple(t if m == bj.mode else sp.Integer(0) for m in modes)
            terms.append(Term(sp.sympify(bi.amplitude) * sp.conjugate(sp.sympify(bj.amplitude)),
                              sp.Integer(0), qi, qj, ket, bra))
        return State(qubits, modes, tuple(terms), (Generator(s, t, 1),))

    def tensor(self, other: "State") -> "State":
        """The product state ``self (x) other`` (names must be distinct)."""
        clash = (set(self.qubits) & set(other.qubits)) | (set(self.modes) & set(other.modes))
        if clash:
            raise ValueError(f"cannot tensor states sharing the names {sorted(clash)}")
        terms = tuple(
            Term(x.coeff * y.coeff, x.expo + y.expo, x.qket + y.qket, x.qbra + y.qbra,
                 x.ket + y.ket, x.bra + y.bra)
            for x, y in itertools.product(self.terms, other.terms)
        )
        return State(self.qubits + other.qubits, self.modes + other.modes, terms,
                     self.generators + other.generators)

    __matmul__ = tensor

    # ------------------------------------------------------------ mode maps
    def _mode_index(self, mode: str) -> int:
        try:
            return self.modes.index(mode)
        except ValueError:
            raise ValueError(f"unknown mode {mode!r}; modes are {list(self.modes)}") from None

    def _qubit_index(self, qubit: str) -> int:
        try:
            return self.qubits.index(qubit)
        except ValueError:
            raise ValueError(f"unknown qubit {qubit!r}; qubits are {list(self.qubits)}") from None

    def damp(self, mode: str, eta: sp.Expr) -> "State":
        """Pure-loss channel of transmittance ``eta`` on ``mode``."""
        k = self._mode_index(mode)
        eta = sp.sympify(eta)
        r = sp.sqrt(eta)
        out = []
        for t in self.terms:
            ket, bra = list(t.ket), list(t.bra)
            x = ket[k] * bra[k]
            ket[k], bra[k] = r * ket[k], r * bra[k]
            out.append(replace(t, expo=t.expo + (1 - eta) * x, ket=tuple(ket), bra=tuple(bra)))
        return replace(self, terms=tuple(out))

    def linear_map(self, modes: Sequence[str], matrix: sp.Matrix, out: Sequence[str] | None = None) -> "State":
        """Apply the passive linear-optics unitary ``matrix`` to ``modes``.

        ``matrix[i, j]`` maps input mode ``modes[j]`` to output mode
        ``out[i]`` (amplitudes ``a_out = U a_in``); the outputs replace the
        inputs in order and may be renamed with ``out``.
        """
        idx = [self._mode_index(m) for m in modes]
        U = sp.Matrix(matrix)
        if U.shape != (len(idx), len(idx)):
            raise ValueError(f"matrix shape {U.shape} does not match {len(idx)} modes")
        Uc = U.conjugate()
        new_terms = []
        for t in self.terms:
            ket, bra = list(t.ket), list(t.bra)
            a = sp.Matrix([ket[i] for i in idx])
            b = sp.Matrix([bra[i] for i in idx])
            a2, b2 = U * a, Uc * b
            for n, i in enumerate(idx):
                ket[i], bra[i] = sp.expand(a2[n]), sp.expand(b2[n])
            new_terms.append(replace(t, ket=tuple(ket), bra=tuple(bra)))
        names = list(self.modes)
        if out is not None:
            if len(out) != len(idx):
                raise ValueError("out must name one output per input mode")
            for n, i in enumerate(idx):
                names[i] = out[n]
            if len(set(names)) != len(names):
                raise ValueError(f"output names clash: {names}")
        return replace(self, modes=tuple(names), terms=tuple(new_terms))

    # ------------------------------------------------------- measurements
    def apply_kernel(self, mode: str, kernel: Kernel) -> "State":
        """Trace out ``mode`` against the POVM element ``kernel`` (mode removed)."""
        k = self._mode_index(mode)
        out = []
        for t in self.terms:
            x = t.ket[k] * t.bra[k]
            ket = t.ket[:k] + t.ket[k + 1:]
            bra = t.bra[:k] + t.bra[k + 1:]
            for w, m, lam in kernel.parts:
                out.append(Term(t.coeff * w * x**m, t.expo + lam * x, t.qket, t.qbra, ket, bra))
        return State(self.qubits, self.modes[:k] + self.modes[k + 1:], tuple(out), self.generators)

    def project_qubit(self, qubit: str, vector: Sequence[sp.Expr]) -> "State":
        """Apply the (unnormalised) projector ``|v><v|`` on ``qubit`` and trace it out."""
        v = sp.Matrix([sp.sympify(x) for x in vector])
        return self.apply_qubit_operator(qubit, v * v.H)

    def apply_qubit_operator(self, qubit: str, operator: sp.Matrix) -> "State":
        """Replace ``rho`` by ``Tr_qubit[O rho]`` for a 2x2 operator ``O`` (qubit removed).

        With a projector this is a measurement outcome; with an observable
        such as ``sigma_z`` it gives the unnormalised expectation value.
        """
        k = self._qubit_index(qubit)
        O = sp.Matrix(operator)
        if O.shape != (2, 2):
            raise ValueError(f"qubit operator must be 2x2, got shape {O.shape}")
        out = []
        for t in self.terms:
            f = O[t.qbra[k], t.qket[k]]
            if f == 0:
                continue
            out.append(replace(t, coeff=t.coeff * f, qket=t.qket[:k] + t.qket[k + 1:],
                               qbra=t.qbra[:k] + t.qbra[k + 1:]))
        return State(self.qubits[:k] + self.qubits[k + 1:], self.modes, tuple(out), self.generators)

    def trace_qubit(self, qubit: str) -> "State":
        """Partial trace over ``qubit``."""
        k = self._qubit_index(qubit)
        out = [replace(t, qket=t.qket[:k] + t.qket[k + 1:], qbra=t.qbra[:k] + t.qbra[k + 1:])
               for t in self.terms if t.qket[k] == t.qbra[k]]
        return State(self.qubits[:k] + self.qubits[k + 1:], self.modes, tuple(out), self.generators)

    def trace_mode(self, mode: str) -> "State":
        """Partial trace over ``mode``."""
        return self.apply_kernel(mode, Kernel(((sp.Integer(1), 0, sp.Integer(1)),), "trace"))

    # -------------------------------------------------------------- scalar
    def trace(self) -> sp.Expr:
        """Full trace: a SymPy expression, a canonical sum of exponentials.

        Remaining qubits and modes are traced out, generator derivatives are
        taken and the generators set to zero; terms with equal exponents are
        merged and each coefficient factorised.
        """
        st = self
        for q in st.qubits:
            st = st.trace_qubit(q)
        for m in st.modes:
            st = st.trace_mode(m)
        pairs = [(t.coeff, sp.expand(t.expo)) for t in st.terms]
        for g in st.generators:
            pairs = _differentiate(pairs, g)
        return exp_sum(pairs)

    def probability(self, qubit_vectors: Mapping[str, Sequence[sp.Expr]],
                    kernels: Mapping[str, Kernel]) -> sp.Expr:
        """``Tr[(P_q1 (x) ... (x) F_m1 (x) ...) rho]`` for qubit projectors and mode POVM elements.

        Qubits/modes not named are traced out.
        """
        st = self
        for q, v in qubit_vectors.items():
            st = st.project_qubit(q, v)
        for m, k in kernels.items():
            st = st.apply_kernel(m, k)
        return st.trace()


def _names(dicts: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for d in dicts:
        for k in d:
            seen.setdefault(k, None)
    return tuple(seen)


def _differentiate(pairs: list[tuple[sp.Expr, sp.Expr]], g: Generator) -> list[tuple[sp.Expr, sp.Expr]]:
    """Apply ``(d/ds)^n (d/dt)^n / n!`` to ``sum c exp(E)`` and set ``s = t = 0``."""
    for var in (g.ket, g.bra):
        for _ in range(g.order):
            nxt = []
            for c, e in pairs:
                dc = sp.diff(c, var)
                de = sp.diff(e, var)
                if dc != 0:
                    nxt.append((dc, e))
                if de != 0:
                    nxt.append((c * de, e))
            pairs = nxt
    sub = {g.ket: 0, g.bra: 0}
    scale = sp.Integer(1) / sp.factorial(g.order)
    return [(c.subs(sub) * scale, sp.expand(e.subs(sub))) for c, e in pairs]


def exp_sum(pairs: Iterable[tuple[sp.Expr, sp.Expr]]) -> sp.Expr:
    """Merge ``sum_i c_i exp(E_i)`` by equal (expanded) exponents; factor coefficients."""
    groups: dict[sp.Expr, sp.Expr] = {}
    for c, e in pairs:
        e = sp.expand(e)
        groups[e] = groups.get(e, sp.Integer(0)) + c
    out = sp.Integer(0)
    for e, c in groups.items():
        c = sp.factor(sp.expand(c))
        if c != 0:
            out += c * sp.exp(e)
    return out
