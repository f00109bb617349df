"""Fit oscillator models (:class:`nkdata.models.OscillatorModel`) to measured n,k.

Used offline to derive the parameters shipped in :mod:`nkdata.library` from the reference films
in ``../shared/reference-nk`` (LGPL data: only fitted parameters are shipped, never the data)
and from CC0 refractiveindex.info pages. Run ``python -m nkdata.fitting`` from the repo root to
re-fit and print parameters and RMS errors.

RMS definition used everywhere in nkdata: ``sqrt(mean((n_m - n_r)^2 + (k_m - k_r)^2))`` over
the reference wavelengths (the mean distance in the complex index plane).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from .models import OscillatorModel, nm_to_ev

__all__ = ["reference_dir", "read_reference", "rms_nk", "fit_oscillators", "FIT_SPECS", "main"]


def reference_dir() -> Path | None:
    """The directory of measured reference films, ``<repo>/../shared/reference-nk``.

    Returns
    -------
    pathlib.Path or None
        None when it is absent (the reference films are not part of the project).
    """
    repo = Path(__file__).resolve().parents[1]
    d = repo.parent / "shared" / "reference-nk"
    return d if d.is_dir() else None


def read_reference(filename) -> tuple[np.ndarray, np.ndarray]:
    """Read a reference film (one header line 'lambda n k', then wavelength in m, n, k).

    Parameters
    ----------
    filename : str
        File name inside ``reference_dir()``.

    Returns
    -------
    wavelengths_nm : ndarray, shape [N]
        Converted from metres to nm.
    nk : complex ndarray, shape [N]

    Raises
    ------
    FileNotFoundError
        When ``../shared/reference-nk`` is absent.
    """
    d = reference_dir()
    if d is None:
        raise FileNotFoundError("../shared/reference-nk not found")
    a = np.loadtxt(d / filename, skiprows=1)
    return a[:, 0] * 1e9, a[:, 1] + 1j * a[:, 2]


def rms_nk(nk_model, nk_ref, n_only=False) -> float:
    """RMS distance between two complex-index spectra (definition in the module docstring).

    Parameters
    ----------
    nk_model, nk_ref : complex array_like, same shape
        Model and reference n + ik on the same wavelengths.
    n_only : bool, default False
        Compare n alone.

    Returns
    -------
    float
        Dimensionless.
    """
    d = np.asarray(nk_model) - np.asarray(nk_ref)
    if n_only:
        return float(np.sqrt(np.mean(d.real**2)))
    return float(np.sqrt(np.mean(np.abs(d) ** 2)))


def _unpack(x, shape):
    n_tl, n_g, n_l, drude = shape
    i = 0
    eps_inf = x[i]; i += 1
    tl = []
    for _ in range(n_tl):
        tl.append(tuple(x[i:i + 4])); i += 4
    g = []
    for _ in range(n_g):
        g.append(tuple(x[i:i + 3])); i += 3
    lo = []
    for _ in range(n_l):
        lo.append(tuple(x[i:i + 3])); i += 3
    dr = tuple(x[i:i + 2]) if drude else None
    return OscillatorModel(float(eps_inf), tuple(tl), tuple(g), tuple(lo), dr)


def _pack(model: OscillatorModel):
    x = [model.eps_inf]
    for p in model.tauc_lorentz + model.gaussians + model.lorentz:
        x.extend(p)
    if model.drude is not None:
        x.extend(model.drude)
    shape = (len(model.tauc_lorentz), len(model.gaussians), len(model.lorentz), model.drude is not None)
    return np.array(x, float), shape


def fit_oscillators(wl_nm, nk_ref, start: OscillatorModel, n_only=False, k_weight=1.0,
                    bounds=None) -> OscillatorModel:
    """Least-squares fit of an OscillatorModel to n,k (or n only) starting from ``start``.

    Every parameter is kept positive by the bounds (eps_inf >= 1); a parameter set the
    model refuses (Tauc-Lorentz with C >= 2 E0) or that gives non-finite n,k costs a
    residual of 1e3 per point instead.

    Parameters
    ----------
    wl_nm : ndarray, shape [N]
        Vacuum wavelengths of the data, nm.
    nk_ref : complex ndarray, shape [N]
        Measured n + ik.
    start : OscillatorModel
        Starting point; its numbers of oscillators are kept.
    n_only : bool, default False
        Fit n alone (for data whose k is not trusted).
    k_weight : float, default 1.0
        Weight of the k residuals against the n residuals.
    bounds : sequence of (lo, hi) or None, optional
        Per packed parameter, in the order eps_inf, the Tauc-Lorentz (A, E0, C, Eg), the
        Gaussian (A, En, Br), the Lorentz (f, E0, gamma), then Drude (Ep, gamma); None
        keeps the default (1e-6, inf).

    Returns
    -------
    OscillatorModel
    """
    x0, shape = _pack(start)
    lb = np.full_like(x0, 1e-6)
    ub = np.full_like(x0, np.inf)
    lb[0] = 1.0  # eps_inf
    if bounds is not None:
        for i, b in enumerate(bounds):
            if b is not None:
                lb[i], ub[i] = b
    x0 = np.clip(x0, lb + 1e-9, np.where(np.isfinite(ub), ub - 1e-9, np.inf))
    E = nm_to_ev(wl_nm)

    def resid(x):
        try:
            m = _unpack(x, shape)
            nk = m.nk(wl_nm)
        except ValueError:
            return np.full(2 * len(wl_nm), 1e3)
        r = [nk.real - nk_ref.real]
        if not n_only:
            r.append(k_weight * (nk.imag - nk_ref.imag))
        out = np.concatenate(r)
        return np.where(np.isfinite(out), out, 1e3)

    res = least_squares(resid, x0, bounds=(lb, ub), x_scale="jac", max_nfev=4000)
    return _unpack(res.x, shape)


@dataclass(frozen=True)
class FitSpec:
    """One fit of ``FIT_SPECS``: what is fitted, to what, from where.

    Attributes
    ----------
    name : str
        Catalogue name of the fitted material.
    reference : str
        Reference film in ``reference_dir()`` the RMS is computed against.
    start : OscillatorModel
        Starting point (energies in eV).
    n_only : bool
        Fit and compare n alone.
    note : str
        Why the fit is done this way.
    bounds : tuple or None
        As ``fit_oscillators``.
    page : (shelf, book, page) or None
        Fit to this refractiveindex.info page instead of the reference film.
    """

    name: str
    reference: str  # reference-nk file
    start: OscillatorModel
    n_only: bool = False
    note: str = ""
    bounds: tuple | None = None  # (lo, hi) or None per packed parameter
    page: tuple | None = None  # fit to this refractiveindex.info page instead of the reference file


FIT_SPECS = (
    FitSpec("PTAA", "nk_PTAA.txt", OscillatorModel(2.4, ((40.0, 3.4, 1.0, 2.9),), ((0.5, 3.3, 0.4),))),
    FitSpec("C60", "nk_C60_1.txt", OscillatorModel(2.8, ((30.0, 3.6, 1.5, 1.7),),
                                                     ((0.8, 2.7, 0.6), (2.0, 3.6, 0.5), (2.5, 4.6, 0.8)))),
    FitSpec("PCBM", "nk_PCBM.txt", OscillatorModel(2.6, ((30.0, 3.8, 1.5, 1.7),),
                                                     ((0.5, 2.8, 0.7), (1.5, 3.7, 0.6), (2.0, 4.6, 0.8)))),
    FitSpec("BCP", "nk_BCP.txt", OscillatorModel(2.4, ((40.0, 4.5, 1.5, 3.5),)), n_only=True,
            note="n only: the reference k (about 1.25 at 800 nm) is unphysical for the wide-gap BCP film"),
    FitSpec("P3HT", "nk_P3HT.txt", OscillatorModel(1.5, ((5.0, 2.6, 1.0, 1.9),),
                                                     ((1.0, 2.05, 0.1), (1.5, 2.22, 0.15), (1.2, 2.4, 0.2),
                                                      (1.0, 2.6, 0.3), (0.5, 3.0, 0.4))),
            bounds=(None, None, None, None, (1.6, 2.0))),
    FitSpec("PEDOT:PSS", "nk_PEDOT.txt", OscillatorModel(2.2, ((20.0, 6.0, 2.0, 4.0),), (), (), (1.0, 0.3)),
            page=("other", "PEDOT-PSS", "Chen"), bounds=(None, None, None, (0.3, 5.0), (3.0, 6.0)),
            note="fitted to the CC0 refractiveindex.info page (Chen et al. 2015); RMS against the reference film"),
    FitSpec("a-Si:H", "nk_aSi.txt", OscillatorModel(1.0, ((200.0, 3.6, 2.2, 1.7),)),
            bounds=((0.5, 5.0), None, None, None, (1.2, 1.9))),
    FitSpec("FACsPbIBr_bulk", "nk_FACsPbIBr.txt", OscillatorModel(2.5, ((30.0, 2.5, 1.0, 1.62), (20.0, 3.5, 1.0, 2.5)),
                                                                    ((0.3, 1.68, 0.08),)),
            bounds=(None, None, (1.6, 3.2), (0.05, 3.0), (1.50, 1.72), None, (2.5, 4.6), (0.05, 3.0), (1.6, 3.4),
                    None, (1.55, 1.85), (0.02, 0.3))),
    FitSpec("ZnO", "nk_ZnONP.txt", OscillatorModel(2.0, ((30.0, 4.0, 1.0, 3.2),), ((0.5, 3.35, 0.15),)),
            page=("main", "ZnO", "Stelling"),
            bounds=(None, None, (3.3, 8.0), (0.1, 3.0), (3.0, 3.4), None, (3.2, 3.6), (0.03, 0.5)),
            note="fitted to the CC0 page (Stelling et al. 2017, 302-1685 nm); RMS against the ZnO NP film"),
    FitSpec("MoOx", "nk_MoOx35nm.txt", OscillatorModel(2.0, ((40.0, 4.5, 1.5, 3.0),), (), ((0.05, 1.0, 1.0),))),
)


def fit_data(spec: FitSpec):
    """The data a spec is fitted to: its refractiveindex.info page on 300-1200 nm (within the
    page's range) when it names one, else its reference film.

    Parameters
    ----------
    spec : FitSpec

    Returns
    -------
    wavelengths_nm : ndarray, shape [N]
    nk : complex ndarray, shape [N]
    """
    if spec.page is not None:
        from .refractiveindex_db import load_page
        mat = load_page(*spec.page)
        wl = np.linspace(max(mat.wl_min_nm, 300.0), min(mat.wl_max_nm, 1200.0), 300)
        return wl, mat.nk(wl)
    return read_reference(spec.reference)


def run_fit(spec: FitSpec):
    """Fit one spec.

    Parameters
    ----------
    spec : FitSpec

    Returns
    -------
    model : OscillatorModel
    rms : float
        RMS against the spec's reference film (``rms_nk``; n only if ``spec.n_only``).
    range_nm : (float, float)
        Wavelength span of the reference film, nm.
    """
    wl, data = fit_data(spec)
    m = fit_oscillators(wl, data, spec.start, n_only=spec.n_only, bounds=spec.bounds)
    wr, ref = read_reference(spec.reference)
    return m, rms_nk(m.nk(wr), ref, n_only=spec.n_only), (wr.min(), wr.max())


def main():  # pragma: no cover - offline tool
    """Re-fit every spec of ``FIT_SPECS`` and print its parameters and RMS (needs ../shared)."""
    np.set_printoptions(precision=5, suppress=True)
    for spec in FIT_SPECS:
        m, rms, (lo, hi) = run_fit(spec)
        print(f"{spec.name}: rms={rms:.4f} vs {spec.reference}  range {lo:.0f}-{hi:.0f} nm")
        print("   ", {k: (tuple(tuple(round(float(v), 5) for v in p) for p in val) if isinstance(val, tuple)
                      and val and isinstance(val[0], tuple) else val) for k, val in m.as_params().items()})


if __name__ == "__main__":  # pragma: no cover
    main()
