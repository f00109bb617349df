"""Transport parameters of the absorbers: mobilities, lifetimes, built-in voltage, architecture.

One ``Transport`` per electrical preset (same names as ``tandem.electrical.PRESETS``);
``tandem.collection`` turns them into the collection efficiency and the thickness
scaling of the non-radiative recombination. Where the literature gives a range the
value is a typical one inside it, chosen (as the presets' ERE is chosen for the measured
Voc) so that the measured thickness optima of the cited devices come out; each entry says so.

Units: mobility cm^2/(V s), lifetime ns, built-in voltage V, recombination velocity cm/s,
thickness nm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .vocabulary import ARCHITECTURES, TRANSPORT_KEYS

__all__ = ["Transport", "TRANSPORT", "get_transport", "TRANSPORT_KEYS"]

@dataclass(frozen=True)
class Transport:
    """Carrier transport in one absorber.

    mobility_e_cm2_vs, mobility_h_cm2_vs : > 0.
    lifetime_e_ns, lifetime_h_ns : > 0 (SRH lifetimes of the undoped absorber).
    vbi_v : built-in voltage across the absorber (thin films; > 0 and below the gap).
    architecture : "pin" (hole contact on the light side), "nip" (electron contact on the
        light side) or "wafer" (diffusion-limited base; minority holes, junction at the back).
    s_front_cm_s, s_back_cm_s : >= 0, recombination velocity at the front / back face of the
        absorber for the carrier that face should block.
    reference_nm : thickness of the cited devices, at which the preset's ERE (or J0,nr) holds.
    reference : citations.
    vbi_deficit_v : for absorbers whose gap is tuned (quantum-dot size, composition): when the
        absorber reports its gap Eg, V_bi = Eg/q - vbi_deficit_v (the selective contacts
        follow the band edges); None keeps vbi_v. A user's vbi_v override wins.
    """

    mobility_e_cm2_vs: float
    mobility_h_cm2_vs: float
    lifetime_e_ns: float
    lifetime_h_ns: float
    vbi_v: float
    architecture: str
    s_front_cm_s: float
    s_back_cm_s: float
    reference_nm: float
    reference: str = ""
    vbi_deficit_v: float | None = None

    def __post_init__(self):
        self.check()

    def check(self, where: str = "transport", bandgap_ev: float | None = None) -> None:
        """ValueError (one line, naming ``where`` and the key) for an impossible value."""
        for key in ("mobility_e_cm2_vs", "mobility_h_cm2_vs", "lifetime_e_ns", "lifetime_h_ns", "vbi_v",
                    "reference_nm"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{where}: {key} must be a finite number > 0, got {v!r}")
        for key in ("s_front_cm_s", "s_back_cm_s"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
                raise ValueError(f"{where}: {key} must be >= 0 (cm/s), got {v!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"{where}: architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        d = self.vbi_deficit_v
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)) or not (0 < d < 5)):
            raise ValueError(f"{where}: vbi_deficit_v must lie in (0, 5) V, got {d!r}")
        if bandgap_ev is not None and self.architecture != "wafer" and self.vbi_v >= bandgap_ev:
            raise ValueError(f"{where}: vbi_v = {self.vbi_v:g} V must lie below the absorber gap ({bandgap_ev:g} eV)")

    def for_gap(self, bandgap_ev: float | None) -> "Transport":
        """V_bi = Eg - vbi_deficit_v for this gap (unchanged without a deficit or a gap)."""
        if self.vbi_deficit_v is None or bandgap_ev is None or self.architecture == "wafer":
            return self
        return replace(self, vbi_v=max(float(bandgap_ev) - self.vbi_deficit_v, 0.05), vbi_deficit_v=None)

    def with_overrides(self, where: str = "transport", **overrides) -> "Transport":
        """A copy with some keys replaced (validated); unknown keys raise naming ``where``."""
        unknown = sorted(set(overrides) - set(TRANSPORT_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown transport key {unknown[0]!r}; known: {sorted(TRANSPORT_KEYS)}")
        values = {k: (float(v) if k != "architecture" and isinstance(v, (int, float)) and not isinstance(v, bool)
                      else v) for k, v in overrides.items()}
        if "vbi_v" in values:
            values["vbi_deficit_v"] = None
        try:
            return replace(self, **values)
        except ValueError as err:  # name the subcell, not the dataclass
            raise ValueError(str(err).replace("transport:", f"{where}:", 1)) from None


_S_PVK = ("interface recombination velocities of optimised perovskite/transport-layer interfaces are "
          "~10-1000 cm/s (Stolterfoht et al., Nat. Energy 3, 847 (2018), doi:10.1038/s41560-018-0219-8)")

TRANSPORT: dict[str, Transport] = {
    "CsPbI3_QD": Transport(
        0.3, 0.3, 50.0, 50.0, 1.30, "nip", 100.0, 100.0, 400.0, vbi_deficit_v=0.45,
        reference="CsPbI3 QD films: mobility raised by A-site halide treatments to the 0.1-1 cm^2/V s range "
                  "(Sanehira et al., Sci. Adv. 3, eaao4204 (2017), doi:10.1126/sciadv.aao4204); PL lifetimes of "
                  "tens of ns (Swarnkar et al., Science 354, 92 (2016), doi:10.1126/science.aag2700). Typical "
                  "values chosen: 0.3 cm^2/V s, 50 ns (collection length ~0.3-0.6 um, so that the cells of "
                  "these papers, 13-14 % at a few hundred nm, come out); n-i-p (TiO2 or SnO2 / QD / "
                  "spiro-OMeTAD) cells ~300-500 nm thick (reference thickness 400 nm); V_bi 1.3 V, ~0.1 V "
                  "above the cells' Voc (V_bi = Eg - 0.45 V for other dot sizes). " + _S_PVK,
    ),
    "FAPbI3_QD": Transport(
        0.3, 0.3, 50.0, 50.0, 1.15, "nip", 100.0, 100.0, 400.0, vbi_deficit_v=0.45,
        reference="FAPbI3 QD films (Hao et al., Nat. Energy 5, 79 (2020), doi:10.1038/s41560-019-0535-7): "
                  "typical QD-film values as for CsPbI3 QDs (0.3 cm^2/V s, 50 ns); V_bi ~0.1 V above Voc. " + _S_PVK,
    ),
    "CsFA_QD": Transport(
        0.3, 0.3, 100.0, 100.0, 1.25, "nip", 100.0, 100.0, 400.0, vbi_deficit_v=0.45,
        reference="Cs(1-x)FA(x)PbI3 QDs: longer carrier lifetimes than CsPbI3 QDs (Hao et al., Nat. Energy 5, 79 "
                  "(2020), doi:10.1038/s41560-019-0535-7); typical 0.3 cm^2/V s and 100 ns chosen; V_bi ~0.1 V "
                  "above Voc. " + _S_PVK,
    ),
    "SnPb_perovskite": Transport(
        1.0, 1.0, 1000.0, 1000.0, 0.95, "pin", 100.0, 100.0, 900.0, vbi_deficit_v=0.3,
        reference="Sn-Pb (~1.25 eV) perovskite: carrier lifetimes > 1 us and diffusion lengths of microns "
                  "(Zhao et al., Nat. Energy 2, 17018 (2017), doi:10.1038/nenergy.2017.18); p-i-n cells ~0.9-1.2 um "
                  "thick (Lin et al., Nature 603, 73 (2022), doi:10.1038/s41586-021-04372-8). Typical 1 cm^2/V s "
                  "(thin-film range 1-10) and 1 us chosen; V_bi ~0.1 V above Voc. " + _S_PVK,
    ),
    "PbS_QD": Transport(
        0.05, 0.05, 1000.0, 1000.0, 0.90, "nip", 100.0, 100.0, 400.0, vbi_deficit_v=0.4,
        reference="PbS QD films: mobilities 1e-3-1e-1 cm^2/V s and diffusion lengths ~0.1-0.2 um (Carey et al., "
                  "Chem. Rev. 115, 12732 (2015), doi:10.1021/acs.chemrev.5b00063; Zhitomirsky et al., Nat. Commun. "
                  "5, 3803 (2014), doi:10.1038/ncomms4803), 1.5x longer in bulk-homojunction films (Choi et al., Nat. "
                  "Commun. 11, 103 (2020), doi:10.1038/s41467-019-13437-2). Typical 0.05 cm^2/V s and 1 us chosen "
                  "(diffusion length 0.36 um), so that ZnO / PbS / PbS-EDT n-i-p cells peak near 400 nm as "
                  "measured; V_bi = Eg - 0.4 V (0.9 V at 1.3 eV, ~0.25 V above Voc); passivated QD interfaces "
                  "~100 cm/s.",
    ),
    "Si_HJT": Transport(
        1300.0, 450.0, 5.0e6, 5.0e6, 0.7, "wafer", 1.0, 1.0, 165000.0,
        reference="n-type Czochralski wafer of a Si heterojunction cell (Yoshikawa et al., Nat. Energy 2, 17032 "
                  "(2017), doi:10.1038/nenergy.2017.32, 165 um): Klaassen mobilities at ~1e15 cm^-3 (Klaassen, "
                  "Solid-State Electron. 35, 953 (1992), doi:10.1016/0038-1101(92)90325-7), bulk lifetime of "
                  "a few ms (typical 5 ms chosen), a-Si:H passivation S ~1 cm/s.",
    ),
    "Si_TOPCon": Transport(
        1300.0, 450.0, 3.0e6, 3.0e6, 0.7, "wafer", 3.0, 3.0, 200000.0,
        reference="n-type wafer of a TOPCon cell (Richter et al., Nat. Energy 6, 429 (2021), "
                  "doi:10.1038/s41560-021-00805-w, ~200 um): Klaassen mobilities (doi:10.1016/0038-1101(92)90325-7), "
                  "bulk lifetime of a few ms (typical 3 ms chosen), passivated S ~3 cm/s.",
    ),
    "Si_intrinsic": Transport(
        1450.0, 500.0, 3.0e7, 3.0e7, 0.7, "wafer", 0.0, 0.0, 110000.0,
        reference="Undoped wafer in the intrinsic limit (Richter et al., IEEE J. Photovolt. 3, 1184 (2013), "
                  "doi:10.1109/JPHOTOV.2013.2270351, 110 um): lattice mobilities (Klaassen 1992), Auger-limited "
                  "lifetime of tens of ms at the maximum power point (Richter et al., Phys. Rev. B 86, 165202 "
                  "(2012), doi:10.1103/PhysRevB.86.165202; 30 ms chosen), no surface recombination.",
    ),
}


def get_transport(preset: str) -> Transport | None:
    """Transport parameters of a preset, or None (then collection is ideal)."""
    return TRANSPORT.get(preset)
