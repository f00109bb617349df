"""AVT, LUE, chromaticity and CRI of transmitted light."""
import numpy as np
import pytest

from optics import Layer, Stack, solve
from tandem import transparency as tr

WL = np.arange(300.0, 1200.0 + 1e-9, 5.0)


def test_unit_transmission_is_100_percent():
    for weighting in ("photon", "power"):
        assert abs(float(tr.avt(np.ones(WL.size), WL, weighting)) - 100.0) < 1e-9


def test_grey_filter_and_batch():
    t = np.stack([np.full(WL.size, 0.3), np.full(WL.size, 0.7)])
    np.testing.assert_allclose(tr.avt(t, WL), [30.0, 70.0], atol=1e-9)


def test_invisible_light_does_not_count():
    t = np.where((WL < 370) | (WL > 790), 1.0, 0.0)
    assert float(tr.avt(t, WL)) < 1e-9


def test_photon_vs_power_weighting_differ_for_coloured_filter():
    red = np.clip((WL - 500) / 200, 0, 1)
    a_photon, a_power = float(tr.avt(red, WL, "photon")), float(tr.avt(red, WL, "power"))
    assert a_photon > a_power  # photon weighting favours long wavelengths (more photons per watt)
    assert 0 < a_photon - a_power < 5


def test_glass_slide_avt():
    # 1 mm clear soda-lime slide (n ~1.52, k ~1e-7) in air, incoherent
    slide = Stack([Layer(1.52 + 1e-7j, 1e6, coherent=False, name="glass")])
    res = solve(slide, WL)
    avt = float(tr.avt(res.T, WL))
    assert 90.0 <= avt <= 92.0


def test_lue():
    assert float(tr.lue(10.0, 50.0)) == pytest.approx(5.0)


@pytest.mark.filterwarnings("ignore::Warning")
def test_chromaticity_matches_colour_science():
    import colour

    t = np.full(WL.size, 0.8)
    xy = tr.chromaticity(t, WL, illuminant="D65")
    assert np.allclose(xy, [0.3127, 0.3290], atol=2e-3)  # D65 white point
    # a coloured filter against colour-science's own integration
    tt = np.exp(-((WL - 600) / 50) ** 2)
    d65 = colour.SDS_ILLUMINANTS["D65"]
    grid = np.arange(380, 781, 1.0)
    sd = colour.SpectralDistribution(dict(zip(grid, np.interp(grid, WL, tt) * np.interp(grid, d65.wavelengths, d65.values))))
    xyz = colour.sd_to_XYZ(sd, cmfs=colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"])
    ref = colour.XYZ_to_xy(xyz)
    assert np.allclose(tr.chromaticity(tt, WL, "D65"), ref, atol=3e-3)


def test_cri():
    flat, green = np.ones(WL.size), np.exp(-((WL - 550) / 40) ** 2)
    cri = tr.colour_rendering_index(np.stack([flat, green]), WL)
    assert cri[0] > 95  # AM1.5G itself renders colours well
    assert cri[1] < cri[0] - 20
    assert np.isnan(tr.colour_rendering_index(np.zeros(WL.size), WL))


def test_grid_must_cover_visible():
    wl = np.arange(400.0, 1200.0, 5.0)
    with pytest.raises(ValueError, match="380"):
        tr.avt(np.ones(wl.size), wl)
    with pytest.raises(ValueError, match="weighting"):
        tr.avt(np.ones(WL.size), WL, "lumens")
