"""The state algebra: qubits (x) multimode coherent-state superpositions.

See :mod:`qkdsym.algebra.state` for the representation and a worked example.
"""

from .state import Branch, Generator, Kernel, PhotonBranch, State, Term, exp_sum

__all__ = ["Branch", "Generator", "Kernel", "PhotonBranch", "State", "Term", "exp_sum"]
