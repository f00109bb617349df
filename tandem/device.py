"""Devices: single-junction, semitransparent, 2-terminal and 4-terminal tandems.

One optical solve per design (batched: one ``optics.solve_arrays`` call per group of
same-shaped stacks) gives the absorptance of every layer; the photo-active layers'
absorptance times the IQE is the EQE, from which ``tandem.electrical`` builds each
subcell's detailed-balance diode (Rau reciprocity + ERE + Rs/Rsh/ideality).

* "single": opaque single junction (``top`` only).
* "semitransparent": single junction reporting AVT, LUE, CIE 1931 xy and CRI of T.
* "2T": monolithic series tandem: voltages add at a common current; full tandem J-V,
  current mismatch, limiting cell; optional luminescent coupling (a fraction of the top
  cell's radiative recombination current, taken as ERE x its diode current, becomes bottom
  photocurrent; Steiner et al., IEEE J. Photovolt. 3, 879 (2013)). The stack must name its
  recombination/interconnect layer(s) between the two absorbers.
* "4T": both subcells in one optical stack (the bottom cell sees exactly the light the
  top cell and its transparent electrodes pass), each at its own maximum power point.

Light trapping ("lambertian") replaces the planar absorptance of the bottom absorber
(the top absorber for single junctions) by the Lambertian (4 n^2) limit of a textured
wafer with a perfect rear reflector, applied to the light that enters it::

    A = T_in (1 - e^{-4 a W}) / (1 - (1 - 1/n^2) e^{-4 a W}),   a = 4 pi k / lambda

[Yablonovitch, J. Opt. Soc. Am. 72, 899 (1982); Tiedje et al., IEEE Trans. Electron
Devices 31, 711 (1984); Green, Prog. Photovolt. 10, 235 (2002)]; weak absorption gives
A = a / (a + 1/(4 n^2 W)). T_in is the transmittance of the layers above into a
semi-infinite absorber (refractive index Re n, a second batched solve); layers behind the
absorber are replaced by the ideal reflector (their absorptance is set to 0, T = 0) and the
light that is not absorbed escapes (counted in R).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

import optics
from optics import Stack
from optics.grid import check_wavelengths
from optics.solver import check_angle
from optics.spectra import HC_EV_NM, incident_power_mw_cm2, spectrum_table
from optics.stack import refractive_index

from . import electrical as el
from . import transparency as tr
from .vocabulary import DEVICE_METRICS, KINDS, LIGHT_TRAPPING, non_absorber_categories

__all__ = ["Subcell", "Design", "SubcellResult", "DeviceResult", "BatchResult", "evaluate", "evaluate_batch",
           "KINDS", "DEFAULT_WAVELENGTHS_NM", "lambertian_absorptance"]

#: Default optical grid: 300-1200 nm in 5 nm steps (extended to cover narrow-gap absorbers).
DEFAULT_WAVELENGTHS_NM = tuple(np.arange(300.0, 1200.0 + 1e-9, 5.0).tolist())


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subcell:
    """Electrical description of one subcell.

    absorber : index into ``design.stack.layers`` of the photo-active layer.
    preset : name in ``tandem.electrical.PRESETS``.
    ere, rs_ohm_cm2, rsh_ohm_cm2, ideality : override the preset (None = preset value).
    iqe : internal quantum efficiency (0..1), EQE = IQE x absorptance.
    si_doping_cm3 : n-type doping of the wafer for the "Si_intrinsic" preset (0 = undoped).
    """

    absorber: int
    preset: str = "CsPbI3_QD"
    ere: float | None = None
    rs_ohm_cm2: float | None = None
    rsh_ohm_cm2: float | None = None
    ideality: float | None = None
    iqe: float = 1.0
    si_doping_cm3: float = 0.0

    def __post_init__(self):
        if isinstance(self.absorber, bool) or not isinstance(self.absorber, (int, np.integer)):
            raise ValueError(f"Subcell.absorber must be a layer index (int), got {self.absorber!r}")
        el.get_preset(self.preset)
        if self.ere is not None and not (0 < self.ere <= 1):
            raise ValueError(f"Subcell.ere (external radiative efficiency) must lie in (0, 1], got {self.ere}")
        if self.rs_ohm_cm2 is not None and not (self.rs_ohm_cm2 >= 0 and math.isfinite(self.rs_ohm_cm2)):
            raise ValueError(f"Subcell.rs_ohm_cm2 (series resistance) must be finite and >= 0, got {self.rs_ohm_cm2}")
        if self.rsh_ohm_cm2 is not None and not (self.rsh_ohm_cm2 > 0):
            raise ValueError(f"Subcell.rsh_ohm_cm2 (shunt resistance) must be > 0, got {self.rsh_ohm_cm2}")
        if self.ideality is not None and not (0.5 <= self.ideality <= 5):
            raise ValueError(f"Subcell.ideality must lie in [0.5, 5], got {self.ideality}")
        if not (0 <= self.iqe <= 1):
            raise ValueError(f"Subcell.iqe must lie in [0, 1], got {self.iqe}")
        if not (self.si_doping_cm3 >= 0):
            raise ValueError(f"Subcell.si_doping_cm3 must be >= 0, got {self.si_doping_cm3}")

    @property
    def parameters(self) -> dict[str, float]:
        """Resolved ere, rs_ohm_cm2, rsh_ohm_cm2, ideality (overrides, else preset)."""
        p = el.get_preset(self.preset)
        pick = lambda own, default: float(default if own is None else own)  # noqa: E731
        return {
            "ere": pick(self.ere, p.ere),
            "rs_ohm_cm2": pick(self.rs_ohm_cm2, p.rs_ohm_cm2),
            "rsh_ohm_cm2": pick(self.rsh_ohm_cm2, p.rsh_ohm_cm2),
            "ideality": pick(self.ideality, p.ideality),
        }


@dataclass(frozen=True, eq=False)
class Design:
    """One device to evaluate; see the module docstring for the kinds.

    wavelengths_nm : optical grid (nm); default 300-1200 nm in 5 nm steps, extended
        to 150 nm beyond the band edge of an absorber that reports ``bandgap_ev``, and kept
        within the materials' ``wl_min_nm``/``wl_max_nm`` (start at most 350 nm). The EQE is taken as zero
        outside the grid, for Jsc and for the reciprocity J0,rad.
    temperature_k : cell temperature for the detailed balance (K).
    spectrum : illumination, "AM1.5G" (default), "AM1.5D", "AM0" or a name registered with
        ``optics.spectra.register_spectrum``; PCE is relative to its integrated irradiance.
        (AVT and colour always use AM1.5G / the CIE observer, by their definitions.)
    angle_deg : angle of incidence; the irradiance per unit cell area is kept at the
        spectrum's value (no cos factor), i.e. PCE is relative to the light reaching the cell.
    """

    stack: Stack
    kind: str
    top: Subcell
    bottom: Subcell | None = None
    interconnect: tuple[int, ...] = ()
    wavelengths_nm: tuple[float, ...] | None = None
    angle_deg: float = 0.0
    temperature_k: float = 298.15
    light_trapping: str = "none"
    luminescent_coupling: float = 0.0
    spectrum: str = "AM1.5G"

    def __post_init__(self):
        if not isinstance(self.stack, Stack):
            raise ValueError(f"Design.stack must be an optics.Stack, got {type(self.stack).__name__}")
        if self.kind not in KINDS:
            raise ValueError(f"Design.kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.top, Subcell):
            raise ValueError("Design.top must be a tandem.Subcell")
        object.__setattr__(self, "interconnect", tuple(int(i) for i in self.interconnect))
        n_layers = len(self.stack.layers)
        tandem = self.kind in ("2T", "4T")
        if tandem and not isinstance(self.bottom, Subcell):
            raise ValueError(f"a {self.kind} design needs a bottom Subcell")
        if not tandem and self.bottom is not None:
            raise ValueError(f"a {self.kind!r} design has no bottom cell; use kind '2T' or '4T'")
        for role, cell in (("top", self.top), ("bottom", self.bottom)):
            if cell is not None:
                self._check_absorber(role, cell, n_layers)
        if tandem and self.bottom.absorber <= self.top.absorber:
            raise ValueError(
                f"bottom absorber (layer {self.bottom.absorber}) must come after the top absorber "
                f"(layer {self.top.absorber}) along the light path"
            )
        if self.kind == "2T":
            if not self.interconnect:
                raise ValueError(
                    "a 2T design needs its recombination/interconnect layer(s): give Design.interconnect, "
                    "the indices of those layers between the two absorbers"
                )
            for i in self.interconnect:
                if not (self.top.absorber < i < self.bottom.absorber):
                    raise ValueError(
                        f"interconnect layer {i} must lie between the top absorber (layer {self.top.absorber}) "
                        f"and the bottom absorber (layer {self.bottom.absorber})"
                    )
        elif self.interconnect and self.kind != "4T":
            raise ValueError(f"interconnect layers are only meaningful for 2T designs, not {self.kind!r}")
        if self.light_trapping not in LIGHT_TRAPPING:
            raise ValueError(f"Design.light_trapping must be one of {LIGHT_TRAPPING}, got {self.light_trapping!r}")
        if self.light_trapping != "none" and self.kind == "semitransparent":
            raise ValueError("Lambertian light trapping assumes an ideal rear mirror: not for a semitransparent design")
        lc = float(self.luminescent_coupling)
        if not (0 <= lc <= 1):
            raise ValueError(f"Design.luminescent_coupling must lie in [0, 1], got {lc}")
        if lc > 0 and self.kind != "2T":
            raise ValueError("luminescent coupling applies to 2T designs only")
        if not (math.isfinite(self.temperature_k) and self.temperature_k > 0):
            raise ValueError(f"Design.temperature_k must be > 0 K, got {self.temperature_k}")
        spectrum_table(self.spectrum)  # ValueError naming the known spectra
        try:
            object.__setattr__(self, "angle_deg", check_angle(self.angle_deg))
        except ValueError:
            raise ValueError(f"Design.angle_deg must be a real angle in [0, 90) degrees, got {self.angle_deg!r}") from None
        if self.wavelengths_nm is not None:
            wl = check_wavelengths(self.wavelengths_nm, increasing=True, min_points=2, what="Design.wavelengths_nm")
            object.__setattr__(self, "wavelengths_nm", tuple(wl.tolist()))

    def _check_absorber(self, role: str, cell: Subcell, n_layers: int) -> None:
        i = cell.absorber
        if not (0 <= i < n_layers):
            raise ValueError(f"{role} absorber index {i} is out of range: the stack has {n_layers} layers (0-{n_layers - 1})")
        layer = self.stack.layers[i]
        category = getattr(layer.material, "category", None)
        if isinstance(category, str) and category in non_absorber_categories():
            raise ValueError(
                f"{role} absorber index {i} names layer {layer.label!r}, a {category!r} layer, not an absorber"
            )
        if isinstance(layer.material, (int, float, complex, np.number)) and complex(layer.material).imag <= 0:
            raise ValueError(f"{role} absorber index {i} names layer {layer.label!r}, which does not absorb (k = 0)")
        if layer.thickness_nm <= 0:
            raise ValueError(f"{role} absorber layer {i} ({layer.label!r}) has zero thickness")
        eg = getattr(layer.material, "bandgap_ev", None)
        rng = el.get_preset(cell.preset).bandgap_range_ev
        if eg is not None and rng is not None and not (rng[0] <= eg <= rng[1]):
            raise ValueError(
                f"{role} absorber {layer.label!r} has a band gap of {eg:g} eV, outside the "
                f"{rng[0]:g}-{rng[1]:g} eV range of the {cell.preset!r} electrical preset"
            )

    @property
    def subcells(self) -> tuple[Subcell, ...]:
        return (self.top,) if self.bottom is None else (self.top, self.bottom)

    def wavelengths(self) -> np.ndarray:
        """The optical grid in nm (see class docstring)."""
        if self.wavelengths_nm is not None:
            return np.asarray(self.wavelengths_nm, dtype=float)
        start, end = 300.0, 1200.0
        for cell in self.subcells:
            eg = getattr(self.stack.layers[cell.absorber].material, "bandgap_ev", None)
            if eg:
                end = max(end, 5.0 * math.ceil((HC_EV_NM / eg + 150.0) / 5.0))
        # do not ask any material outside its tabulated range (nkdata raises there); the
        # AM1.5G photon flux below 310 nm is negligible
        materials = [layer.material for layer in self.stack.layers] + [self.stack.incident, self.stack.exit]
        lows = [getattr(m, "wl_min_nm", None) for m in materials]
        highs = [getattr(m, "wl_max_nm", None) for m in materials]
        lows = [float(x) for x in lows if isinstance(x, (int, float)) and math.isfinite(x)]
        highs = [float(x) for x in highs if isinstance(x, (int, float)) and math.isfinite(x)]
        if lows and max(lows) > start:
            start = min(5.0 * math.ceil(max(lows) / 5.0), 350.0)
        if end > 1200.0 and highs:
            end = max(1200.0, min(end, 5.0 * math.floor(min(highs) / 5.0)))
        if start == 300.0 and end == 1200.0:
            return np.asarray(DEFAULT_WAVELENGTHS_NM)
        return np.arange(start, end + 1e-9, 5.0)

    @property
    def lt_absorber(self) -> int | None:
        """Index of the layer that gets Lambertian light trapping, or None."""
        if self.light_trapping == "none":
            return None
        return (self.bottom or self.top).absorber


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SubcellResult:
    """One subcell on its own J-V curve (its own MPP), plus its operating point in the device.

    jsc_ma_cm2: terminal current at V = 0; jph_ma_cm2: optical (photo)current = q int EQE phi;
    voc_v, vmpp_v: V; ff_pct, pce_pct: %; j0_rad: radiative J0 (mA/cm^2); eqe [W];
    jv: (voltage_v [N], current_ma_cm2 [N]), voltage increasing; voc_rad_v: radiative-limit Voc;
    v_operating_v: the subcell's voltage at the device's operating point (2T: the tandem MPP).
    """

    jsc_ma_cm2: float
    voc_v: float
    ff_pct: float
    pce_pct: float
    vmpp_v: float
    jmpp_ma_cm2: float
    j0_rad: float
    eqe: np.ndarray
    jv: tuple[np.ndarray, np.ndarray]
    jph_ma_cm2: float = float("nan")
    voc_rad_v: float = float("nan")
    ere: float = float("nan")
    v_operating_v: float = float("nan")


_DICT_KEYS = DEVICE_METRICS


@dataclass(frozen=True, eq=False)
class DeviceResult:
    """Everything about one evaluated design.

    pce_pct: device PCE (2T: series MPP; 4T: sum of subcell MPPs; single: the cell's).
    voc_v, jsc_ma_cm2, ff_pct, vmpp_v, jmpp_ma_cm2: of the device J-V (2T: the tandem curve;
    single: the cell; 4T: NaN). pmax_mw_cm2: output power density (4T: sum of both cells).
    mismatch_ma_cm2: top - bottom photocurrent (NaN without a bottom cell);
    limiting: the subcell with the lower photocurrent (2T/4T) or None.
    avt_pct, lue_pct, cie_xy, cri: for semitransparent designs (NaN / None otherwise).
    optics: the OpticsResult of this design (with light trapping applied).
    jv: tandem J-V (voltage_v, current_ma_cm2) for 2T, the cell's J-V for single junctions.
    """

    kind: str
    pce_pct: float
    top: SubcellResult
    bottom: SubcellResult | None
    mismatch_ma_cm2: float
    limiting: str | None
    avt_pct: float
    lue_pct: float
    cie_xy: tuple[float, float] | None
    cri: float
    optics: Any
    jv: tuple[np.ndarray, np.ndarray] | None
    voc_v: float = float("nan")
    jsc_ma_cm2: float = float("nan")
    ff_pct: float = float("nan")
    vmpp_v: float = float("nan")
    jmpp_ma_cm2: float = float("nan")
    pmax_mw_cm2: float = float("nan")

    def to_dict(self) -> dict[str, float]:
        """Flat scalars (NaN where not applicable)."""
        nan = float("nan")
        b = self.bottom
        xy = self.cie_xy if self.cie_xy is not None else (nan, nan)
        return {
            "pce_pct": self.pce_pct, "voc_v": self.voc_v, "jsc_ma_cm2": self.jsc_ma_cm2, "ff_pct": self.ff_pct,
            "top_jsc_ma_cm2": self.top.jsc_ma_cm2, "top_jph_ma_cm2": self.top.jph_ma_cm2,
            "top_voc_v": self.top.voc_v, "top_ff_pct": self.top.ff_pct, "top_pce_pct": self.top.pce_pct,
            "bottom_jsc_ma_cm2": b.jsc_ma_cm2 if b else nan, "bottom_jph_ma_cm2": b.jph_ma_cm2 if b else nan,
            "bottom_voc_v": b.voc_v if b else nan, "bottom_ff_pct": b.ff_pct if b else nan,
            "bottom_pce_pct": b.pce_pct if b else nan,
            "mismatch_ma_cm2": self.mismatch_ma_cm2, "avt_pct": self.avt_pct, "lue_pct": self.lue_pct,
            "cie_x": float(xy[0]), "cie_y": float(xy[1]), "cri": self.cri,
        }

    def to_frame(self):
        """One-row pandas DataFrame of ``to_dict()`` plus ``kind`` and ``limiting``."""
        import pandas as pd

        row = {"kind": self.kind, "limiting": self.limiting, **self.to_dict()}
        return pd.DataFrame([row])


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Results of ``evaluate_batch``: one DeviceResult per design, and a DataFrame view."""

    results: tuple[DeviceResult, ...]
    frame: Any

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i) -> DeviceResult:
        return self.results[i]


