"""Compiled rate functions (:mod:`qkdsym.compile`): accuracy, stability, shapes, validation.

The reference throughout is the *original derived expression* (not the
stabilised one) evaluated with mpmath at adaptive precision until two
precisions agree to 1e-40 (:func:`~qkdsym.protocols.base.adaptive_eval`), with
the float inputs taken as their exact binary values.  Tolerances:

* observables ``Q_zz``, ``e_zz``, ``S``: relative 1e-10 wherever the true value
  is nonzero; where it is exactly 0 the compiled value is 0 or below 1e-300;
* key rate: relative 1e-9 where it is well conditioned (see
  :func:`test_rate_matches_mpmath_where_well_conditioned`), a derived
  first-order error bound near the CHSH threshold;
* mpmath backend vs NumPy backend: relative 1e-12.

Points: a deterministic pseudo-random sample of the physical domain
(``mu`` log-uniform in [1e-3, 2], ``eta`` log-uniform in [1e-30, 1], ``p_d`` 0
for a third of the points else log-uniform in [1e-12, 0.1], ``e_d`` 0 for a
third else uniform in [0, 0.45]) plus a product grid of corner values.  A few
hundred points per scenario always run; a sweep of several thousand is marked
``slow``.

Known limit, tested as such: inputs whose small parameters multiply below
1e-153 (products would underflow doubles) are refused with a pointer to the
mpmath backend, which gets them right
(:func:`test_subnormal_inputs_are_refused_not_miscomputed`).
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1

from qkdsym.compile import compile_protocol, stabilize
from qkdsym.compile.codegen import prepare
from qkdsym.protocols import get_protocol
from qkdsym.protocols.base import adaptive_eval
from qkdsym.protocols.ecs_diqkd import chsh_threshold

OBS = ("Q_zz", "e_zz", "S")
REF_REL = mpmath.mpf(10) ** -40   # reference: two mpmath precisions agree to 40 digits
OBS_RTOL = 1e-10                  # compiled observables vs reference
TINY = 1e-300                     # |compiled| allowed where the true value is exactly 0
RATE_RTOL = 1e-9                  # compiled key rate vs reference, well-conditioned points
BACKEND_RTOL = 1e-12              # mpmath backend vs numpy backend
U = 2.0 ** -53                    # unit roundoff of doubles
N_FAST, N_SLOW = 300, 4000        # random points per scenario

SCENARIOS = [(p, s.name) for p in ("ecs-diqkd", "bell-diqkd") for s in get_protocol(p).scenarios]


def sid(protocol: str, scenario: str, *rest: str) -> str:
    return "/".join((protocol, scenario, *rest))


def scenario_params():
    """Every scenario, bell-diqkd [ideal] (no free parameter: ``observables()`` takes no argument) included."""
    return [pytest.param(p, s, id=sid(p, s)) for p, s in SCENARIOS]


WITH_PARAMS = [pytest.param(p, s, id=sid(p, s)) for p, s in SCENARIOS
               if get_protocol(p).derive(s).parameters]


# ----------------------------------------------------------------- points
def sample(params: tuple[str, ...], n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` deterministic pseudo-random points of the physical domain (module docstring)."""
    rng = np.random.default_rng(seed)
    cols = {  # every column is always drawn, so a scenario's points do not depend on the others
        "mu": 10 ** rng.uniform(-3, math.log10(2), n),
        "eta": 10 ** rng.uniform(-30, 0, n),
        "p_d": np.where(rng.random(n) < 1 / 3, 0.0, 10 ** rng.uniform(-12, -1, n)),
        "e_d": np.where(rng.random(n) < 1 / 3, 0.0, rng.uniform(0, 0.45, n)),
    }
    return {p: cols[p] for p in params}


CORNERS = {"mu": (1e-3, 0.1, 0.4406867935, 2.0), "eta": (1e-30, 1e-10, 1e-3, 1.0),
           "p_d": (0.0, 1e-12, 1e-6, 0.1), "e_d": (0.0, 0.01, 0.45)}


