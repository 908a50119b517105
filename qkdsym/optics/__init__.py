"""What acts on states: loss, phases, beam splitters, detectors, qubit measurements."""

from .detectors import PhotonNumberDetector, ThresholdDetector, parity, photon_number, trace_kernel
from .linear import beam_splitter, beam_splitter_matrix, loss, misalignment_phase, phase_shift
from .qubits import chi, chi_eigenvector, projector

__all__ = ["ThresholdDetector", "PhotonNumberDetector", "parity", "photon_number", "trace_kernel", "beam_splitter",
           "beam_splitter_matrix", "loss", "misalignment_phase", "phase_shift", "chi",
           "chi_eigenvector", "projector"]
