"""Subcell electrical models: detailed balance from the EQE, diode J-V, maximum power point.

Conventions
-----------
Current density in mA/cm^2, positive for generation (photocurrent); voltage in V;
resistances in Ohm cm^2; temperature in K; wavelengths in nm.

Physics
-------
* Radiative dark saturation current from the computed EQE by Rau's reciprocity
  [Rau, Phys. Rev. B 76, 085303 (2007), eq. (8)]::

      J0,rad = q * integral EQE(E) * phi_bb(E) dE,
      phi_bb(E) = 2 pi E^2 / (h^3 c^2) / (exp(E / kT) - 1)

  (black-body photon flux into the hemisphere in front of the cell, n = 1).
* Non-radiative recombination through the external radiative efficiency ERE
  [Green, Prog. Photovolt. 20, 472 (2012); Rau 2007 eq. (13)]::

      Voc = Voc,rad + kT/q ln(ERE),   Voc,rad = kT/q ln(Jsc / J0,rad + 1)

* Single-diode J-V with ideality n, series resistance Rs and shunt Rsh::

      J = Jph - J0n (exp(Vj / (n kT/q)) - 1) - Vj / Rsh,   V = Vj - J Rs.

  The ideality changes the fill factor, not the open-circuit voltage: J0n is
  chosen so that the diode alone reproduces the detailed-balance Voc above,
  J0n = Jsc / (exp(q Voc / (n k T)) - 1) (for n = 1, J0n = J0,rad / ERE).
  The junction voltage Vj(J) has a closed form through the Lambert W function
  [Jain & Kapoor, Sol. Energy Mater. Sol. Cells 81, 269 (2004)], evaluated here
  as W(exp(x)) to avoid overflow.
* Silicon intrinsic limit ("Si_intrinsic" preset): radiative recombination from
  reciprocity on the computed EQE (so photon recycling and light trapping are
  consistent with the optics) plus Auger recombination with the
  parametrisation of Richter et al., Phys. Rev. B 86, 165202 (2012), eq. (18),
  n_i of Misiakos & Tsamakis, J. Appl. Phys. 74, 3293 (1993), and the
  injection-dependent band-gap narrowing of Schenk, J. Appl. Phys. 84, 3684 (1998);
  with free-carrier absorption in the optics (``tandem.evaluation``) this is the
  model of Richter et al., IEEE J. Photovolt. 3, 1184 (2013) (29.43 % for a
  110 um undoped Lambertian wafer); the Si physics is in ``tandem.silicon``.
* Voltage-dependent photocurrent of thin-film absorbers (``tandem.collection``):
  Jph(Vj) is tabulated at junction voltages V_bi - x kT/q (x in
  ``collection.VOLTAGE_NODES_KT``) and interpolated linearly; the junction voltage then
  solves Jph(Vj) - J0n (exp(Vj / n kT/q) - 1) - Vj / Rsh = J in the bracketing pair of
  nodes, between which Jph = alpha + beta Vj is linear: a single diode
  with photocurrent alpha and shunt conductance 1/Rsh - beta, solved exactly by the same
  Lambert W closed form.

Spectra, photocurrent quadrature and constants come from ``optics.spectra``, the detailed
balance of the EQE (photocurrent, J0,rad, Voc,rad) from ``tandem.detailed_balance``, the
electrical presets from ``tandem.presets`` (all re-exported here under their old names).
Temperature is an explicit parameter of every function that depends on it.

Everything is vectorised over a batch axis: the cell parameters are arrays of
shape [B] and the voltage/current solvers work on [B] or [B, N] arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optics.spectra import (  # noqa: F401  (HC_EV_NM, SPECTRA, ...: re-exported, owned by optics.spectra)
    HC_EV_NM,
    SPECTRA,
    incident_power_mw_cm2,
    register_spectrum,
    spectrum_table,
)

from .detailed_balance import (  # noqa: F401  (re-exported: the detailed balance of the EQE)
    blackbody_photon_flux,
    j0_rad_from_eqe,
    jsc_from_eqe,
    reciprocity_weights,
    sun_weights,
    thermal_voltage,
    voc_rad,
)
from .collection import VOLTAGE_NODES_KT
from .presets import PRESETS, Preset, get_preset  # noqa: F401  (re-exported; owned by tandem.presets)
from .silicon import (InjectionTable, injection_table, intrinsic_recombination_current, richter_auger_rate,
                      si_intrinsic_ni)

__all__ = [
    "Preset", "PRESETS", "get_preset", "thermal_voltage", "incident_power_mw_cm2", "SPECTRA",
    "spectrum_table", "register_spectrum",
    "blackbody_photon_flux", "sun_weights", "reciprocity_weights", "jsc_from_eqe", "j0_rad_from_eqe",
    "voc_rad", "DiodeArrays", "diode_from_eqe", "single_mpp", "series_mpp", "jv_curve", "series_jv_curve",
    "short_circuit_current", "series_short_circuit_current", "si_intrinsic_ni", "richter_auger_rate",
    "MPPResult", "series_voltage", "series_operating_voltages", "diode_from_currents", "single_and_series_mpp",
]

#: Shunt conductances below this (mA cm^-2 V^-1, i.e. Rsh > 1e12 Ohm cm^2) are treated as no shunt.
_G_MIN = 1e-9


# --------------------------------------------------------------------------------------------
# Diode model arrays and solvers
# --------------------------------------------------------------------------------------------
def _wexp(x: np.ndarray) -> np.ndarray:
    """W(exp(x)) for real x (principal branch of the Lambert W function), without overflow.

    Winitzki's closed form W(y) ~ L (1 - ln(1 + L) / (2 + L)), L = ln(1 + y) (relative error
    < 2e-3 for y >= 0; Winitzki, Lect. Notes Comput. Sci. 2667, 780 (2003)), with L = x where
    e^x is large, then three Newton steps on w + ln w = x, written multiplicatively; W = y
    for y < e^-30. Relative error < 1e-13 everywhere; four times faster than ``scipy.special.lambertw`` (complex arithmetic) on the J-V solves.
    """
    x = np.asarray(x, dtype=float)
    xn = np.maximum(x, -40.0)  # the Newton branch is used for x >= -30 only
    big = np.log1p(np.exp(np.minimum(xn, 30.0)))
    big = np.where(xn > 30.0, xn, big)
    w = np.maximum(big * (1.0 - np.log1p(big) / (2.0 + big)), 1e-300)
    for _ in range(3):  # Newton: w <- w - (w + ln w - x) / (1 + 1/w)
        w = w * (1.0 + xn - np.log(w)) / (1.0 + w)
    if x.size and x.min() >= -30.0:
        return w
    # tiny arguments: W(y) = y (1 - y + ...), exact to < 1e-13 below e^-30 (0 where e^x underflows)
    with np.errstate(under="ignore"):
        return np.where(x < -30.0, np.exp(np.minimum(x, 0.0)), w)


def _lambert_voltage(jph, j0, a, g, j) -> np.ndarray:
    """Vj solving jph - j0 (exp(Vj / a) - 1) - g Vj = j (arrays broadcast together): closed form via W."""
    c = jph - j + j0
    shunt = g > _G_MIN
    if np.all(shunt):  # the usual case: every cell has a shunt; no masks, no copies
        x = np.log(np.maximum(j0, 1e-300) / (a * g)) + c / (a * g)
        return c / g - a * _wexp(x)
    c, j0, a, g, shunt = np.broadcast_arrays(c, j0, a, g, shunt)
    vj = np.empty(c.shape)
    ns = ~shunt
    with np.errstate(divide="ignore"):
        vj[ns] = a[ns] * (np.log(np.maximum(c[ns], 1e-300)) - np.log(np.maximum(j0[ns], 1e-300)))
    if np.any(shunt):
        cs, j0s, as_, gs = c[shunt], j0[shunt], a[shunt], g[shunt]
        x = np.log(np.maximum(j0s, 1e-300) / (as_ * gs)) + cs / (as_ * gs)
        vj[shunt] = cs / gs - as_ * _wexp(x)
    return vj


def _interp_jph(table, vbi, vt, vj):
    """Photocurrent and dJph/dVj from the table [R, K] at junction voltages vj [R, ...].

    Linear in x = (V_bi - Vj) / (kT/q) between the nodes ``VOLTAGE_NODES_KT`` (0, then
    2^(m/2 - 2)), constant beyond the outermost nodes.
    """
    r = table.shape[0]
    shape = vj.shape
    vj = vj.reshape(r, -1)
    xr = (vbi[:, None] - vj) / vt[:, None]
    x = np.clip(xr, 0.0, VOLTAGE_NODES_KT[-1])
    with np.errstate(divide="ignore"):
        m = np.floor(2.0 * np.log2(np.maximum(x, 1e-300)) + 5.0)
    m = np.clip(m, 0, VOLTAGE_NODES_KT.size - 2).astype(np.intp)
    x0, x1 = VOLTAGE_NODES_KT[m], VOLTAGE_NODES_KT[m + 1]
    y0 = np.take_along_axis(table, m, axis=1)
    y1 = np.take_along_axis(table, m + 1, axis=1)
    slope = (y1 - y0) / (x1 - x0)
    inside = (xr > 0) & (xr < VOLTAGE_NODES_KT[-1])
    return (y0 + slope * (x - x0)).reshape(shape), np.where(inside, -slope / vt[:, None], 0.0).reshape(shape)


@dataclass(frozen=True)
class DiodeArrays:
    """A batch of B single-diode subcells (arrays of shape [B]).

    jph: photocurrent, mA/cm^2; j0: diode saturation current for ideality n,
    mA/cm^2; nvt: n kT/q, V; rs: Ohm cm^2; gsh: 1/Rsh in mA cm^-2 V^-1
    (0 = no shunt); vt: kT/q, V; j0_rad: radiative J0 (mA/cm^2, for
    luminescent coupling); ere: external radiative efficiency.
    auger_w_cm: absorber thickness (cm) for Si Auger recombination, 0 = none;
    ni, n0, p0: intrinsic and equilibrium densities (cm^-3) for the Auger term;
    bgn: 1 where the Si wafer's injection-dependent band-gap narrowing (Schenk 1998) applies.
    jph_v: [B, K] photocurrent (mA/cm^2) at junction voltages vbi - VOLTAGE_NODES_KT kT/q
    (K = 0 columns, or a row of NaN: constant photocurrent jph); vbi: [B] built-in voltage, V.
    """

    jph: np.ndarray
    j0: np.ndarray
    nvt: np.ndarray
    rs: np.ndarray
    gsh: np.ndarray
    vt: np.ndarray
    j0_rad: np.ndarray
    ere: np.ndarray
    auger_w_cm: np.ndarray
    ni: np.ndarray
    n0: np.ndarray
    p0: np.ndarray
    bgn: np.ndarray
    jph_v: np.ndarray | None = None
    vbi: np.ndarray | None = None

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            if name in ("jph_v", "vbi"):
                continue
            object.__setattr__(self, name, np.atleast_1d(np.asarray(getattr(self, name), dtype=float)))
        b = self.jph.shape[0]
        jv = np.zeros((b, 0)) if self.jph_v is None else np.asarray(self.jph_v, dtype=float).reshape(b, -1)
        object.__setattr__(self, "jph_v", jv)
        vbi = np.zeros(b) if self.vbi is None else np.broadcast_to(np.asarray(self.vbi, dtype=float), (b,)).copy()
        object.__setattr__(self, "vbi", vbi)

    @property
    def jph_max(self) -> np.ndarray:
        """[B] largest photocurrent at any voltage (mA/cm^2): jph, or the reverse-bias end of jph_v."""
        if self.jph_v.shape[1] == 0:
            return self.jph
        with np.errstate(invalid="ignore"):
            return np.fmax(self.jph, np.nanmax(np.where(np.isfinite(self.jph_v), self.jph_v, -np.inf), axis=1))

    @property
    def voltage_dependent(self) -> np.ndarray:
        """[B] bool: the photocurrent depends on the voltage."""
        dep = self.__dict__.get("_dep")
        if dep is None:
            if self.jph_v.shape[1] == 0:
                dep = np.zeros(self.size, dtype=bool)
            else:
                dep = np.all(np.isfinite(self.jph_v), axis=1)
            object.__setattr__(self, "_dep", dep)
        return dep

    def photocurrent(self, vj) -> tuple[np.ndarray, np.ndarray]:
        """Jph (mA/cm^2) and dJph/dVj at junction voltage vj [B, ...] (constant rows: jph, 0)."""
        vj = np.asarray(vj, dtype=float)
        jph = np.broadcast_to(self._p("jph", vj), vj.shape).copy()
        djph = np.zeros(vj.shape)
        rows = np.flatnonzero(self.voltage_dependent)
        if rows.size:
            jph[rows], djph[rows] = _interp_jph(self.jph_v[rows], self.vbi[rows], self.vt[rows], vj[rows])
        return jph, djph

    @property
    def size(self) -> int:
        return self.jph.shape[0]

    def take(self, index) -> "DiodeArrays":
        """The sub-batch at ``index`` (integer array or boolean mask)."""
        return DiodeArrays(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    @staticmethod
    def concat(cells) -> "DiodeArrays":
        """The subcells of several DiodeArrays as one batch, in order (rows without Jph(V) padded
        with NaN), so that one vectorised solve serves them all."""
        k = max(c.jph_v.shape[1] for c in cells)

        def jv(c):
            if c.jph_v.shape[1] == k:
                return c.jph_v
            if c.jph_v.shape[1] == 0:
                return np.full((c.size, k), np.nan)
            raise ValueError("DiodeArrays.concat: Jph(V) tables of different voltage nodes")

        return DiodeArrays(**{f: (np.concatenate([jv(c) for c in cells]) if f == "jph_v"
                                  else np.concatenate([getattr(c, f) for c in cells]))
                              for f in DiodeArrays.__dataclass_fields__})

    def _p(self, name: str, like: np.ndarray) -> np.ndarray:
        v = getattr(self, name)
        return v.reshape(v.shape + (1,) * (like.ndim - 1))

    # recombination ----------------------------------------------------------------------
    def _auger(self, vj: np.ndarray, like: np.ndarray):
        """Auger (+ band-gap narrowing) current (mA/cm^2) and its derivative d/dVj at junction voltage vj."""
        w, ni, n0, p0, vt, j0 = (self._p(k, like) for k in ("auger_w_cm", "ni", "n0", "p0", "vt", "j0"))
        return intrinsic_recombination_current(vj, w, ni, n0, p0, vt, j0, self._bgn_table())

    def _bgn_table(self):
        """The band-gap-narrowing table of the wafers (None if no subcell uses it), built once."""
        if not np.any(self.bgn > 0):
            return None
        table = self.__dict__.get("_injection_table")
        if table is None:
            table = injection_table(self.ni, self.n0, self.p0, self.vt)
            table = InjectionTable(table.v0, table.dv, np.where(self.bgn[:, None] > 0, table.ln_r, 0.0))
            object.__setattr__(self, "_injection_table", table)
        return table

    def diode_current(self, vj) -> np.ndarray:
        """Total recombination current through the junction (mA/cm^2) at junction voltage vj [B,...]."""
        vj = np.asarray(vj, dtype=float)
        j0, nvt = self._p("j0", vj), self._p("nvt", vj)
        jd = j0 * np.expm1(np.minimum(vj / nvt, 700.0))
        if np.any(self.auger_w_cm > 0):
            jd = jd + self._auger(vj, vj)[0]
        return jd

    def radiative_current(self, vj) -> np.ndarray:
        """Radiative part ERE x (diode current) of the recombination, mA/cm^2 (for luminescent coupling)."""
        return self._p("ere", np.asarray(vj)) * self.diode_current(vj)

    # solvers ------------------------------------------------------------------------------
    def junction_voltage(self, j, jph=None) -> np.ndarray:
        """Junction voltage Vj (V) at terminal current j (mA/cm^2), shape [B] or [B, N].

        ``jph`` optionally overrides the photocurrent (broadcastable to ``j``); with a
        voltage-dependent photocurrent the override adds jph - self.jph to it.
        """
        j = np.asarray(j, dtype=float)
        if j.ndim == 0:
            j = np.full(self.size, float(j))
        dep = self.voltage_dependent
        auger = np.any(self.auger_w_cm > 0)
        if jph is None and not auger and np.any(dep):
            # every row through the segment table: one pass, no masks (a constant photocurrent is
            # one segment repeated, the same closed form as below)
            return self._segment_voltage(j)
        override = jph is not None
        jph = self._p("jph", j) if jph is None else np.broadcast_to(jph, j.shape)
        j0, a, g = (self._p(k, j) for k in ("j0", "nvt", "gsh"))
        if np.all(dep):
            return self._segment_voltage(j, None, jph if override else None)
        if np.any(dep):
            fixed = ~dep
            vj = np.empty(j.shape)
            vj[fixed] = _lambert_voltage(*(np.broadcast_to(x, j.shape)[fixed] for x in (jph, j0, a, g, j)))
        else:
            vj = _lambert_voltage(jph, j0, a, g, j)  # shaped like j (c = jph - j + j0)
        if auger:
            vj = self._newton_auger(vj, j, jph)
        if np.any(dep):
            rows = np.flatnonzero(dep)
            vj[rows] = self._segment_voltage(j[rows], rows, jph[rows] if override else None)
        return vj

    def _collection_table(self):
        """Per row: terminal current at the K node voltages (increasing), stored [K, B], and per
        segment c = 0..K (c nodes carry more current than the asked one) the photocurrent
        alpha + beta Vj there as (alpha, G - beta) [B, K + 1]; a row without Jph(V) has K + 1
        equal segments (jph, G). Then, for the closed form, n kT/q (G - beta) and
        ln(J0 / (n kT/q (G - beta))) [B, K + 1] and whether every segment has G - beta > 0. Cached."""
        tab = self.__dict__.get("_table")
        if tab is None:
            b, k = self.size, VOLTAGE_NODES_KT.size
            cur = np.zeros((b, k))
            alpha = np.repeat(self.jph[:, None], k + 1, axis=1)
            g_eff = np.repeat(self.gsh[:, None], k + 1, axis=1)
            rows = np.flatnonzero(self.voltage_dependent)
            if rows.size:
                vt, vbi = self.vt[rows, None], self.vbi[rows, None]
                vn = (vbi - VOLTAGE_NODES_KT * vt)[:, ::-1]
                pn = self.jph_v[rows][:, ::-1]
                j0, a, g = self.j0[rows, None], self.nvt[rows, None], self.gsh[rows, None]
                cur[rows] = pn - j0 * np.expm1(np.minimum(vn / a, 700.0)) - g * vn
                # between two nodes Jph is linear; beyond the outermost nodes it is constant (beta = 0)
                beta = (pn[:, 1:] - pn[:, :-1]) / (vn[:, 1:] - vn[:, :-1])
                inner = pn[:, :-1] - beta * vn[:, :-1]
                alpha[rows] = np.concatenate([pn[:, :1], inner, pn[:, -1:]], axis=1)
                g_eff[rows] = g - np.concatenate([np.zeros((rows.size, 1)), beta, np.zeros((rows.size, 1))], axis=1)
            ag = self.nvt[:, None] * g_eff
            shunt = bool(np.all(g_eff > _G_MIN))
            with np.errstate(divide="ignore"):
                lj = np.log(np.maximum(self.j0[:, None], 1e-300) / ag) if shunt else None
            tab = (np.ascontiguousarray(cur.T), alpha, g_eff, ag, lj, shunt)
            object.__setattr__(self, "_table", tab)
        return tab

    def _segment_voltage(self, j: np.ndarray, rows: np.ndarray | None = None,
                         jph: np.ndarray | None = None) -> np.ndarray:
        """Vj at currents j [R, ...] of the rows ``rows`` (all when None) from the segment table.

        J(Vj) = Jph(Vj) + extra - J0n (exp(Vj / n kT) - 1) - G Vj decreases monotonically, so the
        tabulated node currents bracket the root; between two nodes Jph = alpha + beta Vj is
        linear, which is the single diode with photocurrent alpha and shunt conductance
        G - beta: the closed form (Lambert W) is exact there. ``jph`` [R, ...]: an override of
        the photocurrent, whose excess over ``self.jph`` adds to Jph(V).
        """
        cur, alpha, g_eff, ag, lj, shunt = self._collection_table()
        j0, a = self.j0[:, None], self.nvt[:, None]
        if rows is not None:
            cur, alpha, g_eff, j0, a = cur[:, rows], alpha[rows], g_eff[rows], j0[rows], a[rows]
            ag, lj = ag[rows], (lj[rows] if shunt else None)
        r = alpha.shape[0]
        jq = j.reshape(r, -1)
        if jph is not None:
            own = self.jph if rows is None else self.jph[rows]
            extra = (jph - own.reshape(own.shape + (1,) * (j.ndim - 1))).reshape(r, -1)
            jq = jq - extra  # the current J(Vj) must carry without the extra
        # segment index 0..K: the nodes carrying more current (K <= 255 comparisons summed as bytes)
        above = cur[:, :, None] > jq[None]
        seg = np.add.reduce(above.view(np.uint8), axis=0, dtype=np.uint8)
        flat = seg + (np.arange(r) * alpha.shape[1])[:, None]
        if not shunt:
            return _lambert_voltage(alpha.ravel()[flat], j0, a, g_eff.ravel()[flat], jq).reshape(j.shape)
        # _lambert_voltage's shunt branch with its per-segment factors from the table
        c = alpha.ravel()[flat] - jq + j0
        x = lj.ravel()[flat] + c / ag.ravel()[flat]
        return (c / g_eff.ravel()[flat] - a * _wexp(x)).reshape(j.shape)

    def _newton_auger(self, vj: np.ndarray, j: np.ndarray, jph: np.ndarray) -> np.ndarray:
        # g(v) = diode + Auger + shunt - (jph - j) is increasing and convex for v > 0; the
        # Auger-free solution is an upper bound, so Newton from there converges from above.
        j0, a, g = (self._p(k, j) for k in ("j0", "nvt", "gsh"))
        target = jph - j
        for _ in range(60):
            e = np.exp(np.minimum(vj / a, 700.0))
            ja, dja = self._auger(vj, j)
            f = j0 * (e - 1) + ja + g * vj - target
            df = j0 * e / a + dja + g
            step = f / np.maximum(df, 1e-300)
            vj = vj - step
            if np.all(np.abs(step) < 1e-12):
                break
        return vj

    def voltage(self, j, jph=None) -> np.ndarray:
        """Terminal voltage V = Vj - J Rs (V) at current j (mA/cm^2)."""
        j = np.asarray(j, dtype=float)
        if j.ndim == 0:
            j = np.full(self.size, float(j))
        return self.junction_voltage(j, jph) - j * 1e-3 * self._p("rs", j)


def diode_from_eqe(
    eqe,
    wavelengths_nm,
    temperature_k: float = 298.15,
    ere=1.0,
    ideality=1.0,
    rs_ohm_cm2=0.0,
    rsh_ohm_cm2=np.inf,
    auger_thickness_nm=0.0,
    si_doping_cm3: float = 0.0,
    j0_nonrad_ma_cm2=np.nan,
    band_gap_narrowing=True,
    spectrum: str = "AM1.5G",
) -> DiodeArrays:
    """Build the diode models of a batch of subcells from their EQE.

    Parameters
    ----------
    eqe : array_like, shape [B, W] (or [W] for one cell)
        External quantum efficiency, 0..1, zero outside the grid.
    wavelengths_nm : array_like, shape [W]
        Strictly increasing wavelengths, nm.
    temperature_k : float or array_like [B]
        Cell temperature, K (> 0): the black body of the reciprocity J0,rad, kT/q, n_i of Si.
    ere : float or array_like [B]
        External radiative efficiency, (0, 1]; J0 = J0,rad / ERE
        (Rau, Phys. Rev. B 76, 085303 (2007); Green, Prog. Photovolt. 20, 472 (2012)).
    ideality : float or array_like [B]
        Diode ideality factor, > 0 (changes FF, not Voc).
    rs_ohm_cm2, rsh_ohm_cm2 : float or array_like [B]
        Series (>= 0) and shunt (> 0, inf = none) resistance, Ohm cm^2.
    auger_thickness_nm : float or array_like [B]
        > 0 adds the intrinsic recombination of a Si wafer of that thickness (nm): Auger
        (Richter et al., Phys. Rev. B 86, 165202 (2012)) with, by default, band-gap narrowing
        (``tandem.silicon``).
    si_doping_cm3 : float or array_like [B]
        Donor density of that wafer, cm^-3 (0 = undoped).
    j0_nonrad_ma_cm2 : float or array_like [B]
        Where finite, a fixed non-radiative J0 at 298.15 K (scaled with n_i(T)^2 of Si), mA/cm^2,
        replacing the ERE: J0 = J0,rad + J0,nr.
    band_gap_narrowing : bool or array_like [B]
        Apply the injection-dependent Schenk band-gap narrowing to the wafers (Schenk,
        J. Appl. Phys. 84, 3684 (1998)).
    spectrum : str
        Illumination for the photocurrent (see ``optics.spectra.spectrum_table``).

    Returns
    -------
    DiodeArrays of B subcells
    """
    eqe = np.atleast_2d(np.asarray(eqe, dtype=float))
    b = eqe.shape[0]
    jsc = jsc_from_eqe(eqe, wavelengths_nm, spectrum)
    j0r = j0_rad_from_eqe(eqe, wavelengths_nm, temperature_k)
    return diode_from_currents(jsc, j0r, temperature_k, ere, ideality, rs_ohm_cm2, rsh_ohm_cm2,
                               auger_thickness_nm, si_doping_cm3, j0_nonrad_ma_cm2, batch=b,
                               band_gap_narrowing=band_gap_narrowing)


def diode_from_currents(jsc, j0_rad, temperature_k=298.15, ere=1.0, ideality=1.0, rs_ohm_cm2=0.0,
                        rsh_ohm_cm2=np.inf, auger_thickness_nm=0.0, si_doping_cm3=0.0,
                        j0_nonrad_ma_cm2=np.nan, batch: int | None = None,
                        band_gap_narrowing=True, jph_v=None, vbi=None) -> DiodeArrays:
    """Diode models from photocurrent and radiative J0 of B subcells.

    Parameters
    ----------
    jsc : array_like, shape [B]
        Photocurrent, mA/cm^2 (>= 0).
    j0_rad : array_like, shape [B]
        Radiative saturation current (reciprocity), mA/cm^2 (> 0).
    temperature_k, ere, ideality, rs_ohm_cm2, rsh_ohm_cm2, auger_thickness_nm, si_doping_cm3,
    j0_nonrad_ma_cm2, band_gap_narrowing
        As ``diode_from_eqe``; all broadcast to [B].
    batch : int, optional
        B, when every input is a scalar.
    jph_v : array_like [B, K], optional
        Voltage-dependent photocurrent (mA/cm^2) at the junction voltages
        vbi - ``collection.VOLTAGE_NODES_KT`` kT/q (``DiodeArrays``); ``jsc`` is then its value
        at Vj = 0 and sets the Voc of the detailed balance.
    vbi : array_like [B], optional
        Built-in voltage, V, with ``jph_v``.

    Returns
    -------
    DiodeArrays
    """
    shape = (batch,) if batch is not None else np.shape(jsc)
    bc = lambda v: np.broadcast_to(np.asarray(v, dtype=float), shape).astype(float)  # noqa: E731
    jsc, j0r, ere, n, rs, rsh = map(bc, (jsc, j0_rad, ere, ideality, rs_ohm_cm2, rsh_ohm_cm2))
    aug_nm = bc(auger_thickness_nm)
    if np.any((ere <= 0) | (ere > 1)):
        raise ValueError("ERE must lie in (0, 1]")
    if np.any(rs < 0) or np.any(rsh <= 0):
        raise ValueError("series resistance must be >= 0 and shunt resistance > 0 (Ohm cm^2)")
    if np.any(n <= 0):
        raise ValueError("ideality factor must be > 0")
    temperature_k = bc(temperature_k)
    if np.any(~np.isfinite(temperature_k) | (temperature_k <= 0)):
        raise ValueError("temperature_k must be > 0 K")
    vt = thermal_voltage(temperature_k)
    j0nr = bc(j0_nonrad_ma_cm2)
    fixed = np.isfinite(j0nr)
    if np.any(j0nr[fixed] < 0):
        raise ValueError("j0_nonrad_ma_cm2 must be >= 0")
    ni = si_intrinsic_ni(temperature_k)
    j0nr_t = np.where(fixed, j0nr, 0.0) * (ni / si_intrinsic_ni(298.15)) ** 2
    j0_eff = np.where(fixed, j0r + j0nr_t, j0r / ere)
    with np.errstate(divide="ignore", invalid="ignore"):
        ere = np.where(fixed, np.where(j0_eff > 0, j0r / j0_eff, 1.0), ere)
    with np.errstate(divide="ignore", invalid="ignore"):
        voc = vt * np.log1p(jsc / j0_eff)
        j0n = np.where(n == 1.0, j0_eff, jsc / np.expm1(voc / (n * vt)))
    j0n = np.where((jsc > 0) & (j0_eff > 0) & np.isfinite(j0n), j0n, np.maximum(j0_eff, 1e-300))
    nd = bc(si_doping_cm3)
    n0 = np.where(nd > 0, nd / 2 + np.sqrt(nd**2 / 4 + ni**2), ni)
    p0 = ni**2 / n0
    with np.errstate(divide="ignore"):
        gsh = np.where(np.isfinite(rsh), 1e3 / rsh, 0.0)
    return DiodeArrays(jph=jsc, j0=j0n, nvt=n * vt, rs=rs, gsh=gsh, vt=vt, j0_rad=j0r, ere=ere,
                       auger_w_cm=aug_nm * 1e-7, ni=ni, n0=n0, p0=p0,
                       bgn=np.where(aug_nm > 0, bc(band_gap_narrowing), 0.0), jph_v=jph_v, vbi=vbi)


# Operating points (MPP, short circuit, J-V) live in tandem.operating_point; re-exported
# here, after DiodeArrays, under their old names.
from .operating_point import (  # noqa: E402,F401
    MPPResult, jv_curve, series_jv_curve, series_mpp, series_operating_voltages, series_short_circuit_current,
    series_voltage, short_circuit_current, single_and_series_mpp, single_mpp,
)
