"""The built-in protocols, declared under the contract (:mod:`qkdsym.contract`).

Declarations are data -- parameters, variants, cited parameter sets, units,
geometry, exports -- so listing protocols and their options imports neither
SymPy nor SciPy.  Each names its engine (``"qkdsym.protocols.engines:..."``),
which wraps the protocol's own module and is imported on first use.

Parameter sets (the first of each protocol is its default, used by ``eval``
and ``curve`` alike):

* ``xie2024`` -- Xie et al. (paper 004), Fig. 2: fibre 0.2 dB/km, detector
  efficiency 0.8, dark counts 1e-7, no misalignment;
* ``gys`` -- the GYS experiment (Gobby, Yuan, Shields, APL 84, 3762 (2004)) as
  used by Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005), Table I: 0.21 dB/km,
  eta_d = 4.5 %, Y0 = 1.7e-6, e_d = 3.3 %, f = 1.16;
* ``zhang2025`` -- Zhang et al. (paper 003), Table 1: <n> = 0.292,
  g2 = 0.00698 (channel: 0.2 dB/km and eta_d = 1 assumed, the paper gives losses);
* ``xu2013-yan2025`` -- detectors of Xu, Curty, Qi, Lo, NJP 15, 113007 (2013)
  (eta_d = 14.5 %, p_d = 3e-6, e_d = 1.5 %, f = 1.16, 0.2 dB/km; paper 001
  prints none) with p_z = 0.754 and x = 0.054 of Yan et al. (paper 001);
  ``yan2025-point`` adds paper 001's operating point z = 0.636, y = 0.204;
* ``zhou2023`` -- the hardware of Zhou et al. (paper 000): 0.16 dB/km,
  eta_d = 77.5 %, p_d = 3.42e-9 per gate, 1 GHz, V2 = 0.46, sigma = 5900 rad/s.

>>> from qkdsym.protocols.catalog import BUILTIN
>>> [p.name for p in BUILTIN]
['ecs-diqkd', 'bell-diqkd', 'bb84-wcp-decoy', 'bb84-sps', 'mdi-decoy', 'async-mdi', 'tf-qkd']
>>> import sys; 'sympy' in sys.modules or 'not imported by the declarations'
True
"""

from __future__ import annotations

from ..contract import Param, ParamSet, Protocol, Variant

__all__ = ["BUILTIN", "XIE2024", "GYS", "ZHOU2023"]

_PD = Param("p_d", flag="--p-d", aliases=("--pd",), help="dark-count probability per detector and gate")
_ED = Param("e_d", flag="--e-d", aliases=("--ed",))
_BETA = Param("beta", help="fibre loss")
_ETAD = Param("eta_d", help="detector efficiency (counted in eta)")
_F = Param("f", help="error-correction efficiency (leak f h(E))")
_CLOCK = Param("F", flag="--clock", aliases=("--F",), help="system clock rate")
_ROUNDS = Param("N", flag="--n-pulses", aliases=("--N",), optional=True,
                help="rounds sent: finite size by entropy accumulation (absent: asymptotic)")

XIE2024 = ParamSet("xie2024", "Y.-M. Xie et al. (paper 004), Fig. 2 settings",
                   {"beta": 0.2, "eta_d": 0.8, "p_d": 1e-7, "e_d": 0.0})
GYS = ParamSet("gys", "C. Gobby, Z. L. Yuan, A. J. Shields, APL 84, 3762 (2004), as in X. Ma, B. Qi, Y. Zhao, "
               "H.-K. Lo, PRA 72, 012326 (2005), Table I",
               {"beta": 0.21, "eta_d": 0.045, "Y0": 1.7e-6, "e_d": 0.033, "f": 1.16, "q": 0.5,
                "eps_sec": 1e-10, "eps_cor": 1e-15})
_ZHOU_HW = {"beta": 0.16, "eta_d": 0.775, "p_d": 3.42e-9, "F": 1e9, "M": 16, "f": 1.16}
_ZHOU_CITE = "L. Zhou et al., PRL 130, 250801 (2023) (paper 000): fibre, SNSPDs, clock"
#: paper 000's hardware with its async-MDI settings (V2, sigma, T_c, decoy nu and its probability)
ZHOU2023 = ParamSet("zhou2023", _ZHOU_CITE + "; V2, sigma, T_c, nu, p_nu of its Eq. (2) and Fig. 4",
                    {**_ZHOU_HW, "V2": 0.46, "sigma": 5900.0, "delta_f": 0.0, "T_c": 2e-4, "nu": 0.05, "p_nu": 0.1,
                     "eps_pe": 1e-10})
