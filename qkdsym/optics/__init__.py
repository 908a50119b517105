"""What acts on states: loss, phases, beam splitters, detectors, qubit measurements.

Names are imported on first use (the modules build SymPy objects), so that a
numeric path importing e.g. :mod:`qkdsym.optics.sps_numbers` stays light.
"""

from __future__ import annotations

from typing import Any

_WHERE = {"ThresholdDetector": "detectors", "PhotonNumberDetector": "detectors", "parity": "detectors",
          "photon_number": "detectors", "trace_kernel": "detectors", "beam_splitter": "linear",
          "beam_splitter_matrix": "linear", "loss": "linear", "misalignment_phase": "linear",
          "phase_shift": "linear", "chi": "qubits", "chi_eigenvector": "qubits", "projector": "qubits"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'qkdsym.optics' has no attribute {name!r}")
