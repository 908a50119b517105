"""Qubit measurements along ``chi_theta = cos(theta) sigma_z + sin(theta) sigma_x``.

Basis: ``|+z> = (1, 0)``, ``|-z> = (0, 1)``.  The eigenvector of outcome ``+1``
is ``cos(theta/2)|+z> + sin(theta/2)|-z>`` and of ``-1`` is
``sin(theta/2)|+z> - cos(theta/2)|-z>``.

Example
-------
>>> import sympy as sp
>>> from qkdsym.optics.qubits import chi, chi_eigenvector
>>> chi(sp.pi/2)
Matrix([
[0, 1],
[1, 0]])
>>> v = sp.Matrix(chi_eigenvector(sp.pi/4, -1))
>>> sp.simplify(chi(sp.pi/4) * v + v)
Matrix([
[0],
[0]])
"""

from __future__ import annotations

from ..lazy import sp

__all__ = ["SIGMA_X", "SIGMA_Z", "chi", "chi_eigenvector", "projector"]

SIGMA_Z = sp.Matrix([[1, 0], [0, -1]])
SIGMA_X = sp.Matrix([[0, 1], [1, 0]])


def chi(theta: sp.Expr) -> sp.Matrix:
    """The observable ``cos(theta) sigma_z + sin(theta) sigma_x``."""
    th = sp.sympify(theta)
    return sp.cos(th) * SIGMA_Z + sp.sin(th) * SIGMA_X


def chi_eigenvector(theta: sp.Expr, outcome: int) -> tuple[sp.Expr, sp.Expr]:
    """Eigenvector of ``chi_theta`` for ``outcome`` in ``{+1, -1}``."""
    th = sp.sympify(theta) / 2
    if outcome == 1:
        return (sp.cos(th), sp.sin(th))
    if outcome == -1:
        return (sp.sin(th), -sp.cos(th))
    raise ValueError(f"outcome = {outcome!r} is outside the allowed set {{+1, -1}}")


def projector(theta: sp.Expr, outcome: int) -> sp.Matrix:
    """``(1 + outcome * chi_theta)/2``."""
    return (sp.eye(2) + outcome * chi(theta)) / 2
