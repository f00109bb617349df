"""User n,k files: CSV (nm/um/eV, n,k or eps1,eps2) and refractiveindex.info YAML; bad input."""
import numpy as np
import pytest

import nkdata
from nkdata.io import NkFileError, load_csv, load_yaml


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_nm_header(tmp_path):
    p = _write(tmp_path, "film.csv", "# my ellipsometry\nwavelength_nm,n,k\n400,2.0,0.5\n500,1.9,0.2\n600,1.8,0.0\n")
    m = load_csv(p)
    assert m.name == "film" and (m.wl_min_nm, m.wl_max_nm) == (400, 600)
    assert m.nk(500.0) == pytest.approx(1.9 + 0.2j)
    assert 1.8 < m.nk(550.0).real < 1.9  # PCHIP stays between neighbours
    assert "film.csv" in m.provenance.source and m.provenance.kind == "measured"
    with pytest.raises(ValueError, match=r"'film'.*400-600"):
        m.nk(700.0)
    assert np.isfinite(load_csv(p, extrapolate=True).nk(700.0))


def test_csv_um_and_ev_units(tmp_path):
    um = _write(tmp_path, "a.txt", "0.4 2.0 0.5\n0.5 1.9 0.2\n0.6 1.8 0.0\n")
    m = load_csv(um, unit="um")
    assert m.wl_min_nm == pytest.approx(400) and m.nk(500.0) == pytest.approx(1.9 + 0.2j)
    ev = _write(tmp_path, "b.csv", "energy (eV); eps1; eps2\n1.5; 4.0; 0.0\n2.0; 4.41; 0.84\n2.5; 4.0; 2.0\n")
    m = load_csv(ev)
    nk = m.nk(1239.841984 / 2.0)
    assert nk == pytest.approx(np.sqrt(4.41 + 0.84j))
    assert m.wl_max_nm == pytest.approx(1239.841984 / 1.5)
    hdr_um = _write(tmp_path, "c.csv", "lambda (um)\tn\tk\n0.4\t2\t0.1\n0.8\t2\t0\n")
    assert load_csv(hdr_um).wl_max_nm == pytest.approx(800)


def test_dispatch_by_extension(tmp_path):
    p = _write(tmp_path, "x.csv", "wl_nm,n,k\n400,2,0\n500,2,0\n")
    assert nkdata.load(p).nk(450.0) == pytest.approx(2.0)


@pytest.mark.parametrize("body,line,match", [
    ("wavelength_nm,n,k\n400,2,0.1\n380,2,0.1\n500,2,0\n", 3, "not sorted"),
    ("wavelength_nm,n,k\n400,2,0.1\n450,2,0.1\n450,2,0\n", 4, "duplicate"),
    ("wavelength_nm,n,k\n400,2,0.1\n450,nan,0.1\n500,2,0\n", 3, "NaN"),
    ("wavelength_nm,n,k\n400,2,0.1\n450,2,-0.01\n500,2,0\n", 3, "negative"),
    ("wavelength_nm,n,k\n0.4,2,0.1\n0.45,2,0.1\n0.5,2,0\n", 2, "wrong unit"),
    ("wavelength_nm,n,k\n400,2,0.1\n450,2\n500,2,0\n", 3, "3 columns"),
    ("wavelength_nm,n,k\n400,2,0.1\n450,2,x\n500,2,0\n", 3, "cannot read"),
    ("wavelength_nm,n,k\n400,2,0.1\n450,0,0.1\n500,2,0\n", 3, "n must be > 0"),
    ("energy_eV,eps1,eps2\n1.5,4,0\n2.0,4,-1\n", 3, "negative"),
])
def test_csv_errors_name_file_and_line(tmp_path, body, line, match):
    p = _write(tmp_path, "bad.csv", body)
    with pytest.raises(NkFileError, match=match) as exc:
        load_csv(p)
    assert "bad.csv" in str(exc.value) and f"line {line}" in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_csv_um_read_as_nm_and_missing_unit(tmp_path):
    p = _write(tmp_path, "u.txt", "0.4 2.0 0.5\n0.5 1.9 0.2\n")
    with pytest.raises(NkFileError, match="unit not stated"):
        load_csv(p)
    with pytest.raises(NkFileError, match=r"u.txt, line 1.*wrong unit"):
        load_csv(p, unit="nm")
    nm_as_um = _write(tmp_path, "v.txt", "400 2.0 0.5\n500 1.9 0.2\n")
    with pytest.raises(NkFileError, match="wrong unit"):
        load_csv(nm_as_um, unit="um")


YAML_OK = """REFERENCES: "Test film. <a href=\\"https://doi.org/10.1234/abcd\\">J. Test</a>"
DATA:
  - type: tabulated nk
    data: |
        0.40 2.0 0.5
        0.50 1.9 0.2
        0.60 1.8 0.0
"""


def test_yaml_page(tmp_path):
    p = _write(tmp_path, "film.yml", YAML_OK)
    m = load_yaml(p)
    assert m.wl_min_nm == pytest.approx(400) and m.nk(500.0) == pytest.approx(1.9 + 0.2j)
    assert m.provenance.doi == "10.1234/abcd"
    assert nkdata.load(p).nk(600.0) == pytest.approx(1.8)


def test_yaml_formula_and_separate_k(tmp_path):
    text = """DATA:
  - type: formula 2
    wavelength_range: 0.3 1.5
    coefficients: 0 1.03961212 0.00600069867 0.231792344 0.0200179144 1.01046945 103.560653
  - type: tabulated k
    data: |
        0.3 1e-5
        1.5 1e-6
"""
    m = load_yaml(_write(tmp_path, "bk7.yml", text))
    assert m.nk(587.6).real == pytest.approx(1.5168, abs=2e-4)  # N-BK7 Sellmeier, n_d
    assert m.nk(587.6).imag > 0


def test_yaml_errors_name_file_and_line(tmp_path):
    bad = YAML_OK.replace("0.50 1.9 0.2", "0.50 1.9 -0.2")
    with pytest.raises(NkFileError, match=r"bad.yml, line 6: negative"):
        load_yaml(_write(tmp_path, "bad.yml", bad))
    uns = YAML_OK.replace("0.50 1.9 0.2", "0.35 1.9 0.2")
    with pytest.raises(NkFileError, match=r"uns.yml, line 6: .*not sorted"):
        load_yaml(_write(tmp_path, "uns.yml", uns))
    with pytest.raises(NkFileError, match="no DATA"):
        load_yaml(_write(tmp_path, "empty.yml", "REFERENCES: x\n"))