#: the same hardware for the TF-QKD it compares with (e_d = 2 % and full duty cycle assumed)
ZHOU2023_TF = ParamSet("zhou2023", _ZHOU_CITE + "; e_d = 2 % and duty 1 assumed for the TF-QKD comparison",
                       {**_ZHOU_HW, "e_d": 0.02, "duty": 1.0})
_XU_YAN = {"beta": 0.2, "eta_d": 0.145, "p_d": 3e-6, "e_d": 0.015, "f": 1.16, "p_z": 0.754, "mu_x": 0.054,
           "p_y": 0.036, "p_x": 0.188, "eps_pe": 1e-10}

_HERALDED_CONV = ("midpoint station: per-user eta = eta_d 10^(-beta (L/2)/10), detector efficiency included; "
                  "R per heralding round (pulse pair sent)")

ECS_DIQKD = Protocol(
    name="ecs-diqkd",
    summary="heralded DIQKD with entangled coherent states (atom-light cats, single-photon interference)",
    params=(Param("mu", role="free", bounds=(1e-6, 2.0)), _PD, _ED, _BETA, _ETAD, _ROUNDS),
    variants=(Variant("scenario", ("ideal", "loss-dark", "misalignment"), "misalignment",
                      "which closed form: lossless; loss and dark counts; plus misalignment"),),
    rate_unit="bit/round", geometry="midpoint", param_sets=(XIE2024,),
    engine="qkdsym.protocols.engines:ECS", exports=("python", "c", "json"), detector_load="station_clicks", detectors=2,
    citation="Y.-M. Xie, B.-H. Li, Y.-S. Lu, X.-Y. Cao, W.-B. Liu, H.-L. Yin and Z.-B. Chen, 'Overcoming the "
             "rate-distance limit of device-independent quantum key distribution'; key rate: A. Acin et al., "
             "Phys. Rev. Lett. 98, 230501 (2007)",
    conventions=_HERALDED_CONV + "; D1 = (a+b)/sqrt2, D2 = (a-b)/sqrt2; Bob flips his Z outcome on D2",
)

BELL_DIQKD = Protocol(
    name="bell-diqkd",
    summary="heralded DIQKD with spin-photon Bell states and a linear-optics two-photon BSM",
    params=(_PD, _BETA, _ETAD, _ROUNDS),
    variants=(Variant("scenario", ("ideal", "loss-dark"), "loss-dark", "lossless; loss and dark counts"),),
    rate_unit="bit/round", geometry="midpoint", param_sets=(XIE2024,),
    engine="qkdsym.protocols.engines:BELL", exports=("python", "c", "json"), detector_load="station_clicks",
    detectors=4,
    citation="Y.-M. Xie et al. (paper 004), Fig. 2 caption (baseline); spin-photon heralding: D. P. Nadlinger et "
             "al., Nature 607, 682 (2022); key rate: A. Acin et al., PRL 98, 230501 (2007)",
    conventions=_HERALDED_CONV,
)

BB84_WCP_DECOY = Protocol(
    name="bb84-wcp-decoy",
    summary="decoy-state BB84 with weak coherent pulses (asymptotic GLLP; infinite / vacuum+weak / LP decoys; "
            "finite key with --N)",
    params=(Param("mu", role="free", bounds=(1e-3, 2.0), help="signal intensity"),
            Param("nu", role="free", bounds=(0.02, 2.0), help="weak decoy intensity (vacuum-weak, lp)",
                  applies=("decoy", ("vacuum-weak", "lp"))),
            Param("Y0", flag="--y0", aliases=("--Y0",)), _ED, _F,
            Param("q", help="sifting factor (asymptotic)"), _BETA, _ETAD,
            Param("N", flag="--n-pulses", aliases=("--N",), optional=True, conflicts=("decoy", "q"),
                  help="pulses sent: finite key of Lim et al. 2014, three intensities (absent: asymptotic)"),
            Param("eps_sec", help="secrecy parameter (with N)", requires=("N",)),
            Param("eps_cor", help="correctness parameter (with N)", requires=("N",))),
    variants=(Variant("decoy", ("infinite", "vacuum-weak", "lp"), "vacuum-weak",
                      "single-photon bounds: infinite decoys, vacuum + weak decoy (derived), LP over the decoys",
                      aliases=("--scenario",)),),
    rate_unit="bit/pulse", geometry="point-to-point", param_sets=(GYS,),
    engine="qkdsym.protocols.engines:BB84_DECOY", exports=("python", "c", "json"), detector_load="Q_mu", detectors=2,
    citation="H.-K. Lo, X. Ma, K. Chen, PRL 94, 230504 (2005); X. Ma, B. Qi, Y. Zhao, H.-K. Lo, PRA 72, 012326 "
             "(2005); D. Gottesman, H.-K. Lo, N. Luetkenhaus, J. Preskill, QIC 4, 325 (2004); finite key: C. C. W. "
             "Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, PRA 89, 022307 (2014)",
    conventions="point to point: eta = eta_d 10^(-beta L/10); q = 1/2 (standard sifting); finite key (N given): "
                "three intensities mu > nu > 0, probabilities and basis choice optimised, R per pulse sent",
)