def corners(params: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Product grid of corner values (eta=1e-30 with p_d=0, eta=1, mu=1e-3, e_d=0.45, p_d=0.1, ...)."""
    grid = np.meshgrid(*[np.array(CORNERS[p]) for p in params], indexing="ij")
    return {p: g.ravel() for p, g in zip(params, grid)}


def points(params: tuple[str, ...], n: int, seed: int) -> dict[str, np.ndarray]:
    a, b = sample(params, n, seed), corners(params)
    return {p: np.concatenate([a[p], b[p]]) for p in params}


@lru_cache(maxsize=None)
def mp_functions(protocol: str, scenario: str) -> dict:
    d = get_protocol(protocol).derive(scenario)
    return {k: sp.lambdify(d.symbols, v, modules="mpmath") for k, v in d.expressions.items()}


def reference(protocol: str, scenario: str, pt: dict[str, float], keys=OBS) -> dict[str, mpmath.mpf]:
    """The derived expressions at ``pt`` (exact binary float inputs), 40 correct digits."""
    d = get_protocol(protocol).derive(scenario)
    f = mp_functions(protocol, scenario)
    args = [float(pt[p]) for p in d.parameters]
    return {k: adaptive_eval(f[k], args, rel=REF_REL) for k in keys}


@lru_cache(maxsize=None)
def references(protocol: str, scenario: str, n: int, seed: int):
    d = get_protocol(protocol).derive(scenario)
    pts = points(d.parameters, n, seed)
    m = len(next(iter(pts.values()))) if pts else 1
    refs = [reference(protocol, scenario, {p: pts[p][i] for p in d.parameters}) for i in range(m)]
    return pts, refs


def rel_err(got: float, ref: mpmath.mpf) -> float:
    return float(abs((mpmath.mpf(float(got)) - ref) / ref))


def check_accuracy(protocol: str, scenario: str, n: int, seed: int) -> dict[str, float]:
    """Compiled vs reference at every point; returns the worst relative error per observable."""
    model = compile_protocol(protocol, scenario)
    pts, refs = references(protocol, scenario, n, seed)
    got = model.observables(**pts)
    worst = {}
    for k in OBS:
        vals = np.broadcast_to(got[k], (len(refs),))
        bad, w = [], 0.0
        for i, (g, r) in enumerate(zip(vals, refs)):
            pt = {p: float(pts[p][i]) for p in pts}
            if r[k] == 0:
                if not abs(g) <= TINY:
                    bad.append(f"{k} at {pt}: true value 0, compiled {g!r} (allowed |.| <= {TINY})")
                continue
            e = rel_err(g, r[k])
            w = max(w, e)
            if not e <= OBS_RTOL:
                bad.append(f"{k} at {pt}: expected {mpmath.nstr(r[k], 20)}, compiled {g!r}, rel err {e:.3e}")
        assert not bad, f"{len(bad)} point(s) beyond rel {OBS_RTOL}:\n" + "\n".join(bad[:10])
        worst[k] = w
    return worst


# ------------------------------------------------------ a. observables accuracy
@pytest.mark.parametrize("protocol, scenario", scenario_params())
def test_every_scenario_compiles(protocol, scenario):
    m = compile_protocol(protocol, scenario)
    assert m.parameters == get_protocol(protocol).derive(scenario).parameters
    assert m.outputs == OBS


@pytest.mark.parametrize("protocol, scenario", scenario_params())
def test_observables_match_derived_expressions(protocol, scenario):
    """Relative 1e-10 (exact 0 -> |compiled| <= 1e-300) at 300 random points + the corner grid."""
    worst = check_accuracy(protocol, scenario, N_FAST, seed=20240601)
    print(sid(protocol, scenario), {k: f"{v:.2e}" for k, v in worst.items()})


@pytest.mark.slow
@pytest.mark.parametrize("protocol, scenario", scenario_params())
def test_observables_match_derived_expressions_sweep(protocol, scenario):
    """As above on 4000 further random points per scenario."""
    worst = check_accuracy(protocol, scenario, N_SLOW, seed=7)
    print(sid(protocol, scenario), {k: f"{v:.2e}" for k, v in worst.items()})


# ------------------------------------------------------------ b. key rate
def mp_h(p):
    return mpmath.mpf(0) if p in (0, 1) else -(p * mpmath.log(p, 2) + (1 - p) * mpmath.log(1 - p, 2))


def rate_terms(Q, e, S):
    """Reference pieces at 50 digits: ``(margin, bracket, sensitivity)``.

    ``bracket = T1 - h(e)`` with ``T1 = 1 - h((1 + x)/2)``, ``x = sqrt((S/2)^2 - 1)``
    (``T1 = 0`` for ``|S| <= 2``).  ``sensitivity`` bounds the change of the
    bracket under relative perturbations ``eps`` of ``S``, ``e`` (and of the
    bracket's own two terms) divided by ``eps``:
    ``T1 + h(e) + |S dT1/dS| + |e dh/de|`` with
    ``S dT1/dS = S^2/(8x) log2((1+x)/(1-x))`` (-> ``S^2/(4 ln 2)`` as ``x -> 0``;
    ``1 - x`` is floored at 2^-53, the resolution of a double).
    """
    with mpmath.workdps(50):
        Q, e, S = (mpmath.mpf(v) for v in (Q, e, S))
        x2 = (S / 2) ** 2 - 1
        if x2 > 0:
            x = min(mpmath.sqrt(x2), mpmath.mpf(1))
            T1 = 1 - mp_h((1 + x) / 2)
            one_minus_x = max(1 - x, mpmath.mpf(2) ** -53)
            dT1 = S**2 / (8 * x) * mpmath.log((2 - one_minus_x) / one_minus_x, 2)
        else:
            T1, dT1 = mpmath.mpf(0), S**2 / (4 * mpmath.log(2))
        he = mp_h(e)
        dh = abs(e * mpmath.log((1 - e) / e, 2)) if 0 < e < 1 else mpmath.mpf(0)
        bracket = T1 - he
        return Q * bracket, bracket, T1 + he + abs(dT1) + dh


def rate_points(params, n, seed):
    """Points where the rate tends to be positive (ecs: small mu, modest loss)."""
    rng = np.random.default_rng(seed)
    cols = {"mu": 10 ** rng.uniform(-3, math.log10(0.44), n),
            "eta": 10 ** rng.uniform(-2, 0, n) if "mu" in params else 10 ** rng.uniform(-0.3, 0, n),
            "p_d": np.where(rng.random(n) < 1 / 3, 0.0, 10 ** rng.uniform(-12, -3, n)),
            "e_d": np.where(rng.random(n) < 1 / 3, 0.0, rng.uniform(0, 0.05, n))}
    return {p: cols[p] for p in params}


@pytest.mark.parametrize("protocol, scenario", scenario_params())
def test_rate_matches_mpmath_where_well_conditioned(protocol, scenario):
    """Compiled ``rate`` and ``margin`` vs ``Q[1 - h(e) - h((1+sqrt((S/2)^2-1))/2)]`` at 50 digits.

    Well-conditioned means ``S - 2 > 1e-4`` and ``|bracket| >= 1e-4 * sensitivity``
    (:func:`rate_terms`): a relative error ``eps`` in the compiled ``Q``, ``e``,
    ``S`` then moves the rate by at most ``~(1 + 1e4) eps``; with ``eps <= 1e-13``
    (the observables' accuracy, test above) that is below the tolerance, relative
    1e-9.  Where the reference margin is negative the compiled rate must be
    exactly 0.  At least 100 points (of 400) are well conditioned.
    """
    d = get_protocol(protocol).derive(scenario)
    model = compile_protocol(protocol, scenario)
    pts = rate_points(d.parameters, 400, seed=11)
    n = len(next(iter(pts.values()))) if pts else 1
    R, M = model.rate(**pts), model.margin(**pts)
    R, M = np.broadcast_to(R, (n,)), np.broadcast_to(M, (n,))
    used, bad, worst = 0, [], 0.0
    for i in range(n):
        pt = {p: float(pts[p][i]) for p in d.parameters}
        ref = reference(protocol, scenario, pt)
        if not ref["S"] - 2 > 1e-4:
            continue
        margin, bracket, sens = rate_terms(ref["Q_zz"], ref["e_zz"], ref["S"])
        if not abs(bracket) >= 1e-4 * sens:
            continue
        used += 1
        for name, got, want in (("rate", R[i], max(margin, 0)), ("margin", M[i], margin)):
            if want == 0:
                ok, e = got == 0, float(abs(got))
            else:
                e = rel_err(got, want)
                ok = e <= RATE_RTOL
                worst = max(worst, e)
            if not ok:
                bad.append(f"{name} at {pt}: expected {mpmath.nstr(want, 17)}, compiled {got!r}")
    assert used >= min(100, n), f"only {used} well-conditioned points"
    assert not bad, f"beyond rel {RATE_RTOL}:\n" + "\n".join(bad[:10])
    print(sid(protocol, scenario), f"{used} points, worst rel err {worst:.2e}")


@pytest.mark.parametrize("protocol, scenario", [pytest.param("ecs-diqkd", "misalignment", id="ecs-diqkd/misalignment"),
                                                pytest.param("bell-diqkd", "loss-dark", id="bell-diqkd/loss-dark")])
def test_rate_numpy_backend_matches_mpmath_backend(protocol, scenario):
    """At 15 well-conditioned points (as above) the two backends' rates agree to relative 1e-9."""
    d = get_protocol(protocol).derive(scenario)
    fast, slow = compile_protocol(protocol, scenario), compile_protocol(protocol, scenario, backend="mpmath")
    pts = rate_points(d.parameters, 200, seed=5)
    checked = 0
    for i in range(200):
        pt = {p: float(pts[p][i]) for p in d.parameters}
        ref = reference(protocol, scenario, pt)
        margin, bracket, sens = rate_terms(ref["Q_zz"], ref["e_zz"], ref["S"])
        if not (ref["S"] - 2 > 1e-4 and bracket >= 1e-4 * sens):
            continue
        assert fast.rate(**pt) == pytest.approx(float(slow.rate(**pt)), rel=RATE_RTOL, abs=0), pt
        checked += 1
        if checked == 15:
            break
    assert checked == 15


MU_STAR = float(chsh_threshold())  # 0.44068679350977147: S = 2 in the ideal ecs scenario


@pytest.mark.parametrize("offset", [-1e-4, -1e-6, -1e-8, -1e-10, -1e-12, 0.0, 1e-12, 1e-10, 1e-6, 1e-4],
                         ids=lambda o: f"mu*{o:+g}")
def test_rate_near_chsh_threshold(offset):
    """Ideal ecs scenario, ``mu = mu* + offset`` where ``S(mu*) = 2``: finite, >= 0, near mpmath.

    Tolerance: near ``S = 2`` the rate is ``Q T1(S)`` with ``T1 ~ (S - 2)/(2 ln 2)``;
    ``S`` itself is a sum of order-1 terms, so its absolute error is a few ulp of
    2 whatever ``S - 2`` is.  Budgeting a relative error of 8u (u = 2^-53) in
    the compiled ``Q`` and ``S`` (and in the bracket's own evaluation), first-order
    propagation gives ``|R - R_ref| <= 8u Q (T1 + |S dT1/dS|) + 8u R_ref``, with
    ``|S dT1/dS| -> S^2/(4 ln 2) ~ 1.44`` at the threshold (:func:`rate_terms`).
    At ``mu* - 1e-6`` that is 1.5e-9 relative; at ``mu* - 1e-12`` 1.5e-3 relative,
    i.e. the rate is determined only to the absolute accuracy of ``S``.
    """
    mu = MU_STAR + offset
    model = compile_protocol("ecs-diqkd", "ideal")
    R, M = model.rate(mu=mu), model.margin(mu=mu)
    assert isinstance(R, float) and math.isfinite(R) and R >= 0
    assert math.isfinite(M)
    ref = reference("ecs-diqkd", "ideal", {"mu": mu})
    margin, bracket, sens = rate_terms(ref["Q_zz"], ref["e_zz"], ref["S"])
    want = max(margin, 0)
    tol = 8 * U * ref["Q_zz"] * sens + 8 * U * want
    assert abs(R - want) <= tol, f"R = {R!r}, mpmath {mpmath.nstr(want, 17)}, tol {mpmath.nstr(tol, 3)}"
    assert abs(M - margin) <= tol, f"margin = {M!r}, mpmath {mpmath.nstr(margin, 17)}"
    if offset <= -1e-6:
        assert R > 0
    if offset >= 1e-6:
        assert R == 0.0 and M <= 0  # e_zz = 0 here, so the margin -Q h(e) is 0 below threshold
    slow = compile_protocol("ecs-diqkd", "ideal", backend="mpmath").rate(mu=mu)
    assert abs(R - float(slow)) <= 2 * tol


# ------------------------------------------------- c. stabilisation is exact
def expression_params():
    out = []
    for p, s in SCENARIOS:
        for k in OBS:
            out.append(pytest.param(p, s, k, id=sid(p, s, k)))
    return out


def without_expm1(e: sp.Expr) -> sp.Expr:
    r = e.rewrite(sp.exp)
    if r.has(expm1):  # fall back to an explicit substitution
        r = e.replace(lambda a: isinstance(a, expm1), lambda a: sp.exp(a.args[0]) - 1)
    assert not r.has(expm1)
    return r


@pytest.mark.parametrize("protocol, scenario, name", expression_params())
def test_stabilize_is_exact(protocol, scenario, name):
    """``simplify(stabilize(e) - e) == 0`` symbolically, and 40-digit agreement at 5 rational points."""
    d = get_protocol(protocol).derive(scenario)
    e = d.expressions[name]
    s = stabilize(e)
    assert sp.simplify(without_expm1(s) - e) == 0
    rnd = random.Random(f"{protocol}/{scenario}/{name}")
    ranges = {"mu": (1, 2000), "eta": (1, 1000), "p_d": (0, 100), "e_d": (0, 450)}
    for j in range(5):
        sub = {PARAM: sp.Rational(rnd.randint(*ranges[p]), 1000) for p, PARAM in zip(d.parameters, d.symbols)}
        if j == 0 and "eta" in d.parameters:
            sub[d.symbols[d.parameters.index("eta")]] = sp.Rational(1, 10**30)
        want, got = sp.N(e.subs(sub), 60), sp.N(s.subs(sub), 60)
        assert abs(got - want) <= sp.Float("1e-40", 60) * abs(want), (sub, got, want)


@pytest.mark.parametrize("protocol, scenario", scenario_params())
def test_generated_code_is_the_derived_function(protocol, scenario):
    """The CSE'd, expm1-optimised expressions the code generator prints, substituted back, are the originals."""
    d = get_protocol(protocol).derive(scenario)
    subs, outs = prepare(d.expressions)
    for k, v in outs.items():
        for sym, val in reversed(subs):
            v = v.xreplace({sym: val})
        assert sp.simplify(without_expm1(v) - d.expressions[k]) == 0, k


# ------------------------------------------- d. why stabilisation exists
@pytest.mark.parametrize("scenario", ["loss-dark", "misalignment"])
def test_naive_lambdify_fails_where_compiled_is_right(scenario):
    """At eta = 1e-30 the printed Q_zz loses every digit (1 - exp(-2e-31) == 0 in doubles):
    naive relative error > 1e-3, compiled < 1e-12."""
    d = get_protocol("ecs-diqkd").derive(scenario)
    pt = {"mu": 0.1, "eta": 1e-30, "p_d": 0.0, "e_d": 0.0}
    pt = {p: pt[p] for p in d.parameters}
    ref = reference("ecs-diqkd", scenario, pt, keys=("Q_zz",))["Q_zz"]
    naive = sp.lambdify(d.symbols, d.expressions["Q_zz"], modules="numpy")(*pt.values())
    compiled = compile_protocol("ecs-diqkd", scenario).observables(**pt)["Q_zz"]
    assert rel_err(naive, ref) > 1e-3
    assert rel_err(compiled, ref) < 1e-12


# ------------------------------------------------ e. shapes, NaN, sign
def test_scalar_in_float_out():
    m = compile_protocol("ecs-diqkd")
    kw = dict(mu=0.1, eta=0.5, p_d=1e-7, e_d=0.01)
    for v in (*m.observables(**kw).values(), m.rate(**kw), m.margin(**kw)):
        assert isinstance(v, float) and np.ndim(v) == 0


def test_arrays_broadcast():
    m = compile_protocol("ecs-diqkd")
    kw = dict(mu=np.linspace(0.01, 1, 3).reshape(3, 1, 1), eta=np.geomspace(1e-30, 1, 4).reshape(1, 4, 1),
              p_d=1e-7, e_d=np.array([[[0.0, 0.1]]]))
    o = m.observables(**kw)
    assert all(np.shape(v) == (3, 4, 2) for v in o.values())
    assert np.shape(m.rate(**kw)) == (3, 4, 2) and np.shape(m.margin(**kw)) == (3, 4, 2)
    # one array parameter among scalars: that array's shape; elementwise equal to scalar calls
    r = m.rate(mu=0.1, eta=np.array([0.1, 0.5]), p_d=1e-7, e_d=0.01)
    assert r.shape == (2,)
    assert r[1] == m.rate(mu=0.1, eta=0.5, p_d=1e-7, e_d=0.01)
    b = compile_protocol("bell-diqkd", "loss-dark")
    assert b.rate(eta=np.ones((2, 1)), p_d=np.zeros(5)).shape == (2, 5)


GRID = {"mu": [0.0, 1e-3, 0.1, 0.44, 1.0, 2.0, 50.0], "eta": [0.0, 1e-60, 1e-30, 1e-5, 0.5, 1.0],
        "p_d": [0.0, 1e-60, 1e-12, 0.1, 0.5, 1.0], "e_d": [0.0, 0.25, 0.45, 0.5]}


@pytest.mark.parametrize("protocol, scenario", WITH_PARAMS)
def test_never_nan_on_grid_and_zero_gain_conventions(protocol, scenario):
    """Grid with mu = 0, eta = 0, p_d = 0 and 1: everything finite; where Q_zz = 0, e_zz = 0.5, S = 0, R = 0."""
    m = compile_protocol(protocol, scenario)
    params = m.parameters
    axes = np.meshgrid(*[np.array(GRID[p]) for p in params], indexing="ij")
    kw = dict(zip(params, axes))
    o, R, M = m.observables(**kw), m.rate(**kw), m.margin(**kw)
    for k, v in (*o.items(), ("rate", R), ("margin", M)):
        assert np.all(np.isfinite(v)), f"{k} not finite at {np.argwhere(~np.isfinite(v))[:3]}"
    assert np.all(R >= 0)
    zero = o["Q_zz"] == 0
    assert zero.any()
    assert np.all(o["e_zz"][zero] == 0.5) and np.all(o["S"][zero] == 0.0) and np.all(R[zero] == 0.0)
    if "mu" in params:
        at = {p: 0.0 if p in ("mu", "p_d") else 0.5 for p in params}
        assert m.observables(**at) == {"Q_zz": 0.0, "e_zz": 0.5, "S": 0.0} and m.rate(**at) == 0.0


def domain_strategy(params):
    """The domain with mu <= 100 (see test_large_mu_never_nan) and every gain a normal float or 0: mu and
    p_d 0 or >= 1e-100, eta 0 or >= 1e-150 (see test_subnormal_gain)."""
    def fl(lo, hi):
        return st.one_of(st.just(0.0), st.floats(lo, hi))
    s = {
        "mu": st.one_of(fl(1e-100, 100.0), st.sampled_from([1e-3, MU_STAR, 100.0])),
        "eta": st.one_of(fl(1e-150, 1.0), st.sampled_from([1e-150, 1e-30, 1e-12, 1.0])),
        "p_d": st.one_of(fl(1e-100, 1.0), st.sampled_from([1e-12, 1e-7, 1.0])),
        "e_d": st.floats(0.0, 0.5),
    }
    return st.fixed_dictionaries({p: s[p] for p in params})


@pytest.mark.parametrize("protocol, scenario", WITH_PARAMS)
def test_rate_never_negative_property(protocol, scenario):
    """Hypothesis, 200 examples over the domain (:func:`domain_strategy`): 0 <= R <= Q_zz, R and margin
    finite, and the observables physical: 0 <= Q_zz <= 1, 0 <= e_zz <= 1 (bell-diqkd: 0.6 at eta = 1,
    p_d = 0.75), |S| <= 2 sqrt2 (each + 1e-12)."""
    m = compile_protocol(protocol, scenario)

    @settings(max_examples=200, deadline=None)
    @given(domain_strategy(m.parameters))
    def prop(kw):
        if math.prod(v for v in kw.values() if 0 < v < 1) < 1e-153:
            # products of small parameters would underflow doubles: refused, pointing to the mpmath backend
            with pytest.raises(ValueError, match="mpmath backend"):
                m.rate(**kw)
            return
        try:
            R, M, o = m.rate(**kw), m.margin(**kw), m.observables(**kw)
        except ValueError as exc:  # refused only where a true observable is itself below the double range
            assert "underflows double precision" in str(exc)
            true = compile_protocol(protocol, scenario, backend="mpmath").observables(**kw)
            assert any(0 < abs(v) < 2.3e-308 for v in true.values()), (kw, true)
            return
        assert math.isfinite(R) and math.isfinite(M)
        assert 0.0 <= R <= o["Q_zz"] * (1 + 1e-12)
        assert 0.0 <= o["Q_zz"] <= 1 + 1e-12 and -1e-12 <= o["e_zz"] <= 1 + 1e-12
        assert abs(o["S"]) <= 2 * math.sqrt(2) + 1e-12

    prop()


@pytest.mark.parametrize("scenario", ["ideal", "loss-dark", "misalignment"])
@pytest.mark.parametrize("mu", [100.0, 120.0, 200.0, 400.0, 1e5, 1e300], ids=lambda v: f"mu={v:g}")
def test_large_mu_never_nan(scenario, mu):
    """Where exp(4 mu), exp(2 mu) overflow doubles (mu >~ 118 at eta = 1, e_d = 0.5): finite values or a
    ValueError that says so -- never NaN or inf.  Up to mu = 100 the values are finite."""
    m = compile_protocol("ecs-diqkd", scenario)
    kw = {p: v for p, v in dict(mu=mu, eta=1.0, p_d=0.01, e_d=0.5).items() if p in m.parameters}
    try:
        out = {**m.observables(**kw), "rate": m.rate(**kw), "margin": m.margin(**kw)}
    except ValueError as exc:
        assert mu > 100 and "overflow" in str(exc) and "mu=" in str(exc), str(exc)
        return
    assert all(math.isfinite(v) for v in out.values()), out


SUBNORMAL = [  # (protocol, scenario, point): a subnormal gain Q_zz or p_d, every true observable a normal number
    ("ecs-diqkd", "loss-dark", dict(mu=0.1, eta=0.0, p_d=1e-310)),
    ("ecs-diqkd", "misalignment", dict(mu=0.1, eta=0.0, p_d=1e-310, e_d=0.0)),
    ("ecs-diqkd", "loss-dark", dict(mu=1e-9, eta=1e-300, p_d=0.0)),
    ("ecs-diqkd", "misalignment", dict(mu=1e-9, eta=1e-300, p_d=0.0, e_d=0.3)),
    ("ecs-diqkd", "misalignment", dict(mu=0.5, eta=1e-310, p_d=0.0, e_d=0.1)),
    ("bell-diqkd", "loss-dark", dict(eta=5e-157, p_d=0.0)),
    ("bell-diqkd", "loss-dark", dict(eta=1e-160, p_d=1e-12)),
]


@pytest.mark.parametrize("protocol, scenario, pt", [
    pytest.param(p, s, pt, id=sid(p, s, ",".join(f"{k}={v:g}" for k, v in pt.items()))) for p, s, pt in SUBNORMAL])
def test_subnormal_inputs_are_refused_not_miscomputed(protocol, scenario, pt):
    """Below 1e-150 a nonzero parameter (or a product of two) underflows doubles: the compiled functions refuse
    it with a message pointing to the mpmath backend, which gets the right numbers (relative 1e-10 against
    the 50-digit reference of the derived expressions)."""
    m = compile_protocol(protocol, scenario)
    with pytest.raises(ValueError, match="mpmath backend"):
        m.observables(**pt)
    with pytest.raises(ValueError, match="mpmath backend"):
        m.rate(**pt)
    hp = compile_protocol(protocol, scenario, backend="mpmath")
    got, ref = hp.observables(**pt), reference(protocol, scenario, pt)
    for k in OBS:
        if ref[k] == 0:
            assert got[k] == 0, (k, got[k])
        else:
            assert rel_err(float(got[k]), ref[k]) <= OBS_RTOL, (k, got[k], mpmath.nstr(ref[k], 17))


# ---------------------------------------------------------- f. validation
BAD = [
    ("eta", 1.5, r"'eta' = 1\.5 is outside the allowed range \[0, 1\]"),
    ("eta", -1e-9, r"'eta' = -1e-09 is outside the allowed range \[0, 1\]"),
    ("mu", -1.0, r"'mu' = -1\.0 is outside the allowed range \[0, inf\)"),
    ("mu", math.inf, r"'mu' = inf is outside the allowed range \[0, inf\)"),
    ("p_d", math.nan, r"'p_d' = nan is outside the allowed range \[0, 1\]"),
    ("e_d", 0.6, r"'e_d' = 0\.6 is outside the allowed range \[0, 0\.5\]"),
]
GOOD = dict(mu=0.1, eta=0.5, p_d=1e-7, e_d=0.01)
BACKENDS = ["numpy", "mpmath"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, value, message", BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_out_of_range_is_refused(backend, name, value, message):
    m = compile_protocol("ecs-diqkd", backend=backend)
    for call in (m.observables, m.rate, m.margin):
        with pytest.raises(ValueError, match=message):
            call(**{**GOOD, name: value})


def test_out_of_range_array_element_is_refused():
    m = compile_protocol("ecs-diqkd")
    with pytest.raises(ValueError, match=r"'eta' = 2\.0 is outside the allowed range \[0, 1\]"):
        m.rate(**{**GOOD, "eta": np.array([0.5, 2.0, 0.1])})


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_and_missing_parameters_are_refused(backend):
    m = compile_protocol("ecs-diqkd", backend=backend)
    with pytest.raises(ValueError, match=r"takes no parameter\(s\) \['eta_d'\]; its parameters are "
                                         r"\['mu', 'eta', 'p_d', 'e_d'\]"):
        m.rate(**GOOD, eta_d=0.9)
    with pytest.raises(ValueError, match=r"needs parameter\(s\) \['e_d'\]"):
        m.observables(mu=0.1, eta=0.5, p_d=1e-7)
    b = compile_protocol("bell-diqkd", "loss-dark", backend=backend)
    with pytest.raises(ValueError, match=r"takes no parameter\(s\) \['mu'\]"):
        b.rate(mu=0.1, eta=0.5, p_d=0.0)
    with pytest.raises(ValueError, match=r"needs parameter\(s\) \['p_d'\]"):
        b.rate(eta=0.5)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"backend 'cuda' is not one of 'numpy', 'mpmath'"):
        compile_protocol("ecs-diqkd", backend="cuda")


# ----------------------------------------------------- g. mpmath backend
BACKEND_POINTS = [
    ("ecs-diqkd", "misalignment", dict(mu=0.1, eta=0.5, p_d=1e-7, e_d=0.01)),
    ("ecs-diqkd", "misalignment", dict(mu=0.02, eta=1e-30, p_d=0.0, e_d=0.0)),
    ("ecs-diqkd", "misalignment", dict(mu=1.5, eta=1e-4, p_d=1e-3, e_d=0.3)),
    ("ecs-diqkd", "loss-dark", dict(mu=0.3, eta=0.9, p_d=1e-9)),
    ("ecs-diqkd", "ideal", dict(mu=0.2)),
    ("bell-diqkd", "loss-dark", dict(eta=0.8, p_d=1e-6)),
    ("bell-diqkd", "loss-dark", dict(eta=1e-20, p_d=0.0)),
]


@pytest.mark.parametrize("protocol, scenario, pt", [pytest.param(*c, id=sid(c[0], c[1], ",".join(
    f"{k}={v:g}" for k, v in c[2].items()))) for c in BACKEND_POINTS])
def test_mpmath_backend_agrees_with_numpy(protocol, scenario, pt):
    """Observables, rate and margin: relative 1e-12 (exact zeros equal)."""
    fast = compile_protocol(protocol, scenario)
    slow = compile_protocol(protocol, scenario, backend="mpmath")
    of, os_ = fast.observables(**pt), slow.observables(**pt)
    assert set(of) == set(os_) == set(OBS)
    for k in OBS:
        assert isinstance(os_[k], mpmath.mpf) or os_[k] == 0  # a constant-0 expression comes back as int 0
        assert of[k] == pytest.approx(float(os_[k]), rel=BACKEND_RTOL, abs=0), k
    assert fast.rate(**pt) == pytest.approx(float(slow.rate(**pt)), rel=BACKEND_RTOL, abs=0)
    assert fast.margin(**pt) == pytest.approx(float(slow.margin(**pt)), rel=BACKEND_RTOL, abs=0)


def test_mpmath_backend_takes_decimal_strings_exactly():
    """``mu="0.1"`` is exactly 1/10: 45-digit agreement with SymPy at rationals, and != the double 0.1."""
    slow = compile_protocol("ecs-diqkd", backend="mpmath", dps=50)
    d = get_protocol("ecs-diqkd").derive("misalignment")
    strings = dict(mu="0.1", eta="1e-30", p_d="1e-7", e_d="0.01")
    got = slow.observables(**strings)
    sub = {sym: sp.Rational(strings[p]) for p, sym in zip(d.parameters, d.symbols)}
    with mpmath.workdps(70):
        for k in OBS:
            want = mpmath.mpf(str(sp.N(d.expressions[k].subs(sub), 70)))
            assert abs(got[k] - want) <= mpmath.mpf(10) ** -45 * abs(want), k
    as_floats = slow.observables(mu=0.1, eta=1e-30, p_d=1e-7, e_d=0.01)
    assert got["Q_zz"] != as_floats["Q_zz"]  # the double 1e-30 is 1.0000000000000000083e-30
    fast = compile_protocol("ecs-diqkd").observables(mu=0.1, eta=1e-30, p_d=1e-7, e_d=0.01)
    assert fast["Q_zz"] == pytest.approx(float(got["Q_zz"]), rel=BACKEND_RTOL, abs=0)
    # the rate accepts strings too
    assert slow.rate(**strings) == pytest.approx(compile_protocol("ecs-diqkd").rate(
        mu=0.1, eta=1e-30, p_d=1e-7, e_d=0.01), rel=BACKEND_RTOL, abs=0)
