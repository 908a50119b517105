"""Engines of the built-in protocols: the contract's computations, delegated to the protocol modules.

:class:`HeraldedEngine` serves every heralded Bell-test protocol -- the
built-in ``ecs-diqkd`` and ``bell-diqkd`` and any a user builds from the
engine (:func:`heralded_protocol`); the photon-statistics protocols have one
small engine each, mapping the contract's values to their module's functions.

Example
-------
>>> from qkdsym.protocols.engines import ECS
>>> r = ECS.evaluate({"mu": 0.3, "eta": 0.5, "p_d": 0.01, "e_d": 0.05}, {"scenario": "misalignment"})
>>> round(r["Q_zz"], 6)
0.267603
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from ..contract import Engine, Param, ParamSet, Protocol, Variant

__all__ = ["HeraldedEngine", "heralded_protocol", "ECS", "BELL", "BB84_DECOY", "SPS", "MDI", "ASYNC", "TF"]


def _legacy_export(name: str, to: str, path: Any, scenario: str | None) -> list[Any]:
    from ..compile.export import export

    return export(name, to, path, scenario=scenario)


def _with_finite(name: str, to: str, path: Any, scenario: str | None) -> list[Any]:
    """The asymptotic export and, next to it, the finite-key estimation (:mod:`qkdsym.compile.export_finite`:
    ``OUT_finite.py`` or ``OUT_finite.c`` + ``.h``); the finite paths are checked before anything is written."""
    from ..compile.export_finite import check_finite_paths, export_finite

    check_finite_paths(name, to, path)
    return _legacy_export(name, to, path, scenario) + export_finite(name, to, path)


def _verify(name: str, qutip: bool) -> list[Any]:
    from ..verify.runner import verify

    return verify(name, qutip=qutip)


def _refuse_fixed(name: str, values: Mapping[str, Any], free: Sequence[str], fixable: Sequence[str] = ()) -> None:
    for k in free:
        if values.get(k) is not None and k not in fixable:
            both = " and ".join(free)
            raise ValueError(f"{name} optimises {both} together at every distance: a curve takes none of them; "
                             f"for one point (eval) give {'all of them' if len(free) > 1 else k} or none")


class HeraldedEngine(Engine):
    """The engine of a heralded protocol (:class:`qkdsym.protocols.base.HeraldedProtocol`)."""

    def __init__(self, legacy: Any, station: Callable[[Mapping[str, Any]], float] | None = None) -> None:
        self._legacy = legacy
        self._station = station

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """``station_clicks``: probability of at least one click at the station per round (when the engine
        was given its formula)."""
        if self._station is None:
            return {}
        return {"station_clicks": self._station(_with_opt(out, values))}

    @property
    def legacy(self) -> Any:
        if isinstance(self._legacy, str):
            from . import get_protocol

            self._legacy = get_protocol(self._legacy)
        return self._legacy

    def _scenario_values(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, float]:
        p = self.legacy
        scen = p.scenario(choices.get("scenario") or p.scenarios[-1].name)
        vals = {k: values[k] for k in p.parameters if k in values}
        vals.update({k: float(v) for k, v in scen.substitutions.items()})
        return vals

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        out = self.legacy.evaluate(**self._scenario_values(values, choices))
        return self._finite(out, values) if values.get("N") is not None else out

    @staticmethod
    def _finite(out: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        """The entropy-accumulation key rate for ``N`` rounds sent at this point's ``Q_zz, e_zz, S``."""
        from ..keyrate.eat import finite_rate

        f = finite_rate(values["N"], Q=float(out["Q_zz"]), e=float(out["e_zz"]), S=float(out["S"]))
        return {**{k: v for k, v in out.items() if k != "R"}, "R": f["R"], "R_asymptotic": f["R_asymptotic"],
                "gamma": f["gamma"], "w_t": f["w_t"], "R_reason": f["reason"], "budget": f["budget"]}

    def point_module(self, choices: Mapping[str, str], values: Mapping[str, Any]) -> bool:
        return values.get("N") is None

    def annotate(self, out: dict[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        Q, e, S = out.get("Q_zz"), out.get("e_zz"), out.get("S")
        if None in (Q, e, S):
            return out
        if Q == 0:
            out["R_reason"] = "no heralded rounds: Q_zz = 0 (e_zz and S undefined, reported as 0.5 and 0)"
        elif abs(S) <= 2:
            out["R_reason"] = f"no CHSH violation: S = {S:g} <= 2"
        elif out["R"] <= 0:
            out["R_reason"] = "error correction and Eve's information exceed one bit per round: bracket <= 0"
        else:
            out["R_reason"] = "positive"
        return out

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> Any:
        from ..curves import sweep

        p = self.legacy
        scenario = choices.get("scenario")
        params = p.derive(scenario).parameters
        fixed = {k: values[k] for k in params if k != "eta" and values.get(k) is not None}
        if values.get("N") is not None:
            return self._finite_curve(distance_km, values, fixed)
        return sweep(p.name, distance_km, beta=values.get("beta", 0.2), eta_d=values.get("eta_d", 1.0),
                     scenario=scenario, progress=progress, **fixed)

    def _finite_curve(self, distance_km: Any, values: Mapping[str, Any], fixed: Mapping[str, Any]) -> Any:
        """Entropy accumulation for ``N`` rounds sent (Arnon-Friedman et al. 2018), ``mu`` optimised."""
        import time

        import numpy as np

        from ..channel import point_to_point_eta
        from ..curves import Curve
        from ..keyrate.bounds import plob
        from ..keyrate.eat import eat_curve

        t0 = time.perf_counter()
        L = np.atleast_1d(np.asarray(distance_km, dtype=float))
        beta, eta_d = values.get("beta", 0.2), values.get("eta_d", 1.0)
        r = eat_curve(self.legacy.name, values["N"], L, beta=beta, eta_d=eta_d, **fixed)
        keep = np.asarray(r["R"]) > 0
        optimal = {"mu": np.where(keep, r["mu"], np.nan)} if "mu" in r and "mu" not in fixed else {}
        obs = {k: np.asarray(r[k], dtype=float) for k in ("R_asymptotic", "gamma", "Q_zz", "e_zz", "S")}
        return Curve(self.legacy.name, "finite (EAT)", L, np.maximum(np.asarray(r["R"], dtype=float), 0.0),
                     optimal, obs, plob(point_to_point_eta(L, beta)), plob(point_to_point_eta(L, beta, eta_d)),
                     dict(values), time.perf_counter() - t0, {"budget": r["budget"]})

    def derive(self, choices: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        import sympy as sp

        from ..keyrate.diqkd import diqkd_rate_expr

        d = self.legacy.derive(choices.get("scenario"))
        Q, e, S = sp.symbols("Q_zz e_zz S", positive=True)
        return {d.scenario: dict(d.expressions), "key rate (valid where S > 2)": {"R": diqkd_rate_expr(Q, e, S)}}

    def compiled(self, choices: Mapping[str, str]) -> Any:
        from ..compile import compile_protocol

        return compile_protocol(self.legacy.name, choices.get("scenario"))

    def verify(self, qutip: bool = True) -> list[Any]:
        from ..verify.runner import QUTIP_POINTS

        if self.legacy.name in QUTIP_POINTS:
            return _verify(self.legacy.name, qutip)
        return _twin_rows(self.legacy) if qutip else []

    def export(self, to: str, path: Any, choices: Mapping[str, str]) -> list[Any]:
        name = self.legacy.name
        if to == "json" or name not in ("ecs-diqkd", "bell-diqkd"):
            return _legacy_export(name, to, path, choices.get("scenario"))
        return _with_finite(name, to, path, choices.get("scenario"))   # + the EAT key length (OUT_finite.*)


def _twin_rows(legacy: Any) -> list[Any]:
    """A user's heralded protocol: closed forms against the numeric twin (QuTiP) when it has an experiment."""
    exp = getattr(legacy, "experiment", None)
    if exp is None:
        return []
    from ..verify.twin import twin_rows

    return twin_rows(legacy)


def heralded_protocol(legacy: Any, *, param_sets: Sequence[ParamSet] | None = None, rate_unit: str = "bit/round",
                      settings: Sequence[Param] = (), exports: Sequence[str] = ("python", "c", "json"),
                      detector_load: str = "Q_zz", detectors: int = 2) -> Protocol:
    """A contract :class:`~qkdsym.contract.Protocol` for a heralded protocol built from the engine.

    ``legacy`` is a :class:`~qkdsym.protocols.base.HeraldedProtocol` whose
    transmittance parameter is ``eta`` (per user, midpoint station).  Its free
    parameters (``legacy.free``) are optimised per distance; every other
    parameter is a setting (defaults from ``param_sets``, the first being the
    default; :data:`qkdsym.protocols.catalog.XIE2024` if none is given).

    ``detector_load`` names the observable the detector layer reads as the
    station's click probability per round, shared by ``detectors`` detectors
    (:mod:`qkdsym.clocking`); the default, the heralding probability
    ``Q_zz``, counts only the heralding clicks -- a lower bound on the load
    (non-heralding clicks blind the detectors too), so the dead-time factor is
    optimistic there; name a fuller observable where the protocol reports one.
    """
    from .catalog import XIE2024

    params: list[Param] = []
    for name in legacy.parameters:
        if name == "eta":
            continue
        if name in legacy.free:
            params.append(Param(name, role="free", bounds=tuple(legacy.free[name])))
        else:
            params.append(next((s for s in settings if s.name == name), Param(name)))
    params += [Param("beta"), Param("eta_d"),
               Param("N", flag="--n-pulses", aliases=("--N",), optional=True,
                     help="rounds sent: finite size by entropy accumulation (absent: asymptotic)")]
    sets = tuple(param_sets) if param_sets else (ParamSet(XIE2024.name, XIE2024.citation, {
        k: v for k, v in XIE2024.values.items() if k in {p.name for p in params}}),)
    return Protocol(name=legacy.name, summary=legacy.summary, params=tuple(params), rate_unit=rate_unit,
                    geometry="midpoint", param_sets=sets, engine=HeraldedEngine(legacy),
                    variants=(Variant("scenario", tuple(s.name for s in legacy.scenarios),
                                      legacy.scenarios[-1].name, "which closed form"),),
                    exports=tuple(exports), citation=legacy.citation, conventions=legacy.conventions,
                    detector_load=detector_load, detectors=detectors)


def _with_opt(out: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the free parameters the point optimised (``out["x_opt"]``) filled in."""
    v = dict(values)
    for k, x in out.items():
        if k.endswith("_opt") and v.get(k[:-4]) is None:
            v[k[:-4]] = x
    return v


def _no_click(p_d: Any, n: int) -> float:
    return (1.0 - float(p_d or 0.0)) ** n


def _ecs_station(v: Mapping[str, Any]) -> float:
    """ECS: the photons reaching the station are Poisson of mean ``2 eta mu`` in every qubit branch, two
    detectors: ``1 - (1 - p_d)^2 exp(-2 eta mu)``."""
    return 1.0 - _no_click(v.get("p_d"), 2) * math.exp(-2.0 * float(v["eta"]) * float(v["mu"]))


def _bell_station(v: Mapping[str, Any]) -> float:
    """Spin-photon Bell states: one photon per user, each arriving with ``eta``, four detectors:
    ``1 - (1 - p_d)^4 (1 - eta)^2``."""
    return 1.0 - _no_click(v.get("p_d"), 4) * (1.0 - float(v["eta"])) ** 2


ECS = HeraldedEngine("ecs-diqkd", station=_ecs_station)
BELL = HeraldedEngine("bell-diqkd", station=_bell_station)


def _where(values: Mapping[str, Any]) -> dict[str, Any]:
    """``L`` when the point was given by distance (the module then reports its bounds), else ``eta``."""
    return {"L": values["L"]} if values.get("L") is not None else {"eta": values["eta"]}


def _flat_budget(out: dict[str, Any]) -> dict[str, Any]:
    """A finite-key result with its epsilon budget as JSON-ready data (kept under "budget")."""
    b = out.get("budget")
    if b is not None and hasattr(b, "as_dict"):
        out = {**out, "budget": b.as_dict()}
    return out


def _lim_budget(eps_sec: float, eps_cor: float) -> dict[str, Any]:
    """Lim et al. 2014, Eq. (1): eps_sec spent as 21 terms of eps_sec/21 (parameter-estimation bounds,
    the phase-error sampling bound, smoothing and privacy amplification), eps_cor on error verification."""
    from ..keyrate.concentration import EpsilonBudget

    e1 = eps_sec / 21
    return EpsilonBudget(eps_sec, eps_cor, terms={f"term {i + 1} of 21 (eps_sec/21)": e1 for i in range(21)},
                         notes="Lim et al. PRA 89, 022307 (2014), Eq. (1): 6 log2(21/eps_sec) + log2(2/eps_cor)"
                         ).as_dict()


class _RateEngine(Engine):
    """What the photon-statistics engines share: derivations, checks and exports of their module."""

    name = ""

    def derive(self, choices: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        from . import get_protocol

        return get_protocol(self.name).derivations()

    def verify(self, qutip: bool = True) -> list[Any]:
        return _verify(self.name, qutip)

    def export(self, to: str, path: Any, choices: Mapping[str, str]) -> list[Any]:
        if to != "json" and self.name == "async-mdi":
            # python / c: the finite-key estimation (observed coincidences -> key length) is the module itself
            from ..compile.export_finite import export_finite

            return export_finite(self.name, to, path, alongside=False)
        return _legacy_export(self.name, to, path, None)


class _BB84Decoy(_RateEngine):
    name = "bb84-wcp-decoy"

    @staticmethod
    def _common(v: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v[k] for k in ("f", "Y0", "e_d", "eta_d", "beta")}

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        v = values
        if v.get("N") is not None:
            from ..keyrate.finite_key import finite_key_eval

            out = finite_key_eval(v["mu"], v["nu"], N=v["N"], eps_sec=v["eps_sec"], eps_cor=v["eps_cor"],
                                  **_where(v), **self._common(v))
            return {**out, "budget": _lim_budget(v["eps_sec"], v["eps_cor"])}
        from .bb84_decoy import decoy_eval

        nu = None if choices["decoy"] == "infinite" else v.get("nu")
        return decoy_eval(v["mu"], nu, method=choices["decoy"], q=v["q"], **_where(v), **self._common(v))

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> Any:
        v = values
        if v.get("N") is not None:
            from ..keyrate.finite_key import finite_key_curve

            _refuse_fixed(self.name + " (finite key)", v, ("mu", "nu"))
            return finite_key_curve(distance_km, v["N"], eps_sec=v["eps_sec"], eps_cor=v["eps_cor"],
                                    **self._common(v))
        from .bb84_decoy import decoy_curve

        _refuse_fixed(self.name, v, ("mu", "nu"), fixable=("nu",))
        nu = None if choices["decoy"] == "infinite" else v.get("nu")
        return decoy_curve(distance_km, choices["decoy"], q=v["q"], nu=nu, **self._common(v))

    def optimum(self, L: float, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        out = super().optimum(L, values, choices)
        if values.get("N") is not None:
            out["budget"] = _lim_budget(values["eps_sec"], values["eps_cor"])
        return out

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """``Q_mu`` where the result has none (finite key): the signal's gain ``1 - (1 - Y0) exp(-eta mu1)``
        taken for every pulse (the decoys are weaker: an upper bound on the load)."""
        v = _with_opt(out, values)
        mu = v.get("mu1") if v.get("mu1") is not None else v.get("mu")
        if mu is None:
            return {}
        return {"Q_mu": 1.0 - (1.0 - float(v["Y0"])) * math.exp(-float(v["eta"]) * float(mu))}

    def point_module(self, choices: Mapping[str, str], values: Mapping[str, Any]) -> bool:
        if choices["decoy"] == "vacuum-weak" and values.get("nu") is not None:
            from .checks import check_nu

            check_nu(values["mu"], values["nu"])
        return values.get("N") is None and choices["decoy"] != "lp"

    def annotate(self, out: dict[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        from .checks import physical_single_photon

        return physical_single_photon({k: v for k, v in out.items() if k not in ("f", "q")})

    def compiled(self, choices: Mapping[str, str]) -> Any:
        if choices["decoy"] == "lp":
            raise NotImplementedError("the LP decoy estimate is not one closed form")
        from .bb84_decoy import compiled

        return compiled(choices["decoy"])

    def export(self, to: str, path: Any, choices: Mapping[str, str]) -> list[Any]:
        if to != "json" and choices["decoy"] == "lp":
            raise ValueError("bb84-wcp-decoy exports the decoy methods infinite and vacuum-weak to python/c, "
                             "not 'lp': the LP estimate has no closed form (export it --to json)")
        if to == "json":
            return _legacy_export(self.name, to, path, choices["decoy"])
        return _with_finite(self.name, to, path, choices["decoy"])    # + Lim et al.'s key length (OUT_finite.*)


class _SPS(_RateEngine):
    name = "bb84-sps"

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        from .bb84_sps import sps_eval

        return sps_eval(values["n_mean"], values["g2"], values["eta"])

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """``Q_click = eta <n>``: clicks per pulse without pre-attenuation (an upper bound on the load)."""
        return {"Q_click": min(float(values["eta"]) * float(values["n_mean"]), 1.0)}

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> Any:
        import time

        import numpy as np

        from ..channel import point_to_point_eta
        from ..curves import Curve
        from ..keyrate.bounds import plob
        from .bb84_sps import sps_rate, wcp_rate

        t0 = time.perf_counter()
        L = np.atleast_1d(np.asarray(distance_km, dtype=float))
        eta = np.asarray(point_to_point_eta(L, values["beta"], values["eta_d"]), dtype=float).reshape(L.shape)
        R = np.maximum(np.asarray(sps_rate(values["n_mean"], values["g2"], eta), dtype=float), 0.0)
        obs = {"R_WCP": np.asarray(wcp_rate(eta), dtype=float), "eta": eta}
        return Curve(self.name, "sps-vs-wcp", L, R, {}, obs, plob(point_to_point_eta(L, values["beta"])),
                     plob(eta), dict(values), time.perf_counter() - t0)


class _MDI(_RateEngine):
    name = "mdi-decoy"
    _KEYS = ("p_z", "f", "p_d", "e_d", "eta_d", "beta")

    def export(self, to: str, path: Any, choices: Mapping[str, str]) -> list[Any]:
        if to == "json":
            return _legacy_export(self.name, to, path, None)
        # python / c: the finite-key estimation (observed counts -> key length) is the module itself
        from ..compile.export_finite import export_finite

        return export_finite(self.name, to, path, alongside=False)

    def optimum(self, L: float, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        out = super().optimum(L, values, choices)
        if values.get("N") is not None:
            from ..keyrate.mdi_finite import budget

            out["budget"] = budget(values["eps_pe"]).as_dict()
        return out

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """``station_clicks = 1 - (1 - p_d)^2 exp(-2 eta z)``: both users at the signal intensity ``z`` in every
        slot (the decoys are weaker: an upper bound on the load), ``eta`` per user."""
        v = _with_opt(out, values)
        if v.get("mu_z") is None:
            return {}
        return {"station_clicks": 1.0 - _no_click(v.get("p_d"), 2) * math.exp(-2.0 * float(v["eta"]) *
                                                                                float(v["mu_z"]))}

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        v = values
        if v.get("N") is not None:
            from ..keyrate.mdi_finite import mdi_finite_eval

            out = mdi_finite_eval(v["mu_z"], v["mu_y"], v["mu_x"], v["p_z"], v["p_y"], v["p_x"], N=v["N"],
                                  eps=v["eps_pe"], clock=v.get("F"), bsm=choices["bsm"], **_where(v),
                                  **{k: v[k] for k in self._KEYS if k != "p_z"})
            return _flat_budget(out)
        from .mdi_decoy import mdi_eval

        inf = choices["decoy"] == "infinite"
        return mdi_eval(v["mu_z"], None if inf else v.get("mu_y"), v["mu_x"], method=choices["decoy"],
                        bsm=choices["bsm"], F=v.get("F"), **_where(v), **{k: v[k] for k in self._KEYS})

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> Any:
        from .mdi_decoy import mdi_curve

        v = values
        _refuse_fixed(self.name, v, ("mu_z", "mu_y"))
        if v.get("N") is not None:
            from ..keyrate.mdi_finite import mdi_finite_curve

            return mdi_finite_curve(distance_km, N=v["N"], clock=v.get("F"), eps=v["eps_pe"], bsm=choices["bsm"],
                                    **{k: v[k] for k in self._KEYS if k != "p_z"})
        return mdi_curve(distance_km, choices["decoy"], bsm=choices["bsm"], mu_x=v["mu_x"], F=v.get("F"),
                         **{k: v[k] for k in self._KEYS})


class _Async(_RateEngine):
    name = "async-mdi"
    _KEYS = ("nu", "p_nu", "T_c", "F", "M", "V2", "sigma", "delta_f", "p_d", "eta_d", "beta", "f")

    _FINITE = ("T_c", "F", "M", "V2", "sigma", "delta_f", "p_d", "eta_d", "beta", "f")

    def optimum(self, L: float, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        out = super().optimum(L, values, choices)
        if values.get("N") is not None:
            from ..keyrate.async_finite import budget

            out["budget"] = budget(values["eps_pe"]).as_dict()
        return out

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        v = values
        if v.get("N") is not None:
            from ..keyrate.async_finite import async_finite_eval

            return async_finite_eval(v["mu"], v["p_mu"], v["nu"], v["p_nu"], N=v["N"], eps=v["eps_pe"],
                                     click_filter=choices["click_filter"] == "on", **_where(v),
                                     **{k: v[k] for k in self._FINITE})
        from .async_mdi import async_eval

        return async_eval(v["mu"], v["p_mu"], click_filter=choices["click_filter"] == "on", **_where(v),
                          **{k: v[k] for k in self._KEYS})

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """``q_click_all``: every click at the station per time bin (kept or filtered out), each user sending
        mu (p_mu), nu (p_nu) or vacuum: ``1 - (1 - p_d)^2 (sum_i p_i exp(-eta mu_i))^2``."""
        v = _with_opt(out, values)
        if v.get("mu") is None or v.get("p_mu") is None:
            return {}
        eta, mu, p_mu, nu, p_nu = (float(v[k]) for k in ("eta", "mu", "p_mu", "nu", "p_nu"))
        e = p_mu * math.exp(-eta * mu) + p_nu * math.exp(-eta * nu) + (1.0 - p_mu - p_nu)
        return {"q_click_all": 1.0 - _no_click(v.get("p_d"), 2) * e * e}

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> Any:
        v = values
        _refuse_fixed(self.name, v, ("mu", "p_mu"))
        if v.get("N") is not None:
            from ..keyrate.async_finite import async_finite_curve

            given = choices["finite_decoys"] == "given"
            return async_finite_curve(distance_km, N=v["N"], eps=v["eps_pe"], nu=v["nu"] if given else None,
                                      p_nu=v["p_nu"] if given else None,
                                      click_filter=choices["click_filter"] == "on",
                                      **{k: v[k] for k in self._FINITE})
        from .async_mdi import async_curve

        return async_curve(distance_km, click_filter=choices["click_filter"] == "on",
                           **{k: v[k] for k in self._KEYS})


#: points of the tf-qkd checks: (mu, eta, M, e_d, p_d)
TF_POINTS = ((0.12, 3e-4, 16, 0.02, 3.42e-9), (0.05, 0.1, 8, 0.0, 1e-6), (0.3, 0.01, 16, 0.05, 0.0),
             (0.02, 1e-3, 32, 0.01, 1e-7), (0.2, 0.5, 4, 0.03, 1e-5), (0.08, 2e-5, 16, 0.02, 3.42e-9))


class _TF(_RateEngine):
    name = "tf-qkd"
    _KEYS = ("M", "e_d", "p_d", "eta_d", "beta", "f", "F", "duty")

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        from .tf_qkd import tf_eval

        return tf_eval(values["mu"], phase_error=choices["phase_error"], **_where(values),
                       **{k: values[k] for k in self._KEYS})

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """``Q_mu`` where the result has none: ``1 - (1 - p_d)^2 exp(-eta mu)`` (``mu`` the total intensity)."""
        v = _with_opt(out, values)
        if v.get("mu") is None:
            return {}
        return {"Q_mu": 1.0 - _no_click(v.get("p_d"), 2) * math.exp(-float(v["eta"]) * float(v["mu"]))}

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> Any:
        from .tf_qkd import tf_curve

        _refuse_fixed(self.name, values, ("mu",))
        return tf_curve(distance_km, phase_error=choices["phase_error"], **{k: values[k] for k in self._KEYS})

    def verify(self, qutip: bool = True) -> list[Any]:
        """(B27) of the PM-QKD appendix against the default phase error, and (with QuTiP) the parity-projection
        model against Q_mu, E_Z and both phase-error variants, at :data:`TF_POINTS`."""
        from ..verify.runner import CheckRow
        from .tf_qkd import ORACLES, _model, photon_components

        rows = []
        for mu, eta, M, e_d, p_d in TF_POINTS:
            label = f"mu={mu:g} eta={eta:g} M={M} e_d={e_d:g} p_d={p_d:g}"
            o = _model(eta, mu, M, e_d, p_d, 1.16)
            pc = photon_components(eta, mu, M=M, e_d=e_d, p_d=p_d)
            b27 = ORACLES["B27 E_X"][0](pc["q_k"], pc["e_k"])
            ok = abs(float(o["E_X"]) - b27) <= 1e-9 * max(abs(b27), 1e-300)
            rows.append(CheckRow(self.name, "printed", "Ma-Zeng-Zhou (B27) " + label, "E_X", "numeric",
                                 f"derived {float(o['E_X']):.12g} vs (B27) {b27:.12g}", ok))
            if not qutip:
                continue
            from ..verify.qutip_tf import tf_parity_model

            m = tf_parity_model(mu, eta, M=M, e_d=e_d, p_d=p_d)
            par = _model(eta, mu, M, e_d, p_d, 1.16, "parity")
            for obs, closed, model in (("Q_mu", float(o["Q_mu"]), m.Q_mu), ("E_Z", float(o["E_Z"]), m.E_Z),
                                       ("E_X", float(o["E_X"]), m.E_X_pm_qkd), ("E_X_parity", float(par["E_X"]),
                                                                          m.E_X_parity)):
                good = abs(closed - model) <= 1e-8 * max(abs(closed), abs(model)) + 1e-15
                rows.append(CheckRow(self.name, "qutip", label, obs, "agree" if good else "DIFFER",
                                     f"closed {closed:.12g} vs QuTiP {model:.12g} (cutoff {m.cutoff})", good))
        return rows


BB84_DECOY = _BB84Decoy()
SPS = _SPS()
MDI = _MDI()
ASYNC = _Async()
TF = _TF()
