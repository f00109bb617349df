"""evaluate_batch(..., processes=N): forked chunks give the serial results, errors and deaths surface."""
import dataclasses
import multiprocessing as mp
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import tandem
from tandem import parallel
from tandem.evaluation import evaluate_batch_spectra
from studies.spec import load

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="processes > 1 forks on Linux only")


def _designs(name, n, seed):
    spec = load(EXAMPLES / name)
    rng = np.random.default_rng(seed)
    return [spec.design({k: float(rng.uniform(b.low, b.high)) for k, b in spec.parameters.items()}) for _ in range(n)]


@pytest.fixture(scope="module")
def planar():
    """Three groups (planar 2T, semitransparent, Lambertian 4T), interleaved: each chunk mixes them."""
    groups = [_designs(f, 4, s) for f, s in (("cspbi3qd_pbs_2t.toml", 1), ("cspbi3qd_window_st.toml", 2),
                                                ("cspbi3qd_si_4t.toml", 3))]
    return [d for row in zip(*groups) for d in row]


@pytest.fixture(scope="module")
def textured():
    return _designs("cspbi3qd_si_2t_textured.toml", 9, 4)


@pytest.fixture
def forks(monkeypatch):
    """The chunks handed to run_chunks (so that a test sees the parallel path was taken)."""
    seen = []
    run = parallel.run_chunks

    def spy(work, chunks, *a, **kw):
        seen.append([list(c) for c in chunks])
        return run(work, chunks, *a, **kw)

    monkeypatch.setattr(parallel, "run_chunks", spy)
    return seen


def _clear(design, role="top"):
    """``design`` with its ``role`` absorber replaced by a transparent film (fails in the optics)."""
    i = getattr(design, role).absorber
    layers = list(design.stack.layers)
    layers[i] = dataclasses.replace(layers[i], material=lambda w: np.full(np.shape(w), 2.0 + 0j))
    return dataclasses.replace(design, stack=dataclasses.replace(design.stack, layers=tuple(layers)))


def _assert_same_spectra(a, b):
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=0, err_msg=f.name)
        elif isinstance(x, dict):
            for role in x:
                for u, v in zip(x[role], y[role], strict=True):
                    assert (u is None) == (v is None), (f.name, role)
                    if isinstance(u, np.ndarray):
                        np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-300, err_msg=f.name)
        else:
            assert len(x) == len(y)
    for u, v in zip(a.optics, b.optics, strict=True):
        np.testing.assert_allclose(v.A, u.A, rtol=1e-12, atol=1e-15)


@linux_only
def test_planar_batch_same_as_serial(planar, forks):
    one, s1 = evaluate_batch_spectra(planar, with_cri=True, processes=1)
    two, s2 = evaluate_batch_spectra(planar, with_cri=True, processes=2)
    assert forks == [[[3, 4, 5, 6, 7], [8, 9, 10, 11]]]  # designs 0 (2T), 1 (window), 2 (4T) warm up
    assert [r.kind for r in two.results] == [d.kind for d in planar]
    for a, b in zip(one.results, two.results):
        assert b.pce_pct == pytest.approx(a.pce_pct, rel=1e-12)
        assert b.top.jsc_ma_cm2 == pytest.approx(a.top.jsc_ma_cm2, rel=1e-12)
        assert (a.bottom is None) == (b.bottom is None)
        if a.bottom is not None:
            assert b.bottom.jsc_ma_cm2 == pytest.approx(a.bottom.jsc_ma_cm2, rel=1e-12)
        if np.isfinite(a.cri):
            assert b.cri == pytest.approx(a.cri, rel=1e-12)
    assert list(two.frame.index) == list(range(len(planar)))
    np.testing.assert_allclose(two.frame["pce_pct"], one.frame["pce_pct"], rtol=1e-12)
    _assert_same_spectra(s1, s2)