# --------------------------------------------------------------------------------------------
# Optics
# --------------------------------------------------------------------------------------------
def lambertian_absorptance(nk, thickness_nm, wavelengths_nm) -> np.ndarray:
    """Lambertian (4 n^2) absorptance of a textured slab with ideal rear mirror (see module doc).

    nk: complex index [..., W]; thickness_nm: [...] ; returns [..., W].
    """
    nk = np.asarray(nk, dtype=complex)
    wl = np.asarray(wavelengths_nm, dtype=float)
    alpha = 4 * np.pi * nk.imag / wl  # 1/nm
    w = np.asarray(thickness_nm, dtype=float)[..., None]
    e = np.exp(-4 * alpha * w)
    n2 = np.maximum(nk.real, 1.0) ** 2
    return (1 - e) / (1 - (1 - 1 / n2) * e)


class _IndexCache:
    """n + ik per distinct material object (or number), evaluated once per grid."""

    def __init__(self):
        self._cache: dict[tuple, np.ndarray] = {}
        self._keep: list = []

    def get(self, material, wl_key: tuple, wl: np.ndarray, where: str) -> np.ndarray:
        if isinstance(material, (int, float, complex, np.number)):
            key = ("num", complex(material), wl_key)
        else:
            key = ("obj", id(material), wl_key)
            self._keep.append(material)
        hit = self._cache.get(key)
        if hit is None:
            hit = refractive_index(material, wl, where)
            self._cache[key] = hit
        return hit


