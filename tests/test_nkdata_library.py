"""Catalogue: names, provenance, ranges, n > 0 and k >= 0, tunable onsets, errors."""
import numpy as np
import pandas as pd
import pytest

import nkdata
from nkdata.models import HC_EV_NM
from nkdata.tunable import absorption_onset_ev

CANONICAL = ("air glass ITO FTO IZO SnO2 TiO2 ZnO C60 PCBM BCP CsPbI3_QD FAPbI3_QD CsPbIBr_QD CsFAPbI3_QD "
             "Spiro-OMeTAD PTAA PTB7 P3HT NiOx MoOx PEDOT:PSS Ag Au Al Cu Si a-Si:H SnPb_perovskite PbS_QD "
             "MgF2 LiF").split()
CATEGORIES = {"substrate", "tco", "etl", "absorber", "htl", "electrode", "bottom_absorber", "ar", "medium"}


@pytest.fixture(scope="module")
def cat():
    return nkdata.catalog()


def test_all_canonical_names_present():
    missing = set(CANONICAL) - set(nkdata.names())
    assert not missing


def test_catalog_columns_and_provenance(cat):
    assert isinstance(cat, pd.DataFrame)
    for col in ("name", "category", "kind", "source", "doi", "licence", "wl_min_nm", "wl_max_nm", "tunable",
                "bandgap_min_ev", "bandgap_max_ev", "rms_vs_reference"):
        assert col in cat.columns
    assert list(cat["name"]) == nkdata.names()
    assert set(cat["kind"]) <= {"measured", "modelled"}
    assert set(cat["category"]) <= CATEGORIES
    for r in cat.itertuples():
        assert r.source and r.licence, r.name
        assert r.doi.startswith("10."), r.name
        assert r.wl_min_nm < r.wl_max_nm
    measured = cat[cat.kind == "measured"]
    assert all("CC0" in lic for lic in measured.licence)
    # modelled materials fitted to a reference carry its RMS
    for name in ("PTAA", "C60", "PCBM", "BCP", "P3HT", "a-Si:H", "MoOx", "PEDOT:PSS", "ZnO"):
        assert np.isfinite(cat.set_index("name").loc[name, "rms_vs_reference"])


def test_tunable_dict(cat):
    assert set(nkdata.TUNABLE) == {"CsPbI3_QD", "FAPbI3_QD", "CsPbIBr_QD", "CsFAPbI3_QD", "SnPb_perovskite",
                                   "PbS_QD"}
    top = [nkdata.TUNABLE[n] for n in ("CsPbI3_QD", "FAPbI3_QD", "CsPbIBr_QD", "CsFAPbI3_QD")]
    assert min(lo for lo, hi in top) <= 1.6 and max(hi for lo, hi in top) >= 2.0
    assert nkdata.TUNABLE["SnPb_perovskite"] == (1.17, 1.35)
    assert nkdata.TUNABLE["PbS_QD"] == (0.8, 1.5)
    assert set(cat[cat.tunable].name) == set(nkdata.TUNABLE)


def test_tandem_materials_cover_300_1200():
    wl = np.linspace(300.0, 1200.0, 91)
    for name in CANONICAL:
        gaps = [None]
        if name in nkdata.TUNABLE:
            gaps = list(nkdata.TUNABLE[name])
        for g in gaps:
            m = nkdata.get(name, bandgap_ev=g)
            assert m.wl_min_nm <= 300 and m.wl_max_nm >= 1200, name
            assert np.all(np.isfinite(m.nk(wl)))


def _materials_to_check():
    for name in nkdata.names():
        if name in nkdata.TUNABLE:
            lo, hi = nkdata.TUNABLE[name]
            for g in (lo, 0.5 * (lo + hi), hi):
                yield name, g
        else:
            yield name, None


@pytest.mark.parametrize("name,gap", list(_materials_to_check()))
def test_n_positive_k_nonnegative_over_valid_range(name, gap):
    m = nkdata.get(name, bandgap_ev=gap)
    wl = np.linspace(m.wl_min_nm, m.wl_max_nm, 1500)
    nk = m.nk(wl)
    assert nk.shape == wl.shape and np.all(np.isfinite(nk))
    assert np.all(nk.real > 0), name
    assert np.all(nk.imag >= 0), name
    assert np.array_equal(m(wl), nk)


