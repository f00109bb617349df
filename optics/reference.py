"""The ``tmm`` package (S. J. Byrnes) as a reference engine.

Runs the same arrays as ``optics.solver.solve_arrays`` through ``tmm.coh_tmm``
(all layers coherent) or ``tmm.inc_tmm`` one wavelength and one stack at a
time, and returns the same ``OpticsResult``. Slow by design: it is the
independent implementation that ``engine="tmm"`` and the tests compare with.
"""
from __future__ import annotations

import numpy as np


def _tmm_lists(n_row, d_row, coherent):
    n_list = list(n_row)
    d_list = [np.inf] + [float(x) for x in d_row] + [np.inf]
    c_list = ["i"] + ["c" if c else "i" for c in coherent] + ["i"]
    return n_list, d_list, c_list


def tmm_point(pol: str, n_list, d_list, c_list, theta_rad: float, lam_nm: float):
    """R, T and per-layer absorption from ``tmm`` for one wavelength and one stack.

    Parameters
    ----------
    pol : {"s", "p"}
        Polarisation.
    n_list : sequence of complex, length N
        Indices n + ik (k >= 0), incident medium first, exit medium last.
    d_list : sequence of float, length N
        Thicknesses, nm; ``inf`` for the two semi-infinite media.
    c_list : sequence of {"c", "i"}, length N
        Coherent / incoherent flag per medium (the ends "i").
    theta_rad : float
        Angle of incidence in the incident medium, radians, [0, pi/2).
    lam_nm : float
        Vacuum wavelength, nm.

    Returns
    -------
    R, T : float
        Reflected and transmitted power fractions.
    A : ndarray, shape [N-2]
        Absorbed fraction in each finite layer.

    References
    ----------
    S. J. Byrnes, ``tmm`` (PyPI), ``coh_tmm``/``inc_tmm``; arXiv:1603.02720.
    """
    import tmm

    if all(c == "c" for c in c_list[1:-1]):
        data = tmm.coh_tmm(pol, n_list, d_list, theta_rad, lam_nm)
        absorp = tmm.absorp_in_each_layer(data)
    else:
        data = tmm.inc_tmm(pol, n_list, d_list, c_list, theta_rad, lam_nm)
        absorp = tmm.inc_absorp_in_each_layer(data)
    return float(data["R"]), float(data["T"]), np.asarray(absorp[1:-1], dtype=float)


def tmm_solve_arrays(n, d, coherent, wl, n0, nf, angle_deg, polarization, labels):
    """``tmm`` loop over stacks and wavelengths, the reference for ``solve_arrays``.

    Parameters
    ----------
    n : complex ndarray, shape [B, L, W]
        Layer indices n + ik, k >= 0.
    d : ndarray, shape [B, L]
        Layer thicknesses, nm (checked by the caller).
    coherent : sequence of bool, length L
        Coherent flag per layer.
    wl : ndarray, shape [W]
        Vacuum wavelengths, nm.
    n0, nf : complex ndarray, shape [B, W]
        Indices of the incident and exit media.
    angle_deg : float
        Angle of incidence, degrees, [0, 90).
    polarization : {"s", "p", "unpolarized"}
        "unpolarized" averages s and p.
    labels : sequence of str, length L
        Layer labels for the result.

    Returns
    -------
    OpticsResult
        R, T [B, W] and A [B, L, W] (always batched), ``engine="tmm"``.
    """
    from .solver import OpticsResult, check_angle, check_incident_medium

    angle = check_angle(angle_deg)
    check_incident_medium(n0, angle)
    theta = np.deg2rad(angle)
    pols = ("s", "p") if polarization == "unpolarized" else (polarization,)
    n_batch, n_lay, n_wl = n.shape
    R = np.zeros((n_batch, n_wl))
    T = np.zeros((n_batch, n_wl))
    A = np.zeros((n_batch, n_lay, n_wl))
    for b in range(n_batch):
        for w in range(n_wl):
            n_list = [n0[b, w]] + list(n[b, :, w]) + [nf[b, w]]
            _, d_list, c_list = _tmm_lists(n[b, :, w], d[b], coherent)
            for pol in pols:
                r, t, a = tmm_point(pol, n_list, d_list, c_list, theta, wl[w])
                R[b, w] += r / len(pols)
                T[b, w] += t / len(pols)
                A[b, :, w] += a / len(pols)
    return OpticsResult(wl, R, T, A, tuple(labels), angle, polarization, "tmm")