def _group_key(d: Design, wl: np.ndarray) -> tuple:
    return (len(d.stack.layers), d.stack.coherent, tuple(wl.tolist()), float(d.angle_deg), d.lt_absorber)


def _solve_group(designs: Sequence[Design], wl: np.ndarray, cache: _IndexCache):
    """One batched optical solve (plus one for light trapping): R, T [B, W], A [B, L, W]."""
    wl_key = tuple(wl.tolist())
    first = designs[0]
    n_lay = len(first.stack.layers)
    b = len(designs)
    n = np.empty((b, n_lay, wl.size), dtype=complex)
    n0 = np.empty((b, wl.size), dtype=complex)
    nf = np.empty((b, wl.size), dtype=complex)
    d = np.empty((b, n_lay))
    for k, des in enumerate(designs):
        s = des.stack
        n0[k] = cache.get(s.incident, wl_key, wl, "incident medium")
        nf[k] = cache.get(s.exit, wl_key, wl, "exit medium")
        for i, layer in enumerate(s.layers):
            n[k, i] = cache.get(layer.material, wl_key, wl, f"layer {i} ({layer.label!r})")
            d[k, i] = layer.thickness_nm
    res = optics.solve_arrays(n, d, first.stack.coherent, wl, n0, nf, first.angle_deg,
                              labels=first.stack.labels)
    R, T, A = np.array(res.R), np.array(res.T), np.array(res.A)
    lt = first.lt_absorber
    if lt is not None:
        # light entering a semi-infinite absorber through the layers above it
        if lt > 0:
            sub = optics.solve_arrays(n[:, :lt], d[:, :lt], first.stack.coherent[:lt], wl, n0,
                                      n[:, lt].real + 0j, first.angle_deg)
        else:
            sub = optics.solve_arrays(n[:, :1] * 0 + n0[:, None], np.zeros((b, 1)), (True,), wl, n0,
                                      n[:, lt].real + 0j, first.angle_deg)
        a_above = np.array(sub.A)
        A[:, :lt] = a_above
        A[:, lt] = np.array(sub.T) * lambertian_absorptance(n[:, lt], d[:, lt], wl)
        A[:, lt + 1:] = 0.0
        T = np.zeros_like(T)
        R = np.clip(1.0 - A.sum(axis=1), 0.0, 1.0)
    return res, R, T, A, n


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------
def evaluate(design: Design, with_cri: bool = True, jv_points: int = 101,
             avt_weighting: str = "photon") -> DeviceResult:
    """Evaluate one design (see ``evaluate_batch``)."""
    return evaluate_batch([design], with_cri=with_cri, jv_points=jv_points, avt_weighting=avt_weighting).results[0]