def _onset(m, gap):
    E = np.arange(gap - 0.3, gap + 0.2, 0.001)
    wl = HC_EV_NM / E
    alpha = 4 * np.pi * m.nk(wl).imag / (wl * 1e-7)
    return absorption_onset_ev(E, alpha, gap)


@pytest.mark.parametrize("name", sorted(nkdata.TUNABLE))
def test_tunable_onset_within_20_mev(name):
    lo, hi = nkdata.TUNABLE[name]
    for gap in np.linspace(lo, hi, 4):
        m = nkdata.get(name, bandgap_ev=gap)
        assert m.bandgap_ev == pytest.approx(gap, abs=1e-4)  # cached per 0.1 meV
        assert abs(_onset(m, gap) - gap) < 0.020, (name, gap)


def test_onsets_move_with_gap():
    # absorption at a fixed wavelength just below the larger gap drops when the gap opens
    a = nkdata.get("PbS_QD", bandgap_ev=1.0).nk(1150.0).imag
    b = nkdata.get("PbS_QD", bandgap_ev=1.3).nk(1150.0).imag
    assert a > 0.03 and b == pytest.approx(0.0, abs=1e-4)
    c = nkdata.get("CsPbIBr_QD", bandgap_ev=1.80).nk(660.0).imag
    d = nkdata.get("CsPbIBr_QD", bandgap_ev=2.0).nk(660.0).imag
    assert c > 5 * d


def test_native_cspbi3_is_measured_page():
    m = nkdata.get("CsPbI3_QD")
    page = nkdata.load_page("other", "CsPbI3", "Aftenieva")
    wl = np.linspace(300, 1200, 50)
    assert np.allclose(m.nk(wl), page.nk(wl))
    assert m.provenance.kind == "measured" and 1.78 < m.bandgap_ev < 1.83
    # asking for that same gap gives nearly the same data through the shift model
    s = nkdata.get("CsPbI3_QD", bandgap_ev=round(m.bandgap_ev, 3))
    assert np.max(np.abs(s.nk(wl) - m.nk(wl))) < 0.01


def test_pbs_provenance_reports_size_and_peak():
    m = nkdata.get("PbS_QD", bandgap_ev=1.3)
    assert "diameter" in m.provenance.notes and "peak" in m.provenance.notes
    assert m.provenance.doi == "10.1021/nn900863a"


def test_out_of_range_raises_with_name_and_range():
    ag = nkdata.get("Ag")
    with pytest.raises(ValueError, match=r"'Ag'.*300.*1700"):
        ag.nk(np.array([250.0, 500.0]))
    ext = nkdata.get("Ag", extrapolate=True)
    assert np.isfinite(ext.nk(250.0)) and ext.nk(250.0).imag >= 0
    with pytest.raises(ValueError, match="PbS_QD"):
        nkdata.get("PbS_QD").nk([3000.0])


def test_unknown_name_and_bad_bandgap():
    with pytest.raises(KeyError, match="CsPbI3_QD"):
        nkdata.get("CsPbI3-QD")
    with pytest.raises(ValueError, match="not tunable"):
        nkdata.get("Ag", bandgap_ev=1.5)
    with pytest.raises(ValueError, match=r"PbS_QD.*0.8-1.5"):
        nkdata.get("PbS_QD", bandgap_ev=1.7)
    with pytest.raises(ValueError):
        nkdata.get("Si").nk([float("nan")])


def test_database_page_by_name():
    m = nkdata.get("main/Au/Johnson", category="electrode")
    assert m.provenance.doi == "10.1103/PhysRevB.6.4370" and "CC0" in m.provenance.licence
    assert m.category == "electrode"
    with pytest.raises(KeyError, match="Johnson"):
        nkdata.get("main/Au/NoSuchPage")


