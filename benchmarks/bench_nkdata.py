"""Cost of evaluating a tunable absorber at a bandgap not seen before (one process).

"current": ``nkdata.get(name, bandgap_ev=new_gap).nk(wl)`` as the optimiser calls it, after the
material's first use (which measures its onset nodes once, a few 10 ms).
"previous": the algorithm nkdata used before (commit 6f8bd3d), copied here onto the same base
models: up to 4 Newton steps on the measured onset, each with the KK product over the full 2-meV
grid; PbS: Newton on the 1S peak, then the film tabulated on a 1-meV grid.
Printed for one process and for two processes running at once (the optimiser's 2 workers on 2
cores; the previous full-grid products suffer most from the shared cores).

Also prints the largest deviation between the two at the same gaps (different root finders, so
the shift differs by up to ~0.2 meV; not an interpolation error) and the onset error of the
current path. Run:  python benchmarks/bench_nkdata.py
"""
from __future__ import annotations

import platform
import time

import numpy as np

import nkdata
from nkdata import library as L
from nkdata import tunable as T
from nkdata.models import HC_EV_NM, eps_to_nk, nm_to_ev

WL = np.linspace(300.0, 1700.0, 200)


class _PreviousEdgeShift:
    """The edge-shift evaluation of commit 6f8bd3d: transposed float32 kernel, vector-matrix product
    over the full grid, Newton on the measured onset (same base, grid and taper as ``es``)."""

    def __init__(self, es):
        self.es = es
        self.KT = np.ascontiguousarray(es.K.T)

    def shifted_eps(self, delta_ev):
        es = self.es
        E = es.E
        ec = es.native_onset_ev + max(delta_ev, 0.0) + es.TAPER_START
        t = np.clip((E - ec) / es.TAPER_WIDTH, 0.0, 1.0)
        s = delta_ev * 0.5 * (1.0 + np.cos(np.pi * t))
        e2 = np.interp(E - s, E, es.e2_b, left=0.0, right=es.e2_b[-1])
        d2 = e2 - es.e2_b
        nz = np.nonzero(np.abs(d2) > 1e-9 * es.e2_b.max())[0]
        e1 = es.eps_b.real.copy()
        if nz.size:
            lo, hi = max(nz[0] - 1, 0), min(nz[-1] + 2, E.size)
            e1 = e1 + (d2[lo:hi].astype(np.float32) @ self.KT[lo:hi]).astype(float)
        return e1 + 1j * e2

    def __call__(self, gap):
        es = self.es
        delta = gap - es.native_onset_ev
        for _ in range(4):
            f = es._nk_from_eps(self.shifted_eps(delta))
            err = gap - T.onset_of(f, gap)
            if abs(err) < 2e-4:
                return f
            delta += err
        return es._nk_from_eps(self.shifted_eps(delta))


_PBS_GRID = np.arange(HC_EV_NM / 2600.0, HC_EV_NM / 290.0, 0.001)


def _previous_pbs(gap):
    peak = gap + 0.08
    for _ in range(4):
        err = gap - T.onset_of(lambda wl, p=peak: eps_to_nk(T.pbs_qd_eps(nm_to_ev(wl), p)), gap)
        peak += err
        if abs(err) < 2e-4:
            break
    nk = eps_to_nk(T.pbs_qd_eps(_PBS_GRID, peak))
    return lambda wl: np.interp(nm_to_ev(wl), _PBS_GRID, nk.real) + 1j * np.interp(nm_to_ev(wl), _PBS_GRID, nk.imag)


def _previous_func(name):
    if name == "PbS_QD":
        return _previous_pbs
    es = {"CsPbI3_QD": lambda: L._aftenieva_shift()[0], "CsPbIBr_QD": lambda: L._aftenieva_shift()[0],
          "CsFAPbI3_QD": lambda: L._bulk_shift("FACsPbIBr_bulk", L.PEROVSKITE_QD_FRACTION, 1.70),
          "FAPbI3_QD": lambda: L._bulk_shift("FACsPbIBr_bulk", L.PEROVSKITE_QD_FRACTION, 1.70),
          "SnPb_perovskite": lambda: L._bulk_shift("FACsPbIBr_bulk", None, 1.70)}[name]()
    return _PreviousEdgeShift(es)


def _onset_error(m, gap):
    E = np.arange(gap - 0.3, gap + 0.2, 0.001)
    wl = HC_EV_NM / E
    return T.absorption_onset_ev(E, 4 * np.pi * m.nk(wl).imag / (wl * 1e-7), gap) - gap


def main(n_gaps=100, n_prev=10, seed=0):
    rng = np.random.default_rng(seed)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; "
          f"{WL.size} wavelengths {WL[0]:g}-{WL[-1]:g} nm")
    print(f"{'material':16s} {'first use':>10s} {'previous':>10s} {'current':>10s} {'speed-up':>9s} "
          f"{'max|dnk|':>9s} {'onset err':>10s}")
    for name, (lo, hi) in nkdata.TUNABLE.items():
        t0 = time.perf_counter()
        nkdata.get(name, bandgap_ev=0.5 * (lo + hi)).nk(WL)  # base model, kernel, onset nodes
        first = time.perf_counter() - t0
        # gaps on a 0.1-meV lattice not used before (the catalogue caches per 0.1 meV)
        gaps = np.round(rng.uniform(lo, hi - 2e-4, n_gaps), 4) + 3e-5
        t0 = time.perf_counter()
        for g in gaps:
            nkdata.get(name, bandgap_ev=g).nk(WL)
        cur = (time.perf_counter() - t0) / n_gaps
        prev_f = _previous_func(name)
        t0 = time.perf_counter()
        prev = [prev_f(g)(WL) for g in gaps[:n_prev]]
        old = (time.perf_counter() - t0) / n_prev
        dnk = max(np.max(np.abs(nkdata.get(name, bandgap_ev=g).nk(WL) - p)) for g, p in zip(gaps, prev))
        err = max(abs(_onset_error(nkdata.get(name, bandgap_ev=g), g)) for g in gaps[:10])
        print(f"{name:16s} {first * 1e3:8.1f}ms {old * 1e3:8.2f}ms {cur * 1e3:8.3f}ms {old / cur:8.0f}x "
              f"{dnk:9.1e} {err * 1e3:7.2f}meV")


def _worker(seed):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(seed=seed)
    return buf.getvalue()


if __name__ == "__main__":
    print("== one process")
    main()
    # the optimiser runs one worker per core: two processes at once share the 2 cores (and BLAS threads)
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(2) as pool:
        outs = pool.map(_worker, [1, 2])
    for i, out in enumerate(outs):
        print(f"== two processes at once, process {i + 1}")
        print(out, end="")
