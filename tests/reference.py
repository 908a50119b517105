"""Slow, obviously-correct reference implementations of the photon-statistics protocols.

Written from the physics stated in each protocol module's docstring, in the spirit of thewalrus
``reference.py``: explicit photon-number sums, mode-by-mode Fock-state interference, numeric phase
averaging and numeric quadrature, in mpmath at :data:`DPS` digits.  Nothing here imports the closed
forms, the compiled models or the SymPy derivations of :mod:`qkdsym` (only :func:`qkdsym.symbols.validate`
would be allowed; it is not needed).  Each function states its truncation error.

* :func:`bb84_decoy` -- Poisson sums ``Q_mu = sum_n P_mu(n) Y_n``; infinite decoys (``Y_1``, ``e_1`` of the
  model) or the vacuum + weak bound of Ma, Qi, Zhao, Lo 2005 (their Eqs. for ``Y_1^L``, ``e_1^U``) written
  out by hand; truncation ``n <= N`` with the Poisson tail below ``1e-40``.
* :func:`bb84_sps` -- ``R(x) = sum_n p_n(x) Y_n - p_2(x)`` maximised over ``0 < x <= <n>`` by golden-section
  search (no stationary-point formula); ``eta/e`` by the same search over ``mu``; ``eta_th`` by bisection.
* :func:`mdi_gains` -- coherent-state click probabilities of the four detectors (product over modes),
  averaged over Bob's phase by the ``N``-point trapezoid rule (exact for trigonometric polynomials of
  degree ``< N``; the neglected Fourier coefficients are below ``(e eta mu / N)^N``).
  :func:`mdi_single_photon` -- ``Y11``, ``e11`` from two single photons sent through loss, the two 50:50
  beam splitters and the detectors, the two-photon interference expanded mode by mode in creation operators.
* :func:`async_mdi` -- click probability by trapezoid phase averaging; pairing rate by renewal-reward sums
  over the interval ``k = 1..N_c``; ``E_x`` averaged by the explicit sum over ``k``; per-bin single-photon
  yields from Fock states (Hong-Ou-Mandel bunching for ``(1, 1)``).
* :func:`tf_qkd` -- per total photon number ``k`` of the joint mode, binomial routing of the surviving
  photons to the two detectors, numeric quadrature (tanh-sinh) over the triangular residual phase, Poisson
  sums truncated where the tail is below ``1e-30 Q``; ``E_X`` of (B27) from the per-``k`` ``q_k, e_k``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import mpmath as mp

DPS = 40
mp.mp.dps = DPS


def h(x: Any) -> Any:
    """Binary entropy in mpmath (0 log 0 = 0)."""
    x = mp.mpf(x)
    if x <= 0 or x >= 1:
        return mp.mpf(0)
    return -x * mp.log(x, 2) - (1 - x) * mp.log(1 - x, 2)


def poisson(mu: Any, n: int) -> Any:
    mu = mp.mpf(mu)
    return mp.exp(-mu) * mu**n / mp.factorial(n)


def _tail_N(mu: Any, tol: Any) -> int:
    """Smallest ``N`` with ``P_mu(n > N) < tol`` (tail bounded by ``2 P_mu(N+1)`` once ``N + 2 > 2 mu``)."""
    N = 0
    while not (N + 2 > 2 * mu and 2 * poisson(mu, N + 1) < tol):
        N += 1
    return N


def gllp(Q1: Any, e1: Any, Q: Any, E: Any, f: Any, q: Any) -> Any:
    """``q [Q1 (1 - h(e1)) - f Q h(E)]`` with ``e1, E`` taken in ``[0, 1/2]``, clamped at 0."""
    e1 = min(max(e1, 0), mp.mpf(1) / 2)
    E = min(max(E, 0), mp.mpf(1) / 2)
    return max(q * (Q1 * (1 - h(e1)) - f * Q * h(E)), mp.mpf(0))


# ------------------------------------------------------------------------------------------ bb84-wcp-decoy
def bb84_decoy(mu: float, eta: float, Y0: float, e_d: float, f: float, q: float, method: str = "infinite",
               nu: float | None = None) -> dict[str, Any]:
    """GLLP decoy BB84 by explicit Poisson sums (``e0 = 1/2`` for background clicks)."""
    mu, eta, Y0, e_d, f, q = (mp.mpf(v) for v in (mu, eta, Y0, e_d, f, q))

    def Yn(n: int) -> Any:
        return 1 - (1 - Y0) * (1 - eta) ** n

    def EYn(n: int) -> Any:                    # e_n Y_n
        return Y0 / 2 + e_d * (Yn(n) - Y0)

    def gains(k: Any) -> tuple[Any, Any]:
        N = _tail_N(k, mp.mpf(10) ** -45)
        return (mp.fsum(poisson(k, n) * Yn(n) for n in range(N + 1)),
                mp.fsum(poisson(k, n) * EYn(n) for n in range(N + 1)))

    Q, EQ = gains(mu)
    E = EQ / Q
    if method == "infinite":
        Y1, e1 = Yn(1), EYn(1) / Yn(1)
    elif method == "vacuum-weak":
        nu = mp.mpf(nu)
        Qn, EQn = gains(nu)
        # Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005): vacuum + one weak decoy
        Y1 = mu / (mu * nu - nu**2) * (Qn * mp.exp(nu) - Q * mp.exp(mu) * nu**2 / mu**2
                                       - (mu**2 - nu**2) / mu**2 * Y0)
        e1 = (EQn * mp.exp(nu) - Y0 / 2) / (Y1 * nu)
    else:
        raise ValueError(method)
    # physical ranges (a trivial bound where Y1 <= 0)
    if Y1 <= 0:
        Y1, Q1, e1 = mp.mpf(0), mp.mpf(0), mp.mpf(1) / 2
    else:
        Y1 = min(Y1, 1)
        Q1 = min(max(mu * mp.exp(-mu) * Y1, 0), Q)
        e1 = min(max(e1, 0), mp.mpf(1) / 2)
    return {"Q_mu": Q, "E_mu": E, "Y_1": Y1, "Q_1": Q1, "e_1": e1, "R": gllp(Q1, e1, Q, E, f, q)}


# ------------------------------------------------------------------------------------------------ bb84-sps
def _golden_max(fun: Any, a: Any, b: Any, tol: Any = mp.mpf(10) ** -30) -> tuple[Any, Any]:
    """Maximum of a unimodal ``fun`` on ``[a, b]`` by golden-section search (ends included)."""
    g = (mp.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fun(c), fun(d)
    while b - a > tol * max(1, abs(b)):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = fun(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = fun(d)
    best = max(((fun(x), x) for x in (a, b, (a + b) / 2)), key=lambda t: t[0])
    return best[1], best[0]


def sps_rate_at(x: Any, g2: Any, eta: Any) -> Any:
    """GLLP without decoys for the SPS ``(x, g2)``: gain minus every multi-photon emission (``p_n = 0`` for n > 2)."""
    p2 = g2 * x**2 / 2
    p1 = x - 2 * p2
    p0 = 1 - p1 - p2
    Y = lambda n: 1 - (1 - eta) ** n                     # noqa: E731
    return p0 * Y(0) + p1 * Y(1) + p2 * Y(2) - p2


def bb84_sps(n_mean: float, g2: float, eta: float) -> dict[str, Any]:
    """``R = max_{0 < x <= <n>} R(x)`` (pre-attenuation keeps g2), ``R_WCP = max_mu mu e^-mu eta``,
    ``eta_th``: the smallest ``eta`` at which no pre-attenuation is optimal (``None`` if there is none)."""
    n, g, e = (mp.mpf(v) for v in (n_mean, g2, eta))
    _, R = _golden_max(lambda x: sps_rate_at(x, g, e), mp.mpf(0), n)
    _, RW = _golden_max(lambda m: m * mp.exp(-m) * e, mp.mpf(0), mp.mpf(20))

    def attenuate(et: Any) -> bool:                     # is the best x strictly below <n>?  (dR/dx at <n> < 0)
        return mp.diff(lambda x: sps_rate_at(x, g, et), n) < 0

    th: Any
    if g == 0:
        th = mp.mpf(0)
    else:
        grid = [mp.mpf(10) ** (-k / mp.mpf(4)) for k in range(80, -1, -1)]   # 1e-20 .. 1
        lo = None
        for a_, b_ in zip(grid, grid[1:]):
            if attenuate(a_) and not attenuate(b_):
                lo = (a_, b_)
                break
        if lo is None:
            th = None
        else:
            th = mp.findroot(lambda et: mp.diff(lambda x: sps_rate_at(x, g, et), n), lo, solver="anderson")
    return {"R": max(R, 0), "R_WCP": RW, "eta_th": th}


# ---------------------------------------------------------------------------------------------- mdi-decoy
_MODES = ("1e", "1l", "2e", "2l")
_PATTERNS = {"psi-": ((1, 0, 0, 1), (0, 1, 1, 0)), "psi+": ((1, 1, 0, 0), (0, 0, 1, 1))}


def _mdi_events(bsm: str) -> tuple[str, ...]:
    return ("psi-",) if bsm == "psi-" else ("psi-", "psi+")


def _mdi_error(basis: str, event: str, ba: int, bb: int) -> bool:
    return ba == bb if (basis == "Z" or event == "psi-") else ba != bb


def _encode(basis: str, bit: int) -> tuple[Any, Any]:
    """Amplitude weights of the (e, l) modes (times sqrt(mu) for a coherent state, or of a single photon)."""
    if basis == "Z":
        return (mp.mpf(1), mp.mpf(0)) if bit == 0 else (mp.mpf(0), mp.mpf(1))
    r = 1 / mp.sqrt(2)
    return (r, r if bit == 0 else -r)


def _pattern_prob(pat: tuple[int, ...], nophoton: Any, p_d: Any) -> Any:
    """Product over detectors: no click needs no photon and no dark count."""
    out = mp.mpf(1)
    for c, p0 in zip(pat, nophoton):
        none = (1 - p_d) * p0
        out *= (1 - none) if c else none
    return out


def mdi_gains(mu_a: float, mu_b: float, eta: float, p_d: float, e_d: float, bsm: str = "psi-",
              nphi: int = 48) -> dict[str, Any]:
    """``Q_Z, EQ_Z, Q_X, EQ_X``: four bit pairs per basis, coherent states through loss ``eta`` and the two
    beam splitters ``1 = (A + B)/sqrt2``, ``2 = (A - B)/sqrt2`` (per time bin), threshold detectors with dark
    counts, Bob's phase averaged by the ``nphi``-point trapezoid rule; ``e_d`` flips Bob's bit."""
    a, b, eta, p_d, e_d = (mp.mpf(v) for v in (mu_a, mu_b, eta, p_d, e_d))
    out = {}
    for basis in ("Z", "X"):
        Q = EQ0 = mp.mpf(0)
        for ba, bb in itertools.product((0, 1), (0, 1)):
            Ae, Al = (w * mp.sqrt(a * eta) for w in _encode(basis, ba))
            wBe, wBl = _encode(basis, bb)
            for event in _mdi_events(bsm):
                acc = mp.mpf(0)
                for j in range(nphi):
                    ph = mp.expjpi(2 * mp.mpf(j) / nphi)
                    Be, Bl = wBe * mp.sqrt(b * eta) * ph, wBl * mp.sqrt(b * eta) * ph
                    amps = ((Ae + Be) / mp.sqrt(2), (Al + Bl) / mp.sqrt(2), (Ae - Be) / mp.sqrt(2),
                            (Al - Bl) / mp.sqrt(2))
                    p0 = [mp.exp(-abs(z) ** 2) for z in amps]
                    acc += mp.fsum(_pattern_prob(pat, p0, p_d) for pat in _PATTERNS[event])
                p = acc / nphi / 4
                Q += p
                if _mdi_error(basis, event, ba, bb):
                    EQ0 += p
        out[f"Q_{basis}"] = Q
        out[f"EQ_{basis}"] = (1 - e_d) * EQ0 + e_d * (Q - EQ0)
    return out


def _two_photon_output(wa: tuple[Any, Any], wb: tuple[Any, Any]) -> dict[tuple[int, ...], Any]:
    """Occupation probabilities of the four detector modes for one photon from Alice (mode weights ``wa`` over
    (e, l)) and one from Bob (``wb``), both transmitted: expand ``a^dag b^dag`` through the beam splitters."""
    # creation operator of Alice's photon on the detector modes (1e, 1l, 2e, 2l); Bob's with the minus sign
    r = 1 / mp.sqrt(2)
    A = (wa[0] * r, wa[1] * r, wa[0] * r, wa[1] * r)
    B = (wb[0] * r, wb[1] * r, -wb[0] * r, -wb[1] * r)
    amp: dict[tuple[int, ...], Any] = {}
    for i in range(4):
        for j in range(4):
            occ = [0, 0, 0, 0]
            occ[i] += 1
            occ[j] += 1
            amp[tuple(occ)] = amp.get(tuple(occ), 0) + A[i] * B[j]
    # |n> normalisation: (c^dag)^2 |0> = sqrt2 |2>
    return {occ: abs(v) ** 2 * mp.fprod(mp.factorial(n) for n in occ) for occ, v in amp.items()}


def mdi_single_photon(eta: float, p_d: float, e_d: float, bsm: str = "psi-") -> dict[str, Any]:
    """``Y11`` and ``e11`` (X basis; ``Y11_Z``, ``e11_Z`` too) of one photon from each user, mode by mode."""
    eta, p_d, e_d = (mp.mpf(v) for v in (eta, p_d, e_d))
    r = 1 / mp.sqrt(2)
    out = {}
    for basis in ("X", "Z"):
        Y = EY0 = mp.mpf(0)
        for ba, bb in itertools.product((0, 1), (0, 1)):
            wa, wb = _encode(basis, ba), _encode(basis, bb)
            # detector-occupation distributions with their probabilities
            cases: list[tuple[Any, tuple[int, ...]]] = [((1 - eta) ** 2, (0, 0, 0, 0))]
            for w, sign in ((wa, 1), (wb, -1)):       # exactly one photon survives
                d = (w[0] * r, w[1] * r, sign * w[0] * r, sign * w[1] * r)
                for i in range(4):
                    occ = [0, 0, 0, 0]
                    occ[i] = 1
                    cases.append((eta * (1 - eta) * abs(d[i]) ** 2, tuple(occ)))
            for occ, p in _two_photon_output(wa, wb).items():
                cases.append((eta**2 * p, occ))
            for event in _mdi_events(bsm):
                p_ev = mp.fsum(pc * _pattern_prob(pat, [mp.mpf(0) if n else mp.mpf(1) for n in occ], p_d)
                               for pc, occ in cases for pat in _PATTERNS[event]) / 4
                Y += p_ev
                if _mdi_error(basis, event, ba, bb):
                    EY0 += p_ev
        EY = (1 - e_d) * EY0 + e_d * (Y - EY0)
        sfx = "" if basis == "X" else "_Z"
        out["Y11" + sfx] = Y
        out["e11" + sfx] = EY / Y
    return out


def mdi_infinite(mu_z: float, eta: float, p_d: float, e_d: float, f: float, p_z: float,
                 bsm: str = "psi-") -> dict[str, Any]:
    """Infinite-decoy MDI rate ``p_z^2 [z^2 e^{-2z} Y11 (1 - h(e11)) - f Q_zz h(E_zz)]`` (clamped at 0)."""
    g = mdi_gains(mu_z, mu_z, eta, p_d, e_d, bsm)
    s = mdi_single_photon(eta, p_d, e_d, bsm)
    z = mp.mpf(mu_z)
    Q, E = g["Q_Z"], g["EQ_Z"] / g["Q_Z"]
    Q11 = z**2 * mp.exp(-2 * z) * s["Y11"]
    return {"Q_zz": Q, "E_zz": E, "Y11": s["Y11"], "e11": s["e11"],
            "R": gllp(Q11, s["e11"], Q, E, mp.mpf(f), mp.mpf(p_z) ** 2)}


# ---------------------------------------------------------------------------------------------- async-mdi
def async_click(xa: Any, xb: Any, p_d: Any, nphi: int = 48) -> Any:
    """Exactly one of two threshold detectors clicks, coherent inputs ``sqrt(xa) e^{i theta}``, ``sqrt(xb)`` on
    a 50:50 beam splitter, ``theta`` averaged by the trapezoid rule."""
    xa, xb, p_d = mp.mpf(xa), mp.mpf(xb), mp.mpf(p_d)
    acc = mp.mpf(0)
    for j in range(nphi):
        A = mp.sqrt(xa) * mp.expjpi(2 * mp.mpf(j) / nphi)
        B = mp.sqrt(xb)
        n1 = (1 - p_d) * mp.exp(-abs((A + B) / mp.sqrt(2)) ** 2)   # detector 1 silent
        n2 = (1 - p_d) * mp.exp(-abs((A - B) / mp.sqrt(2)) ** 2)
        acc += n1 * (1 - n2) + n2 * (1 - n1)
    return acc / nphi


def _fock_bin_yield(na: int, nb: int, eta: Any, p_d: Any) -> Any:
    """Exactly-one-click probability of ``na`` photons from Alice and ``nb`` from Bob in one bin (na, nb <= 1):
    each photon survives with ``eta``; a lone photon picks a detector at random; two photons bunch (HOM)."""
    assert na <= 1 and nb <= 1
    one = lambda k: (1 - p_d) if k else 2 * p_d * (1 - p_d)   # noqa: E731  photons in one detector / none
    n = na + nb
    # k surviving photons: k = 1 lands in one detector, k = 2 (one from each user) bunch into one detector
    return mp.fsum(mp.binomial(n, k) * eta**k * (1 - eta) ** (n - k) * one(k) for k in range(n + 1))


def _pairing_sums(p: float, N_c: int) -> dict[str, float]:
    """Renewal-reward sums over the interval ``k = 1..N_c`` (floats, ``math.fsum``; relative error ~1e-14).

    A pending click closes a pair with the next click at ``k <= N_c`` bins (weight ``p (1-p)^(k-1)``), after
    which the next click (mean ``1/p`` bins later) is pending; otherwise that next click is pending."""
    lq = math.log1p(-p)
    w = [p * math.exp((k - 1) * lq) for k in range(1, N_c + 1)]
    s = math.fsum(w)
    tail = math.exp(N_c * lq)                            # no click in N_c bins
    cycle = math.fsum(wk * (k + 1 / p) for k, wk in zip(range(1, N_c + 1), w)) + tail * (N_c + 1 / p)
    mean = math.fsum(wk * k for k, wk in zip(range(1, N_c + 1), w)) / s
    return {"s": s, "r_p": s / cycle, "mean_bins": mean, "w": w}


def async_x_qber(dt: float, V2: float, sigma: float, delta_f: float) -> float:
    """Eq. (2) of paper 000 as stated in the docstring."""
    return 0.5 - V2 / 2 * math.exp(-(sigma * dt) ** 2 / 2) * math.cos(2 * math.pi * delta_f * dt)


def async_x_qber_sum(p: float, N_c: int, F: float, V2: float, sigma: float, delta_f: float) -> float:
    """``sum_k w_k E_x(k/F)``, ``w_k = p (1-p)^(k-1)/s``: the explicit average over the pairing intervals."""
    ps = _pairing_sums(p, N_c)
    return math.fsum(wk * async_x_qber(k / F, V2, sigma, delta_f)
                     for k, wk in zip(range(1, N_c + 1), ps["w"])) / ps["s"]


def async_x_qber_continuum(p: float, N_c: float, F: float, V2: float, sigma: float, delta_f: float) -> Any:
    """The module's documented continuum (midpoint-rule) form of the interval average, by mpmath quadrature:
    ``int_{t0}^{t1} lambda e^{-lambda t} E_x(t) dt / int_{t0}^{t1} lambda e^{-lambda t} dt``,
    ``lambda = -F ln(1-p)``, ``[t0, t1] = [1/(2F), (N_c + 1/2)/F]``."""
    F_, p_ = mp.mpf(F), mp.mpf(p)
    lam = -F_ * mp.log1p(-p_)
    t0, t1 = 1 / (2 * F_), (mp.mpf(N_c) + mp.mpf(1) / 2) / F_
    V2, sigma, delta_f = mp.mpf(V2), mp.mpf(sigma), mp.mpf(delta_f)
    # substitute t = t0 + u: weights e^{-lambda u}; split the range for the quadrature
    span = t1 - t0
    pts = [mp.mpf(0)] + [span * mp.mpf(k) / 8 for k in range(1, 9)]
    num = mp.quad(lambda u: mp.exp(-lam * u) * (mp.mpf(1) / 2 - V2 / 2 * mp.exp(-(sigma * (t0 + u)) ** 2 / 2)
                                                * mp.cos(2 * mp.pi * delta_f * (t0 + u))), pts)
    den = mp.quad(lambda u: mp.exp(-lam * u), pts)
    return num / den


def async_mdi(mu: float, p_mu: float, eta: float, nu: float, p_nu: float, T_c: float, F: float, M: int,
              V2: float, sigma: float, delta_f: float, p_d: float, f: float, click_filter: bool = True,
              interval: str = "sum") -> dict[str, Any]:
    """Every observable of the asymptotic async-MDI rate from scratch.

    ``interval``: ``"sum"`` (explicit average over k = 1..N_c), ``"continuum"`` (the module's midpoint
    integral, by quadrature) or ``"mean"`` (Eq. (2) at the mean interval, mean by explicit sum)."""
    eta_, p_d_ = mp.mpf(eta), mp.mpf(p_d)
    ks = {"mu": mp.mpf(mu), "nu": mp.mpf(nu), "o": mp.mpf(0)}
    ps = {"mu": mp.mpf(p_mu), "nu": mp.mpf(p_nu), "o": 1 - mp.mpf(p_mu) - mp.mpf(p_nu)}
    qc = {}
    Q = {}
    for x, y in itertools.product(ks, ks):
        key = (ks[x], ks[y])
        if key not in qc:
            qc[key] = async_click(eta_ * ks[x], eta_ * ks[y], p_d_)
        Q[x, y] = ps[x] * ps[y] * qc[key]
    qf = mp.fsum(v for (x, y), v in Q.items() if not (click_filter and {x, y} == {"mu", "nu"}))
    N_c = int(round(T_c * F))
    pr = _pairing_sums(float(qf), N_c)
    norm = mp.mpf(pr["r_p"]) / qf**2          # pairs per bin x P(label pair) / P(label)P(label)
    good = Q["mu", "o"] * Q["o", "mu"]
    bad = Q["mu", "mu"] * Q["o", "o"]
    n_Z = 2 * norm * (good + bad)
    E_Z = bad / (good + bad)
    Y = {(a, b): _fock_bin_yield(a, b, eta_, p_d_) for a in (0, 1) for b in (0, 1)}
    pz = (ps["mu"] * ps["o"]) ** 2
    m = ks["mu"]
    s11 = 2 * norm * pz * (m * mp.exp(-m)) ** 2 * (Y[1, 0] * Y[0, 1] + Y[1, 1] * Y[0, 0])
    # Alice's signal pulse empty: [mu,o][o,mu] and [mu,mu][o,o], both orders
    s0 = 4 * norm * pz * mp.exp(-m) * qc[(mp.mpf(0), m)] * qc[(mp.mpf(0), mp.mpf(0))]
    if interval == "sum":
        Ex = mp.mpf(async_x_qber_sum(float(qf), N_c, F, V2, sigma, delta_f))
    elif interval == "continuum":
        Ex = async_x_qber_continuum(float(qf), N_c, F, V2, sigma, delta_f)
    else:
        Ex = mp.mpf(async_x_qber(pr["mean_bins"] / F, V2, sigma, delta_f))
    e11 = min(max(2 * Ex - mp.mpf(1) / 2, 0), mp.mpf(1) / 2)
    n_X = norm * Q["nu", "nu"] ** 2 * 2 / mp.mpf(M)
    R = max(s0 + s11 * (1 - h(e11)) - f * n_Z * h(min(max(E_Z, 0), 1)), 0)
    return {"R": R, "n_Z": n_Z, "E_Z": E_Z, "s_11": s11, "s_0": s0, "E_x": Ex, "e_11": e11, "n_X": n_X,
            "q_click": qf, "r_p": mp.mpf(pr["r_p"]), "mean_interval_s": mp.mpf(pr["mean_bins"]) / F}


# ------------------------------------------------------------------------------------------------- tf-qkd
def tf_qkd(mu: float, eta: float, M: int, e_d: float, p_d: float, f: float,
           phase_error: str = "pm-qkd") -> dict[str, Any]:
    """PM-QKD from per-photon-number components of the joint mode, averaged over the residual phase.

    Kept rounds: residual phase ``delta`` triangular on ``(-2 pi/M, 2 pi/M)``.  ``k`` photons of the joint
    mode each survive with ``eta`` and go to the right detector with ``c = cos^2(delta/2)``; exactly one click:
    ``right_k = (1-p_d) [P(no photon at the wrong one) - (1-p_d) P(no photon at all)]``, ``e_d`` flips the
    heralding detector.  Quadrature: mpmath tanh-sinh on (0, 2 pi/M) (even integrand)."""
    mu, eta, p_d, e_d, f = (mp.mpf(v) for v in (mu, eta, p_d, e_d, f))
    wid = 2 * mp.pi / M
    dens = lambda u: 2 * (wid - u) / wid**2     # noqa: E731  (folded triangular density on [0, wid])

    def clicks(k: int, c: Any) -> tuple[Any, Any]:
        none = (1 - eta) ** k
        right = (1 - p_d) * ((1 - eta * (1 - c)) ** k - (1 - p_d) * none)
        wrong = (1 - p_d) * ((1 - eta * c) ** k - (1 - p_d) * none)
        return right, wrong

    Yk, EYk, Pk = [], [], []
    k = 0
    while True:
        P = poisson(mu, k)
        if k == 0:
            r, w = clicks(0, mp.mpf(1))
            Y, EY = r + w, (1 - e_d) * w + e_d * r
        else:
            Y = mp.quad(lambda u: dens(u) * sum(clicks(k, (1 + mp.cos(u)) / 2)), [0, wid])
            EY = mp.quad(lambda u: dens(u) * (lambda rw: (1 - e_d) * rw[1] + e_d * rw[0])(
                clicks(k, (1 + mp.cos(u)) / 2)), [0, wid])
        Yk.append(Y)
        EYk.append(EY)
        Pk.append(P)
        Q_sofar = mp.fsum(a * b for a, b in zip(Pk, Yk))
        if k > 2 * mu + 2 and 2 * poisson(mu, k + 1) < mp.mpf(10) ** -30 * Q_sofar:
            break
        k += 1
    Q = mp.fsum(a * b for a, b in zip(Pk, Yk))
    E_Z = mp.fsum(a * b for a, b in zip(Pk, EYk)) / Q
    q = [a * b / Q for a, b in zip(Pk, Yk)]
    e = [b / a if a > 0 else mp.mpf(1) / 2 for a, b in zip(Yk, EYk)]
    odd = [i for i in range(len(q)) if i % 2 == 1]
    q_odd = mp.fsum(q[i] for i in odd)
    if phase_error == "parity":
        E_X = 1 - q_odd
    else:   # (B27): odd k their bit error, vacuum 1 - e_0, other even k 1
        E_X = mp.fsum(q[i] * e[i] for i in odd) + q[0] * (1 - e[0]) + (1 - q_odd - q[0])
    E_X = min(max(E_X, 0), 1)
    R = max(2 / mp.mpf(M) * Q * (1 - f * h(E_Z) - h(min(E_X, mp.mpf(1) / 2))), 0)
    return {"Q_mu": Q, "E_Z": E_Z, "E_X": E_X, "q_odd": q_odd, "R": R, "e_0": e[0]}
