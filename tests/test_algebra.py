"""The state algebra's primitives against results worked out by hand."""

from __future__ import annotations

import pytest
import sympy as sp

from qkdsym.algebra import Branch, PhotonBranch, State
from qkdsym.algebra.simplify import compact, compact_ratio, exp_terms
from qkdsym.optics import (ThresholdDetector, beam_splitter, beam_splitter_matrix, loss, parity,
                           phase_shift, photon_number, trace_kernel)

x, y = sp.symbols("x y", positive=True)
eta, eD, pd, T, phi = sp.symbols("eta eta_D p_d T phi", positive=True)


def coherent(**modes):
    return State.coherent_superposition([Branch(1, {}, modes)])


def zero(expr) -> bool:
    return sp.simplify(expr) == 0


def test_coherent_state_is_normalised():
    assert zero(coherent(m=x).trace() - 1)
    assert zero(coherent(m=x, n=y * sp.exp(sp.I * phi)).trace() - 1)


def test_cat_coherence_is_the_overlap_of_its_branches():
    # rho_A off-diagonal = <-x|x>/2 = exp(-2 x^2)/2 for (|0>|x> + |1>|-x>)/sqrt2
    r = 1 / sp.sqrt(2)
    cat = State.coherent_superposition([Branch(r, {"A": 0}, {"m": x}), Branch(r, {"A": 1}, {"m": -x})])
    sx = sp.Matrix([[0, 1], [1, 0]])
    assert zero(cat.apply_qubit_operator("A", sx).trace() - sp.exp(-2 * x**2))


def test_loss_keeps_trace_and_scales_photon_number():
    st = loss(coherent(m=x), "m", eta)
    assert zero(st.trace() - 1)
    assert st.terms[0].ket == (sp.sqrt(eta) * x,)
    # vacuum probability of |sqrt(eta) x>: exp(-eta x^2)
    assert zero(st.probability({}, {"m": photon_number(0)}) - sp.exp(-eta * x**2))


def test_loss_decoheres_a_cat_by_the_environment_overlap():
    # after loss, the mode's coherence between |sqrt(eta) x> and |-sqrt(eta) x> keeps exp(-2 x^2) in total,
    # but the *mode* parity drops: <parity> = exp(-2 eta x^2) for |x> (same for -x)
    st = loss(coherent(m=x), "m", eta)
    assert zero(st.probability({}, {"m": parity()}) - sp.exp(-2 * eta * x**2))


def test_threshold_detector_with_efficiency_and_dark_counts():
    det = ThresholdDetector(eD, pd)
    st = coherent(m=x)
    assert zero(st.probability({}, {"m": det.click()}) - (1 - (1 - pd) * sp.exp(-eD * x**2)))
    assert zero(st.probability({}, {"m": det.no_click()}) + st.probability({}, {"m": det.click()}) - 1)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_photon_number_distribution_is_poissonian(n):
    p = coherent(m=x).probability({}, {"m": photon_number(n)})
    assert zero(p - sp.exp(-x**2) * x**(2 * n) / sp.factorial(n))


def test_photon_number_with_efficiency_is_thinned_poisson():
    p = coherent(m=x).probability({}, {"m": photon_number(1, eD)})
    assert zero(p - sp.exp(-eD * x**2) * eD * x**2)


def test_beam_splitter_maps_coherent_amplitudes():
    st = beam_splitter(coherent(a=x, b=y), ("a", "b"), out=("c", "d"))
    c, d = st.terms[0].ket
    assert zero(c - (x + y) / sp.sqrt(2)) and zero(d - (x - y) / sp.sqrt(2))
    assert st.modes == ("c", "d")


@pytest.mark.parametrize("Tval", [sp.Rational(1, 2), sp.Rational(1, 3), sp.Rational(9, 10), sp.Integer(1)])
def test_beam_splitter_matrix_is_unitary(Tval):
    U = beam_splitter_matrix(Tval)
    assert (U.H * U).applyfunc(sp.simplify) == sp.eye(2)


