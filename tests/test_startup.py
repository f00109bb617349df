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


def test_builtin_command_does_not_import_extensions():
    code = ("import sys, studies.cli as c; c.build_parser(['optimize', 'x.toml']); "
            "print('studies.report' in sys.modules, 'studies.yield_cli' in sys.modules); "
            "c.build_parser(['report', 'x.toml']); print('studies.report' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO)}, check=True).stdout
    assert out.split() == ["False", "False", "True"]
