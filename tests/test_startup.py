"""Start-up: what a CLI run imports and reads before its first trial."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pvlib

import optics.spectra as spectra

REPO = Path(__file__).resolve().parents[1]


def test_g173_cache_equals_pvlib_table(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ref = pvlib.spectrum.get_reference_spectra(standard="ASTM G173-03")
    first = spectra._g173_columns()            # reads through pvlib, writes the cache
    assert spectra._g173_cache_file().is_file()
    second = spectra._g173_columns()           # reads the cache
    for col in ("global", "direct", "extraterrestrial"):
        np.testing.assert_array_equal(first[col], ref[col].to_numpy(float))
        np.testing.assert_array_equal(second[col], ref[col].to_numpy(float))
    np.testing.assert_array_equal(second["wavelength"], ref.index.to_numpy(float))


def test_corrupt_g173_cache_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = spectra._g173_cache_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz file")
    cols = spectra._g173_columns()
    assert cols["global"].shape == (2002,)
    assert np.load(path)["global"].shape == (2002,)   # rewritten whole


def test_cut_g173_cache_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spectra._g173_columns()
    path = spectra._g173_cache_file()
    path.write_bytes(path.read_bytes()[:300])   # a zip header and then nothing: a cut write
    assert spectra._g173_columns()["global"].shape == (2002,)
    assert np.load(path)["global"].shape == (2002,)


def test_builtin_command_does_not_import_extensions():
    code = ("import sys, studies.cli as c; c.build_parser(['optimize', 'x.toml']); "
            "print('studies.report' in sys.modules, 'studies.yield_cli' in sys.modules); "
            "c.build_parser(['report', 'x.toml']); print('studies.report' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO)}, check=True).stdout
    assert out.split() == ["False", "False", "True"]


def test_written_out_constants_equal_scipy_constants():
    from scipy import constants as si

    import nkdata.models as models

    assert (spectra.Q_E, spectra.H_PLANCK, spectra.C_LIGHT, spectra.K_B) == (si.e, si.h, si.c, si.k)
    assert spectra.HC_EV_NM == si.h * si.c / si.e * 1e9
    assert models.HC_EV_NM == si.h * si.c / si.e * 1e9


def test_tabulated_nk_lazy_pchip_matches_scipy_and_checks_at_construction():
    import pytest
    from scipy.interpolate import PchipInterpolator

    from nkdata.material import TabulatedNK

    wl, n, k = np.array([400.0, 500.0, 650.0, 800.0]), np.array([2.1, 2.0, 1.9, 1.85]), np.array([0.3, 0.1, 0.0, 0.0])
    tab = TabulatedNK(wl, n, k)
    x = np.linspace(350.0, 900.0, 57)
    xc = np.clip(x, 400.0, 800.0)
    want = PchipInterpolator(wl, n)(xc) + 1j * np.maximum(PchipInterpolator(wl, k)(xc), 0.0)
    np.testing.assert_array_equal(tab(x), want)
    with pytest.raises(ValueError, match="ascending"):
        TabulatedNK(wl[::-1], n, k)
    with pytest.raises(ValueError, match="k must be finite"):
        TabulatedNK(wl, n, k[:3])


def test_loading_the_quick_study_imports_no_scipy_or_pandas():
    # what `qdtandem optimize quick.toml` does before its first trial: the catalogue materials are
    # checked by name and range; their n,k (PCHIP, band-edge models: scipy) is built at first use
    code = ("import sys, studies.cli, studies.runner, studies.spec as s; s.load('quick.toml'); "
            "print(sorted(m for m in ('scipy', 'scipy.interpolate', 'pandas', 'numpy.f2py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO / "studies" / "examples",
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO)}, check=True).stdout
    assert out.strip() == "[]"


def test_shifted_material_built_at_first_use_gives_the_same_nk():
    import nkdata
    import nkdata.library as lib

    m = nkdata.get("CsPbIBr_QD", bandgap_ev=1.93)
    wl = np.linspace(300.0, 2000.0, 171)
    got = m.nk(wl)
    want = lib._aftenieva_shift()[0].nk_func(1.93)(wl)
    np.testing.assert_array_equal(got, want)
    assert abs(m.bandgap_ev - 1.93) < 1e-9 and (m.wl_min_nm, m.wl_max_nm) == (300.0, 2000.0)