def test_phase_shift_conjugates_the_bra():
    st = phase_shift(coherent(m=x), "m", phi)
    t = st.terms[0]
    assert zero(t.ket[0] - x * sp.exp(sp.I * phi))
    assert zero(t.bra[0] - x * sp.exp(-sp.I * phi))
    assert zero(st.trace() - 1)


def test_single_photon_click_probability_is_the_transmittance():
    st = loss(State.photon_superposition([PhotonBranch(1, {}, "m")]), "m", eta)
    assert zero(st.trace() - 1)
    assert zero(st.probability({}, {"m": ThresholdDetector(1, pd).click()}) - (1 - (1 - pd) * (1 - eta)))


def test_hong_ou_mandel_dip():
    # two single photons in a and b: no coincidence after a 50:50 beam splitter
    st = State.photon_superposition([PhotonBranch(1, {}, "a")]) @ State.photon_superposition([PhotonBranch(1, {}, "b")])
    st = beam_splitter(st, ("a", "b"), out=("c", "d"))
    click = ThresholdDetector().click()
    assert zero(st.probability({}, {"c": click, "d": click}))
    assert zero(st.probability({}, {"c": photon_number(2), "d": photon_number(0)}) - sp.Rational(1, 2))
    assert zero(st.trace() - 1)


def test_spin_photon_pair_is_maximally_entangled():
    r = 1 / sp.sqrt(2)
    st = State.photon_superposition([PhotonBranch(r, {"A": 0}, "H"), PhotonBranch(r, {"A": 1}, "V")])
    # measuring the photon's H mode projects the spin on |0>
    p = st.probability({"A": (1, 0)}, {"H": photon_number(1), "V": photon_number(0)})
    assert zero(p - sp.Rational(1, 2))
    assert zero(st.probability({"A": (0, 1)}, {"H": photon_number(1)}))


def test_trace_preserved_through_a_full_interferometer():
    r = 1 / sp.sqrt(2)
    cat = lambda q, m: State.coherent_superposition([Branch(r, {q: 0}, {m: x}), Branch(r, {q: 1}, {m: -x})])
    st = beam_splitter(phase_shift(loss(cat("A", "a") @ cat("B", "b"), "a", eta), "b", phi), ("a", "b"))
    assert zero(st.trace() - 1)


@pytest.mark.parametrize("call, message", [
    (lambda: coherent(m=x) @ coherent(m=y), "sharing the names"),
    (lambda: loss(coherent(m=x), "q", eta), "unknown mode 'q'"),
    (lambda: coherent(m=x).project_qubit("A", (1, 0)), "unknown qubit 'A'"),
    (lambda: coherent(m=x).linear_map(["m"], sp.eye(2)), "does not match 1 modes"),
    (lambda: coherent(a=x, b=y).linear_map(["a", "b"], sp.eye(2), out=["c"]), "one output per input"),
    (lambda: photon_number(-1), "outside the allowed range"),
], ids=["tensor-clash", "unknown-mode", "unknown-qubit", "matrix-shape", "out-names", "negative-n"])
def test_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_trace_kernel_equals_partial_trace():
    st = coherent(a=x, b=y)
    assert zero(st.apply_kernel("a", trace_kernel()).trace() - st.trace_mode("a").trace())


def test_exp_terms_and_compaction_round_trip():
    e = (1 - pd) * (1 - (1 - 2 * pd) * sp.exp(-2 * x * eta))
    pairs = exp_terms(e)
    assert zero(sum(c * sp.exp(E) for c, E in pairs) - e)
    assert zero(compact(e) - e)
    r = compact_ratio(pd * sp.exp(-2 * x), (1 + pd) * sp.exp(-2 * x))
    assert zero(r - pd / (1 + pd)) and not r.has(sp.exp)
