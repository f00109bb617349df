"""tandem.batch_optics.IndexCache: n + ik of catalogue materials kept across evaluations."""
import numpy as np

import nkdata
from optics.stack import refractive_index
from tandem.batch_optics import IndexCache


def test_shared_index_cache_follows_the_material_parameters():
    wl = np.linspace(400.0, 800.0, 41)
    key = tuple(wl.tolist())
    a = nkdata.get("CsPbI3_QD", bandgap_ev=1.72)
    b = nkdata.get("CsPbI3_QD", bandgap_ev=1.80)
    first = IndexCache().on_grid(key, wl)(a, "layer")
    # a new cache (a later evaluate) reuses the values of the same material object...
    again = IndexCache().on_grid(key, wl)(a, "layer")
    assert again is first and not again.flags.writeable
    # ...and a changed band gap gives the new material's n,k, not the cached ones
    other = IndexCache().on_grid(key, wl)(b, "layer")
    assert np.array_equal(other, refractive_index(b, wl))
    assert not np.allclose(other, first)
    assert np.array_equal(first, refractive_index(a, wl))
    # another grid is looked up afresh
    wl2 = wl + 1.0
    assert np.array_equal(IndexCache().on_grid(tuple(wl2.tolist()), wl2)(a, "layer"), refractive_index(a, wl2))


def test_mutable_materials_are_not_shared_across_caches():
    wl = np.linspace(400.0, 800.0, 11)
    key = tuple(wl.tolist())
    arr = np.full(wl.size, 2.0 + 0.1j)
    assert np.all(IndexCache().on_grid(key, wl)(arr, "layer") == 2.0 + 0.1j)
    arr[:] = 1.5  # a user's array changed between two evaluations
    assert np.all(IndexCache().on_grid(key, wl)(arr, "layer") == 1.5)