BB84_SPS = Protocol(
    name="bb84-sps",
    summary="BB84 with a single-photon source (<n>, g2) and pre-attenuation vs the coherent-state limit eta/e",
    params=(Param("n_mean", flag="--n-mean", aliases=("--n",)), Param("g2"), _BETA, _ETAD),
    rate_unit="bit/pulse", geometry="point-to-point",
    param_sets=(ParamSet("zhang2025", "Y. Zhang et al. (paper 003), Table 1 (<n>, g2); fibre 0.2 dB/km and "
                         "eta_d = 1 assumed", {"n_mean": 0.292, "g2": 0.00698, "beta": 0.2, "eta_d": 1.0}),),
    engine="qkdsym.protocols.engines:SPS", exports=("json",), detector_load="Q_click", detectors=2,
    citation="Y. Zhang et al., 'Experimental single-photon quantum key distribution surpassing the fundamental "
             "coherent-state rate limit' (paper 003)",
    conventions="asymptotic, ideal (no background, no misalignment), efficient BB84 (q = 1); point to point "
                "eta = eta_d 10^(-beta L/10); pre-attenuation optimised per eta",
)

MDI_DECOY = Protocol(
    name="mdi-decoy",
    summary="MDI-QKD with phase-randomised WCPs and four-intensity decoys (analytic, LP or infinite decoys)",
    params=(Param("mu_z", role="free", bounds=(1e-3, 1.5), flag="--mu-z"),
            Param("mu_y", role="free", bounds=(1e-3, 1.5), flag="--mu-y", help="strong decoy y (analytic, lp)",
                  applies=("decoy", ("analytic", "lp"))),
            Param("mu_x", flag="--mu-x"), Param("p_z", flag="--p-z"), _F, _PD, _ED, _BETA, _ETAD,
            Param("F", flag="--clock", aliases=("--F",), optional=True, help="clock rate: R_bps = F R"),
            Param("N", flag="--n-pulses", aliases=("--N",), optional=True, conflicts=("decoy",),
                  help="pulse pairs sent: finite key (Chernoff bounds, four intensities; absent: asymptotic)"),
            Param("p_y", flag="--p-y", requires=("N",), help="probability of y (finite key)"),
            Param("p_x", flag="--p-x", requires=("N",), help="probability of x (finite key)"),
            Param("eps_pe", flag="--eps", requires=("N",), help="failure probability of each bound (finite key)")),
    variants=(Variant("decoy", ("analytic", "lp", "infinite"), "analytic",
                      "four-intensity estimate: analytic bound, two-user LP, infinite decoys"),
              Variant("bsm", ("psi-", "both"), "psi-", "relay: psi- only (time bin, 2 detectors) or psi+ and psi-",
                      aliases=("--relay",))),
    rate_unit="bit/pulse pair", geometry="midpoint",
    param_sets=(ParamSet("xu2013-yan2025", "F. Xu, M. Curty, B. Qi, H.-K. Lo, NJP 15, 113007 (2013) (detectors); "
                         "p_z, x: Yan et al. (paper 001)", _XU_YAN),
                ParamSet("yan2025-point", "Yan et al. (paper 001): z, y, x, p_z at ~30 dB; detectors of Xu 2013",
                         {**_XU_YAN, "mu_z": 0.636, "mu_y": 0.204})),
    engine="qkdsym.protocols.engines:MDI", exports=("python", "c", "json"), detector_load="station_clicks",
    detectors=2,
    citation="H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012); X. Ma, M. Razavi, PRA 86, 062319 (2012); "
             "Y.-H. Zhou, Z.-W. Yu, X.-B. Wang, PRA 93, 042324 (2016); Yan et al. (paper 001)",
    conventions="midpoint station: per-user eta = eta_d 10^(-beta (L/2)/10); R per pulse pair, "
                "R = p_z^2 [z^2 e^-2z Y11 (1 - h(e11)) - f Q_zz h(E_zz)]",
)