def _cell_arrays(designs, cells, jsc, j0r, idx):
    """DiodeArrays for subcells ``cells`` (one per design in ``idx``)."""
    params = [c.parameters for c in cells]
    pre = [el.get_preset(c.preset) for c in cells]
    aug = [designs[i].stack.layers[c.absorber].thickness_nm if p.recombination == "si_intrinsic" else 0.0
           for i, c, p in zip(idx, cells, pre)]
    ere = [1.0 if p.recombination == "si_intrinsic" and c.ere is None else q["ere"]
           for c, p, q in zip(cells, pre, params)]
    return el.diode_from_currents(
        jsc, j0r,
        temperature_k=np.array([designs[i].temperature_k for i in idx]),
        ere=np.array(ere),
        ideality=np.array([q["ideality"] for q in params]),
        rs_ohm_cm2=np.array([q["rs_ohm_cm2"] for q in params]),
        rsh_ohm_cm2=np.array([q["rsh_ohm_cm2"] for q in params]),
        auger_thickness_nm=np.array(aug),
        si_doping_cm3=np.array([c.si_doping_cm3 for c in cells]),
        j0_nonrad_ma_cm2=np.array([p.j0_nonrad_ma_cm2 if (p.j0_nonrad_ma_cm2 is not None and c.ere is None)
                                   else np.nan for c, p in zip(cells, pre)]),
        batch=len(idx),
    )


