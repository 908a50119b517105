"""Passive linear optics: beam splitters, phase shifts, loss, misalignment.

Conventions (those of Xie et al.): a beam splitter with inputs ``a, b`` and
outputs ``c = (a + b)/sqrt2``, ``d = (a - b)/sqrt2``, i.e. coherent amplitudes
``|x>_a |y>_b -> |(x+y)/sqrt2>_c |(x-y)/sqrt2>_d``; with transmissivity ``T``
the matrix is ``[[sqrt T, sqrt(1-T)], [sqrt(1-T), -sqrt T]]``.  A phase shift
``phi`` maps ``|x> -> |x e^{i phi}>``.  A misalignment error ``e_d`` is a phase
``delta`` between two interfering pulses with ``e_d = (1 - cos delta)/2``.

Example
-------
Two equal coherent pulses leave a 50:50 beam splitter entirely in ``c``:

>>> import sympy as sp
>>> from qkdsym.algebra import Branch, State
>>> from qkdsym.optics.linear import beam_splitter
>>> x = sp.Symbol("x", positive=True)
>>> st = State.coherent_superposition([Branch(1, {}, {"a": x, "b": x})])
>>> beam_splitter(st, ("a", "b"), out=("c", "d")).terms[0].ket
(sqrt(2)*x, 0)
"""

from __future__ import annotations

from typing import Sequence

from ..lazy import sp

from ..algebra.state import State

__all__ = ["beam_splitter_matrix", "beam_splitter", "phase_shift", "loss", "misalignment_phase"]


def beam_splitter_matrix(T: sp.Expr = sp.Rational(1, 2)) -> sp.Matrix:
    """Amplitude map ``(c, d) = U (a, b)`` of a beam splitter of transmissivity ``T``."""
    t, r = sp.sqrt(sp.sympify(T)), sp.sqrt(1 - sp.sympify(T))
    return sp.Matrix([[t, r], [r, -t]])


def beam_splitter(state: State, modes: Sequence[str], out: Sequence[str] | None = None,
                  T: sp.Expr = sp.Rational(1, 2)) -> State:
    """Interfere ``modes = (a, b)`` on a beam splitter; outputs named ``out = (c, d)``."""
    return state.linear_map(modes, beam_splitter_matrix(T), out)


def phase_shift(state: State, mode: str, phi: sp.Expr) -> State:
    """Phase shift ``|x> -> |x e^{i phi}>`` on ``mode``."""
    return state.linear_map([mode], sp.Matrix([[sp.exp(sp.I * sp.sympify(phi))]]))


def loss(state: State, mode: str, eta: sp.Expr) -> State:
    """Pure-loss channel of transmittance ``eta`` (fibre, detector inefficiency) on ``mode``."""
    return state.damp(mode, eta)


def misalignment_phase(e_d: sp.Expr) -> sp.Expr:
    """The phase ``delta`` in ``[0, pi]`` with ``e_d = (1 - cos delta)/2``."""
    return sp.acos(1 - 2 * sp.sympify(e_d))
