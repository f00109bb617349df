"""Electrical presets: typical parameters of each device class, each with its source.

A preset gives the external radiative efficiency (ERE), series and shunt resistance,
ideality and, for Si wafer cells, a fixed non-radiative saturation current; ``tandem.Subcell``
names one and may override any value. The values are chosen from the cited devices
(``Preset.reference``), and a preset's ``bandgap_range_ev`` is checked against the
absorber's band gap when the material reports one.

Units: resistances in Ohm cm^2, currents in mA/cm^2, band gaps in eV.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optics.spectra import K_B, Q_E

__all__ = ["Preset", "PRESETS", "RECOMBINATION_MODELS", "get_preset"]

#: "diode": single diode with the ERE (or a fixed J0,nr); "si_intrinsic": radiative + Auger
#: recombination of a Si wafer (``tandem.silicon``).
RECOMBINATION_MODELS = ("diode", "si_intrinsic")


@dataclass(frozen=True)
class Preset:
    """Typical electrical parameters of a device class.

    ``ere`` is the external radiative efficiency; the non-radiative Voc loss is
    -kT/q ln(ERE) (0.24 V for ERE = 1e-4 at 298 K). When ``j0_nonrad_ma_cm2`` is
    given (the Si presets), the non-radiative saturation current is fixed instead
    and the diode J0 = J0,rad + J0,nr: for a wafer cell the non-radiative
    (surface/Auger/SRH) recombination does not change with the optics, so light
    trapping that raises J0,rad must not also raise J0,nr (it would with a fixed
    ERE). The effective ERE is then J0,rad / (J0,rad + J0,nr). ``recombination`` is
    "diode" (ERE single-diode model) or "si_intrinsic" (radiative + Auger of
    Richter 2012 on the absorber thickness, with band-gap narrowing and free-carrier
    absorption, ``tandem.silicon``; ``ere`` is then unused).
    ``bandgap_range_ev`` is the range of absorber band gaps for which the
    preset is meaningful (checked when the absorber material reports
    ``bandgap_ev``).
    """

    name: str
    ere: float
    rs_ohm_cm2: float
    rsh_ohm_cm2: float
    ideality: float
    bandgap_range_ev: tuple[float, float] | None
    recombination: str = "diode"
    reference: str = ""
    j0_nonrad_ma_cm2: float | None = None

    def __post_init__(self):
        if self.recombination not in RECOMBINATION_MODELS:
            raise ValueError(f"preset {self.name!r}: recombination must be one of {RECOMBINATION_MODELS}, "
                             f"got {self.recombination!r}")

    @property
    def voc_nonrad_loss_v(self) -> float:
        """Non-radiative Voc loss -kT/q ln(ERE) at 298.15 K, V."""
        return self.nonrad_voc_loss(298.15)

    def nonrad_voc_loss(self, temperature_k: float = 298.15) -> float:
        """Non-radiative Voc loss -kT/q ln(ERE) at ``temperature_k`` (K, > 0), V.

        Reference: Green, Prog. Photovolt. 20, 472 (2012); Rau, Phys. Rev. B 76, 085303 (2007).
        """
        if not (np.isfinite(temperature_k) and temperature_k > 0):
            raise ValueError(f"temperature_k must be > 0 K, got {temperature_k}")
        return float(-K_B * temperature_k / Q_E * np.log(self.ere))


PRESETS: dict[str, Preset] = {
    "ideal": Preset(
        "ideal", 1.0, 0.0, np.inf, 1.0, None,
        reference="Detailed-balance limit: ERE = 1, no resistive losses (Shockley & Queisser, "
                  "J. Appl. Phys. 32, 510 (1961); Rau, PRB 76, 085303 (2007)).",
    ),
    "CsPbI3_QD": Preset(
        "CsPbI3_QD", 2.0e-4, 3.5, 2000.0, 1.4, (1.60, 2.10),
        reference="CsPbI3 QD cells: Swarnkar et al., Science 354, 92 (2016) (10.8 %, Voc 1.23 V); "
                  "Sanehira et al., Sci. Adv. 3, eaao4204 (2017) (13.4 %, Voc ~1.2 V); seed review table "
                  "Voc 1.04-1.27 V, FF 65-80 %, PCE 10.8-16.2 %. ERE chosen for a ~0.22 V non-radiative "
                  "Voc loss (Voc ~1.2 V at a 1.75-1.8 eV QD gap); Rs, Rsh, n give FF ~75-78 %.",
    ),
    "FAPbI3_QD": Preset(
        "FAPbI3_QD", 2.0e-4, 3.5, 1500.0, 1.4, (1.50, 2.00),
        reference="FAPbI3 QD cells (Hao et al., Nat. Energy 5, 79 (2020), and the seed review): "
                  "Voc ~1.0-1.1 V at ~1.55-1.65 eV, FF ~70-75 %; ERE for a ~0.22 V non-radiative loss.",
    ),
    "CsFA_QD": Preset(
        "CsFA_QD", 5.0e-4, 3.0, 2000.0, 1.4, (1.50, 2.00),
        reference="Cs(1-x)FA(x)PbI3 QD cells: Hao et al., Nat. Energy 5, 79 (2020) (16.6 %, Voc ~1.17 V, "
                  "FF ~78 %); ERE for a ~0.20 V non-radiative loss.",
    ),
    "Si_HJT": Preset(
        "Si_HJT", 1.0e-2, 0.3, 1.0e4, 1.0, None, j0_nonrad_ma_cm2=1.4e-11,
        reference="Si heterojunction: Yoshikawa et al., Nat. Energy 2, 17032 (2017) (26.7 %, Voc 738 mV, "
                  "Jsc 42.65 mA/cm^2, FF 84.9 %): J0 = Jsc exp(-qVoc/kT) = 14 fA/cm^2 at 25 C; nominal ERE "
                  "~1 % (Green, Prog. Photovolt. 20, 472 (2012)), used only when the ERE is overridden.",
    ),
    "Si_TOPCon": Preset(
        "Si_TOPCon", 6.0e-3, 0.4, 1.0e4, 1.0, None, j0_nonrad_ma_cm2=1.8e-11,
        reference="Si TOPCon: Richter et al., Nat. Energy 6, 429 (2021) (26.0 %, Voc ~732 mV, Jsc ~42 mA/cm^2, "
                  "FF ~84 %): J0 = Jsc exp(-qVoc/kT) = 18 fA/cm^2 at 25 C; nominal ERE ~0.6 % (Green 2012), "
                  "used only when the ERE is overridden.",
    ),
    "Si_intrinsic": Preset(
        "Si_intrinsic", 1.0, 0.0, np.inf, 1.0, None, recombination="si_intrinsic",
        reference="Intrinsic limit of a Si wafer: radiative (reciprocity) + Auger, Richter et al., "
                  "Phys. Rev. B 86, 165202 (2012) eq. (18), with Schenk band-gap narrowing (J. Appl. Phys. 84, "
                  "3684 (1998)) and, under light trapping, free-carrier absorption of the MPP carriers (Green "
                  "1995, after Schroder et al., IEEE TED 25, 254 (1978)); Richter et al., IEEE J. Photovolt. 3, "
                  "1184 (2013).",
    ),
    "SnPb_perovskite": Preset(
        "SnPb_perovskite", 2.0e-2, 1.5, 3000.0, 1.2, (1.15, 1.40),
        reference="Sn-Pb narrow-gap perovskite (~1.25 eV): Lin et al., Nature 603, 73 (2022) "
                  "(Voc ~0.86-0.89 V, FF ~79-82 %, best cells); ERE for a ~0.10 V non-radiative loss, "
                  "which with a soft absorption edge gives Voc ~0.82 V, FF ~78 % (typical cells).",
    ),
    "PbS_QD": Preset(
        "PbS_QD", 1.0e-6, 3.0, 1000.0, 1.5, (0.70, 1.60),
        reference="PbS QD cells: Liu et al., Nat. Mater. 16, 258 (2017) (11.3 %); Choi et al., "
                  "Nat. Commun. 11, 103 (2020) (13.3 %, Voc ~0.65 V at ~1.3 eV, FF ~70 %); ERE for a "
                  "~0.35 V non-radiative loss.",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError naming the known presets otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown electrical preset {name!r}; known presets: {sorted(PRESETS)}") from None