def evaluate_batch(designs: Sequence[Design], with_cri: bool = True, jv_points: int = 101,
                   avt_weighting: str = "photon") -> "BatchResult":
    """Evaluate many designs: batched optics per group of same-shaped stacks, vectorised electrics.

    Designs with the same layer count, coherence pattern, wavelength grid, angle and light-
    trapping layer share one ``optics.solve_arrays`` call; each distinct material is evaluated
    once per grid. The J-V/MPP solvers run once over the whole batch per subcell role.
    ``with_cri=False`` skips the (per-spectrum, ~15 ms) colour rendering index.
    ``avt_weighting``: "photon" (AM1.5G photon flux, Yang et al. Joule 2019; default) or "power".
    ``jv_points``: points of the returned J-V curves.
    """
    designs = list(designs)
    if avt_weighting not in ("photon", "power"):
        raise ValueError(f"avt_weighting must be 'photon' or 'power', got {avt_weighting!r}")
    if not designs:
        raise ValueError("evaluate_batch needs at least one Design")
    for k, d in enumerate(designs):
        if not isinstance(d, Design):
            raise ValueError(f"design {k} is a {type(d).__name__}, expected tandem.Design")
    nb = len(designs)
    wls = [d.wavelengths() for d in designs]
    groups: dict[tuple, list[int]] = {}
    for k, (d, wl) in enumerate(zip(designs, wls)):
        groups.setdefault(_group_key(d, wl), []).append(k)

    cache = _IndexCache()
    optics_out: list[Any] = [None] * nb
    eqe_top: list[Any] = [None] * nb
    eqe_bot: list[Any] = [None] * nb
    jph = np.full((2, nb), np.nan)
    j0r = np.full((2, nb), np.nan)
    avt = np.full(nb, np.nan)
    xy = np.full((nb, 2), np.nan)
    cri = np.full(nb, np.nan)

    for key, idx in groups.items():
        group = [designs[k] for k in idx]
        wl = wls[idx[0]]
        res, R, T, A, n = _solve_group(group, wl, cache)
        for role, attr in ((0, "top"), (1, "bottom")):
            sel = [j for j, d in enumerate(group) if getattr(d, attr) is not None]
            if not sel:
                continue
            ab = np.array([getattr(group[j], attr).absorber for j in sel])
            kabs = n[sel, ab].imag
            dead = ~np.any(kabs > 0, axis=-1)
            if np.any(dead):
                j = sel[int(np.argmax(dead))]
                lay = group[j].stack.layers[getattr(group[j], attr).absorber]
                raise ValueError(
                    f"design {idx[j]}: {attr} absorber index {getattr(group[j], attr).absorber} names layer "
                    f"{lay.label!r}, which does not absorb (k = 0 on the whole grid)"
                )
            iqe = np.array([getattr(group[j], attr).iqe for j in sel])[:, None]
            eqe = optics.eqe(A[sel, ab], iqe)
            specs = [group[j].spectrum for j in sel]
            for sp in set(specs):
                m = np.array([x == sp for x in specs])
                jph[role, [idx[j] for j, mm in zip(sel, m) if mm]] = optics.jsc(eqe[m], wl, spectrum=sp)
            temps = np.array([group[j].temperature_k for j in sel])
            for t in np.unique(temps):
                m = temps == t
                rows = [idx[j] for j, mm in zip(sel, m) if mm]
                j0r[role, rows] = el.j0_rad_from_eqe(eqe[m], wl, float(t))
            store = eqe_top if role == 0 else eqe_bot
            for j, e in zip(sel, eqe):
                store[idx[j]] = e
        semi = [j for j, d in enumerate(group) if d.kind == "semitransparent"]
        if semi:
            rows = [idx[j] for j in semi]
            avt[rows] = tr.avt(T[semi], wl, avt_weighting)
            xy[rows] = tr.chromaticity(T[semi], wl)
            if with_cri:
                cri[rows] = tr.colour_rendering_index(T[semi], wl)
        for j, k in enumerate(idx):
            optics_out[k] = optics.OpticsResult(wl, R[j], T[j], A[j], res.labels, res.angle_deg,
                                                res.polarization, res.engine)

    # electrical, vectorised over the batch -------------------------------------------------
    all_idx = np.arange(nb)
    top = _cell_arrays(designs, [d.top for d in designs], jph[0], j0r[0], all_idx)
    top_mpp = el.single_mpp(top)
    top_jv = el.jv_curve(top, top_mpp.jsc_ma_cm2, jv_points)
    bidx = np.array([k for k, d in enumerate(designs) if d.bottom is not None], dtype=int)
    pin = np.array([incident_power_mw_cm2(d.spectrum) for d in designs])  # mW/cm^2
    top_pce = top_mpp.pmax_mw_cm2 / pin * 100
    pce = top_pce.copy()
    dev_voc, dev_jsc, dev_ff = top_mpp.voc_v.copy(), top_mpp.jsc_ma_cm2.copy(), top_mpp.ff_pct.copy()
    dev_vmpp, dev_jmpp = top_mpp.vmpp_v.copy(), top_mpp.jmpp_ma_cm2.copy()
    dev_pmax = top_mpp.pmax_mw_cm2.copy()
    v_op = np.full((2, nb), np.nan)
    v_op[0] = top_mpp.vmpp_v
    dev_jv: dict[int, tuple] = {}
    bot_mpp = bot_jv = None
    bpos = {}
    if bidx.size:
        bot = _cell_arrays(designs, [designs[k].bottom for k in bidx], jph[1, bidx], j0r[1, bidx], bidx)
        bot_mpp = el.single_mpp(bot)
        bot_pce = bot_mpp.pmax_mw_cm2 / pin[bidx] * 100
        bot_jv = el.jv_curve(bot, bot_mpp.jsc_ma_cm2, jv_points)
        bpos = {int(k): p for p, k in enumerate(bidx)}
        v_op[1, bidx] = bot_mpp.vmpp_v
        four = np.array([designs[k].kind == "4T" for k in bidx])
        if np.any(four):
            k4 = bidx[four]
            pce[k4] = top_pce[k4] + bot_pce[four]
            dev_voc[k4] = dev_jsc[k4] = dev_ff[k4] = dev_vmpp[k4] = dev_jmpp[k4] = np.nan
            dev_pmax[k4] = top_mpp.pmax_mw_cm2[k4] + bot_mpp.pmax_mw_cm2[four]
        if np.any(~four):
            k2 = bidx[~four]
            t2, b2 = top.take(k2), bot.take(np.flatnonzero(~four))
            lc = np.array([designs[k].luminescent_coupling for k in k2])
            m2 = el.series_mpp(t2, b2, lc)
            pce[k2] = m2.pmax_mw_cm2 / pin[k2] * 100
            dev_voc[k2], dev_jsc[k2], dev_ff[k2] = m2.voc_v, m2.jsc_ma_cm2, m2.ff_pct
            dev_vmpp[k2], dev_jmpp[k2], dev_pmax[k2] = m2.vmpp_v, m2.jmpp_ma_cm2, m2.pmax_mw_cm2
            vt_op, vb_op = el._series_parts(t2, b2, lc, m2.jmpp_ma_cm2)
            v_op[0, k2] = np.where(m2.jmpp_ma_cm2 > 0, vt_op, 0.0)
            v_op[1, k2] = np.where(m2.jmpp_ma_cm2 > 0, vb_op, 0.0)
            v2, j2 = el.series_jv_curve(t2, b2, m2.jsc_ma_cm2, lc, jv_points)
            for p, k in enumerate(k2):
                dev_jv[int(k)] = (v2[p], j2[p])

    # assemble -------------------------------------------------------------------------------
    nan = float("nan")
    lue = np.where(np.isfinite(avt), tr.lue(pce, avt), np.nan)
    temps = np.array([d.temperature_k for d in designs])
    top_ff = top_mpp.ff_pct
    top_vrad = el.voc_rad(jph[0], j0r[0], temps)
    if bidx.size:
        bot_ff = bot_mpp.ff_pct
        bot_vrad = el.voc_rad(jph[1, bidx], j0r[1, bidx], temps[bidx])
    results = []
    for k, d in enumerate(designs):
        top_r = SubcellResult(
            float(top_mpp.jsc_ma_cm2[k]), float(top_mpp.voc_v[k]), float(top_ff[k]),
            float(top_pce[k]), float(top_mpp.vmpp_v[k]), float(top_mpp.jmpp_ma_cm2[k]),
            float(j0r[0, k]), eqe_top[k], (top_jv[0][k], top_jv[1][k]), float(jph[0, k]),
            float(top_vrad[k]), float(top.ere[k]), float(v_op[0, k]),
        )
        bot_r = None
        mismatch, limiting = nan, None
        if d.bottom is not None:
            p = bpos[k]
            bot_r = SubcellResult(
                float(bot_mpp.jsc_ma_cm2[p]), float(bot_mpp.voc_v[p]), float(bot_ff[p]),
                float(bot_pce[p]), float(bot_mpp.vmpp_v[p]), float(bot_mpp.jmpp_ma_cm2[p]),
                float(j0r[1, k]), eqe_bot[k], (bot_jv[0][p], bot_jv[1][p]), float(jph[1, k]),
                float(bot_vrad[p]), float(bot.ere[p]), float(v_op[1, k]),
            )
            mismatch = float(jph[0, k] - jph[1, k])
            limiting = "top" if mismatch < 0 else "bottom"
        jv = dev_jv.get(k, top_r.jv if d.bottom is None else None)
        has_avt = np.isfinite(avt[k])
        results.append(DeviceResult(
            kind=d.kind, pce_pct=float(pce[k]), top=top_r, bottom=bot_r, mismatch_ma_cm2=mismatch,
            limiting=limiting, avt_pct=float(avt[k]), lue_pct=float(lue[k]),
            cie_xy=(float(xy[k, 0]), float(xy[k, 1])) if has_avt else None, cri=float(cri[k]),
            optics=optics_out[k], jv=jv, voc_v=float(dev_voc[k]), jsc_ma_cm2=float(dev_jsc[k]),
            ff_pct=float(dev_ff[k]), vmpp_v=float(dev_vmpp[k]), jmpp_ma_cm2=float(dev_jmpp[k]),
            pmax_mw_cm2=float(dev_pmax[k]),
        ))
    frame = _frame(designs, results)
    return BatchResult(tuple(results), frame)


def _frame(designs, results):
    import pandas as pd

    rows = [r.to_dict() for r in results]
    frame = pd.DataFrame(rows, columns=list(_DICT_KEYS))
    frame.insert(0, "kind", [d.kind for d in designs])
    frame.insert(1, "limiting", [r.limiting for r in results])
    return frame