def test_known_values():
    # spot checks against the source tables / physics
    assert nkdata.get("Si").nk(600.0).real == pytest.approx(3.94, abs=0.03)  # Green 2008: n(600) = 3.939
    assert nkdata.get("Ag").nk(600.0).imag > 3.5  # metal
    assert nkdata.get("glass").nk(550.0).real == pytest.approx(1.52, abs=0.01)
    assert nkdata.get("LiF").nk(550.0).real == pytest.approx(1.392, abs=0.003)
    fto = nkdata.get("FTO").nk(np.array([550.0, 1600.0]))
    assert fto[1].imag > 10 * fto[0].imag  # free-carrier absorption rises into the infrared


def test_pchip_interpolation_between_table_points():
    # the Aftenieva table is on 1.15-nm steps; between points the interpolant stays inside neighbours
    m = nkdata.get("CsPbI3_QD")
    wl = np.linspace(500, 510, 200)
    k = m.nk(wl).imag
    assert np.all(np.diff(k) <= 1e-12) or np.all(np.diff(k) >= -1e-12) or np.ptp(k) < 0.02


def test_shapes_and_extrapolation_hold_end_values():
    m = nkdata.get("Au")
    wl = np.linspace(400, 800, 12).reshape(3, 4)
    assert m.nk(wl).shape == (3, 4)
    ext = nkdata.get("Au", extrapolate=True)
    assert ext.nk(100.0) == pytest.approx(ext.nk(300.0))
    assert ext.nk(5000.0) == pytest.approx(ext.nk(1700.0))


def test_tunable_cache_returns_same_object():
    a = nkdata.get("SnPb_perovskite", bandgap_ev=1.25)
    b = nkdata.get("SnPb_perovskite", bandgap_ev=1.25)
    assert a is b and a.kind == "modelled"
    assert nkdata.get("CsPbI3_QD", bandgap_ev=1.75).kind == "modelled"


def test_materials_pickle(tmp_path):
    import pickle

    for m in (nkdata.get("Ag"), nkdata.get("PbS_QD", bandgap_ev=1.2), nkdata.get("CsPbI3_QD"),
              nkdata.get("main/Au/Johnson"), nkdata.get("ITO", extrapolate=True)):
        m2 = pickle.loads(pickle.dumps(m))
        assert m2.name == m.name and m2.bandgap_ev == m.bandgap_ev and m2.extrapolate == m.extrapolate
        wl = np.linspace(max(m.wl_min_nm, 300), min(m.wl_max_nm, 1200), 7)
        assert np.allclose(m2.nk(wl), m.nk(wl))
    p = tmp_path / "u.csv"
    p.write_text("wl_nm,n,k\n400,2,0.1\n500,2.1,0\n")
    u = nkdata.load(p)
    assert np.allclose(pickle.loads(pickle.dumps(u)).nk([450.0]), u.nk([450.0]))


@pytest.mark.parametrize("name,wl,n_target", [("SnO2", 550.0, 1.95), ("FTO", 550.0, 1.95), ("IZO", 550.0, 2.0),
                                              ("NiOx", 550.0, 2.15), ("Spiro-OMeTAD", 600.0, 1.76)])
def test_literature_models_match_their_stated_index(name, wl, n_target):
    # the source text of each literature model states n at one wavelength; keep them in sync
    m = nkdata.get(name)
    assert m.nk(wl).real == pytest.approx(n_target, abs=0.005)
    assert f"{n_target:g}" in m.provenance.source


@pytest.mark.parametrize("name", sorted(nkdata.TUNABLE))
def test_tunable_onset_by_independent_tauc_line_fit(name):
    # a different construction from the one the models are calibrated with: least-squares line
    # through (alpha E)^2 between 20 % and 60 % of its value at Eg + 0.1 eV (measured: 8-15 meV low)
    lo, hi = nkdata.TUNABLE[name]
    for gap in np.linspace(lo, hi, 3):
        m = nkdata.get(name, bandgap_ev=gap)
        E = np.arange(gap - 0.3, gap + 0.1, 0.001)
        wl = HC_EV_NM / E
        y = (4 * np.pi * m.nk(wl).imag / (wl * 1e-7) * E) ** 2
        sel = (y > 0.2 * y[-1]) & (y < 0.6 * y[-1])
        slope, icpt = np.polyfit(E[sel], y[sel], 1)
        assert abs(-icpt / slope - gap) < 0.020, (name, gap)