ASYNC_MDI = Protocol(
    name="async-mdi",
    summary="asynchronous (mode-pairing) MDI-QKD: click filtering, pairing within T_c, asymptotic rate",
    params=(Param("mu", role="free", bounds=(0.01, 1.0)),
            Param("p_mu", role="free", bounds=(0.005, 0.9), flag="--p-mu"),
            Param("nu"), Param("p_nu", flag="--p-nu"), Param("T_c", flag="--t-c", aliases=("--Tc",)), _CLOCK,
            Param("M", flag="--slices", aliases=("--M",), help="number of phase slices"),
            Param("V2", flag="--v2", aliases=("--V2",)), Param("sigma"), Param("delta_f", flag="--delta-f"),
            _PD, _ETAD, _BETA, _F,
            Param("N", flag="--n-pulses", aliases=("--N",), optional=True,
                  help="time bins sent: finite key (three intensities, Chernoff bounds, Eq. (1) of paper 000; "
                       "absent: asymptotic)"),
            Param("eps_pe", flag="--eps", requires=("N",),
                  help="failure probability of each bound and of eps_cor, eps_PA, eps', eps_hat (finite key)")),
    variants=(Variant("click_filter", ("on", "off"), "on", "click filtering of Zhou et al.",
                      flag="--click-filter"),
              Variant("finite_decoys", ("optimised", "given"), "optimised",
                      "finite key (with --n-pulses): where mu and p_mu are optimised (curve; eval without them), "
                      "optimise nu and p_nu too, or keep --nu/--p-nu", flag="--finite-decoys")),
    rate_unit="bit/time bin", geometry="midpoint", param_sets=(ZHOU2023,),
    engine="qkdsym.protocols.engines:ASYNC", exports=("python", "c", "json"), detector_load="q_click_all",
    detectors=2,
    citation="Y.-M. Xie et al., PRX Quantum 3, 020315 (2022) (security analysis); L. Zhou et al., PRL 130, 250801 "
             "(2023) (click filtering, Eq. (2)); P. Zeng et al., Nat. Commun. 13, 3903 (2022)",
    conventions="midpoint station: per-user eta = eta_d 10^(-beta (L/2)/10); p_d per gate per detector; R per time "
                "bin, R_bps = F R; SKC0 = plob(10^(-beta L/10)); asymptotic: infinite decoys, nu -> 0 for e_11; finite key "
                "(N given): three intensities, Chernoff bounds, Eq. (1) of paper 000",
)

TF_QKD = Protocol(
    name="tf-qkd",
    summary="twin-field QKD, phase-matching variant (PM-QKD), M phase slices, infinite decoys, asymptotic",
    params=(Param("mu", role="free", bounds=(1e-4, 1.0), help="total intensity (mu/2 per user)"),
            Param("M", flag="--slices", aliases=("--M",), help="number of phase slices"), _ED, _PD, _ETAD, _BETA,
            _F, _CLOCK, Param("duty", help="fraction of time slots carrying quantum signals")),
    variants=(Variant("phase_error", ("pm-qkd", "parity"), "pm-qkd",
                      "phase-error bound: (B27) of Ma-Zeng-Zhou 2018 (M slices, e_d, dark counts) or the exact "
                      "even-photon fraction of the virtual parity measurement", flag="--phase-error"),),
    rate_unit="bit/pulse", geometry="midpoint", param_sets=(ZHOU2023_TF,),
    engine="qkdsym.protocols.engines:TF", exports=("json",), detector_load="Q_mu", detectors=2,
    citation="X. Ma, P. Zeng, H. Zhou, Phys. Rev. X 8, 031043 (2018)",
    conventions="midpoint station: per-user eta = eta_d 10^(-beta (L/2)/10), total intensity mu (mu/2 per user); "
                "p_d per gate per detector; R per pulse, R_bps = F duty R; SKC0 = plob(10^(-beta L/10))",
)

BUILTIN = (ECS_DIQKD, BELL_DIQKD, BB84_WCP_DECOY, BB84_SPS, MDI_DECOY, ASYNC_MDI, TF_QKD)