@linux_only
def test_textured_batch_same_as_serial(textured, forks):
    one = tandem.evaluate_batch(textured, with_cri=False)
    two = tandem.evaluate_batch(textured, with_cri=False, processes=2)
    assert forks == [[[1, 2, 3, 4], [5, 6, 7, 8]]]
    for a, b in zip(one.results, two.results, strict=True):
        assert b.pce_pct == pytest.approx(a.pce_pct, rel=1e-12)
        assert b.jsc_ma_cm2 == pytest.approx(a.jsc_ma_cm2, rel=1e-12)
        for role in ("top", "bottom"):
            assert getattr(b, role).jsc_ma_cm2 == pytest.approx(getattr(a, role).jsc_ma_cm2, rel=1e-12)


@linux_only
def test_failing_design_in_a_child_raises_as_serial(planar, forks):
    bad = list(planar)
    bad[4] = _clear(bad[4])  # in the first chunk: evaluated by a child
    with pytest.raises(ValueError, match="does not absorb") as serial:
        tandem.evaluate_batch(bad, processes=1)
    with pytest.raises(ValueError, match="does not absorb") as forked:
        tandem.evaluate_batch(bad, processes=2)
    assert forks and 4 in forks[0][0]
    assert str(forked.value) == str(serial.value)  # "design 4: ...", its index in the whole batch
    assert isinstance(forked.value.__cause__, parallel.ChildTraceback)


@linux_only
def test_failing_warm_design_names_its_batch_index(planar, forks):
    bad = list(planar) + _designs("cspbi3qd_snpb_2t.toml", 1, 5)
    bad[12] = _clear(bad[12], "bottom")  # first of its group: evaluated before the fork, with 0, 1 and 2
    with pytest.raises(ValueError, match="design 12: bottom absorber"):
        tandem.evaluate_batch(bad, processes=2)
    assert not forks  # the warm-up failed before any fork


class Boom(RuntimeError):
    pass


def _raising_in_child(parent, exc):
    def nk(w):
        if os.getpid() != parent:
            raise exc
        return np.full(np.shape(w), 2.0 + 0.1j)
    return nk


@linux_only
@pytest.mark.parametrize("exc, expected, message", [
    (Boom("custom failure"), Boom, "^custom failure$"),
    (KeyError("k"), KeyError, "'k'"),
])
def test_child_exception_type_and_message(planar, exc, expected, message):
    bad = list(planar)
    i = bad[7].top.absorber
    layers = list(bad[7].stack.layers)
    layers[i] = dataclasses.replace(layers[i], material=_raising_in_child(os.getpid(), exc))
    bad[7] = dataclasses.replace(bad[7], stack=dataclasses.replace(bad[7].stack, layers=tuple(layers)))
    with pytest.raises(expected, match=message):
        tandem.evaluate_batch(bad, processes=2)


@linux_only
def test_killed_child_raises_runtime_error(planar):
    bad = list(planar)
    i = bad[5].top.absorber
    layers = list(bad[5].stack.layers)
    parent = os.getpid()

    def nk(w):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.full(np.shape(w), 2.0 + 0.1j)

    layers[i] = dataclasses.replace(layers[i], material=nk)
    bad[5] = dataclasses.replace(bad[5], stack=dataclasses.replace(bad[5].stack, layers=tuple(layers)))
    with pytest.raises(RuntimeError, match=r"designs 3-7 was killed by signal 9 .*processes=1") as err:
        tandem.evaluate_batch(bad, processes=2)
    assert "\n" not in str(err.value)
    assert not mp.active_children()


def test_small_batch_daemon_and_bad_values_run_serially(planar, forks, monkeypatch):
    few = planar[:6]  # three warm-up designs, three left: fewer than MIN_DESIGNS_PER_PROCESS per process
    assert [r.pce_pct for r in tandem.evaluate_batch(few, processes=2).results] == \
        [r.pce_pct for r in tandem.evaluate_batch(few).results]
    monkeypatch.setattr(mp.current_process(), "daemon", True)  # as in the studies batch helper
    assert not parallel.can_fork()
    tandem.evaluate_batch(planar, processes=2)
    assert not forks
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match="processes must be an integer >= 0"):
            tandem.evaluate_batch(planar[:1], processes=bad)
    assert parallel.resolve_processes(0) == parallel.resolve_processes(None) >= 1


def test_split_is_contiguous_and_balanced():
    assert parallel.split(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert parallel.split([4, 9], 2) == [[4], [9]]
