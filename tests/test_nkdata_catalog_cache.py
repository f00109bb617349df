"""The refractiveindex.info catalogue index and pages are cached on disk (start-up speed) and
read again when the catalogue or a page changes; the cached data equal the parsed ones."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nkdata import refractiveindex_db as ri
from nkdata.io import read_yaml_page, yaml_page_record


def test_cached_catalogue_equals_the_parsed_one(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ri._index.cache_clear()
    try:
        first = ri._catalog()                         # parses and writes the cache
        cache = tmp_path / "qdtandem" / "refractiveindex-catalog.json"
        assert cache.is_file()
        parsed = ri._parse_catalog(ri.database_path() / "catalog-nk.yml")
        assert first == parsed and len(parsed) > 1000
        ri._index.cache_clear()
        assert ri._catalog() == parsed                # read back from the cache
        assert ri.database_version() == ri._imported_database_version()
        # a cache made for another catalogue (other key) is not trusted
        doc = json.loads(cache.read_text())
        doc["key"] = "other"
        doc["pages"] = {"main\tAg\tJohnson": "wrong/path.yml"}
        cache.write_text(json.dumps(doc))
        ri._index.cache_clear()
        assert ri._catalog() == parsed
    finally:
        ri._index.cache_clear()


def test_unwritable_cache_folder_still_works(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    ri._index.cache_clear()
    try:
        assert ("main", "Ag", "Johnson") in ri._catalog()
    finally:
        ri._index.cache_clear()


# ----------------------------------------------------------------------------- page cache

def _fake_database(root, rows):
    """A one-page database like the shipped one: catalog-nk.yml plus data/main/X/nk/Test.yml."""
    (root / "data" / "main" / "X" / "nk").mkdir(parents=True)
    (root / "catalog-nk.yml").write_text(
        "- SHELF: main\n  content:\n    - BOOK: X\n      content:\n        - PAGE: Test\n"
        "          data: main/X/nk/Test.yml\n", encoding="utf-8")
    page = root / "data" / "main" / "X" / "nk" / "Test.yml"
    _write_page(page, rows)
    return page


def _write_page(page, rows):
    body = "\n".join(f"        {wl_um} {n} {k}" for wl_um, n, k in rows)
    page.write_text(f"REFERENCES: \"test page\"\nDATA:\n  - type: tabulated nk\n    data: |\n{body}\n",
                    encoding="utf-8")


@pytest.fixture
def fresh_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real_database_path = ri.database_path          # the tests below may replace it
    clear = lambda: (ri._index.cache_clear(), ri._catalog_key.cache_clear(), ri._page.cache_clear(),
                     real_database_path.cache_clear())
    clear()
    yield clear
    clear()


def test_cached_page_gives_the_same_nk_without_the_catalogue(tmp_path, fresh_caches):
    wl = np.linspace(300.0, 1200.0, 91)
    first = ri.load_page("main", "Ag", "Johnson")          # parses the YAML and writes the page cache
    cached = list((tmp_path / "cache" / "qdtandem" / "refractiveindex-pages").glob("*"))
    assert [p.name for p in cached] == ["main%2FAg%2FJohnson.nkpage"]
    fresh_caches()
    second = ri.load_page("main", "Ag", "Johnson")         # from the cache
    assert ri._index.cache_info().currsize == 0             # the catalogue was not needed
    np.testing.assert_array_equal(second.nk(wl), first.nk(wl))
    assert second.provenance == first.provenance
    assert (second.wl_min_nm, second.wl_max_nm) == (first.wl_min_nm, first.wl_max_nm)
    parsed = read_yaml_page(ri.page_path("main", "Ag", "Johnson"), strict=False)
    np.testing.assert_array_equal(second.nk(wl), parsed["func"](wl))


def test_changed_page_is_read_again(tmp_path, monkeypatch, fresh_caches):
    root = tmp_path / "db"
    page = _fake_database(root, [(0.4, 2.0, 0.1), (0.6, 1.9, 0.05), (0.8, 1.8, 0.0)])
    monkeypatch.setattr(ri, "database_path", lambda: root)
    assert ri._page("main", "X", "Test")["func"](600.0) == pytest.approx(1.9 + 0.05j)
    cache = tmp_path / "cache" / "qdtandem" / "refractiveindex-pages" / "main%2FX%2FTest.nkpage"
    assert cache.is_file()
    _write_page(page, [(0.4, 2.5, 0.2), (0.6, 2.4, 0.15), (0.8, 2.3, 0.1), (1.0, 2.2, 0.0)])
    ri._page.cache_clear()
    p = ri._page("main", "X", "Test")
    assert p["func"](600.0) == pytest.approx(2.4 + 0.15j) and p["wl_max_nm"] == 1000.0
    ri._page.cache_clear()                                  # the rewritten cache holds the new page
    assert ri._page("main", "X", "Test")["func"](1000.0) == pytest.approx(2.2)


def test_corrupt_page_cache_is_replaced(tmp_path, monkeypatch, fresh_caches):
    root = tmp_path / "db"
    _fake_database(root, [(0.4, 2.0, 0.1), (0.6, 1.9, 0.05)])
    monkeypatch.setattr(ri, "database_path", lambda: root)
    cache = tmp_path / "cache" / "qdtandem" / "refractiveindex-pages" / "main%2FX%2FTest.nkpage"
    cache.parent.mkdir(parents=True)
    ri._page("main", "X", "Test")
    whole = cache.read_bytes()
    for bad in (b"not a cache file", whole[:-5], whole[:40], whole.replace(b'"format": 2', b'"format": 1')):
        cache.write_bytes(bad)
        ri._page.cache_clear()
        assert ri._page("main", "X", "Test")["func"](400.0) == pytest.approx(2.0 + 0.1j)
        assert cache.read_bytes() == whole                  # replaced by a whole one
    assert ri._read_cached_page(cache, ("main", "X", "Test"))["entries"][0]["wl"].tolist() == [400.0, 600.0]


def test_pages_without_a_writable_cache_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    ri._index.cache_clear(), ri._catalog_key.cache_clear(), ri._page.cache_clear()
    try:
        m = ri.load_page("main", "Ag", "Johnson")
        assert m.nk(500.0).imag > 1.0
    finally:
        ri._index.cache_clear(), ri._catalog_key.cache_clear(), ri._page.cache_clear()


def test_cache_write_that_fails_leaves_no_file(tmp_path, monkeypatch, fresh_caches):
    # a read-only cache folder (as root, chmod does not stop writes: make the rename fail)
    def refuse(src, dst):
        raise PermissionError(13, "read-only file system", str(dst))
    monkeypatch.setattr(ri.os, "replace", refuse)
    m = ri.load_page("main", "Ag", "Johnson")
    assert m.nk(500.0).imag > 1.0
    folder = tmp_path / "cache" / "qdtandem"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == []


def test_concurrent_writers_never_expose_a_partial_page(tmp_path, monkeypatch, fresh_caches):
    import threading

    root = tmp_path / "db"
    page = _fake_database(root, [(0.3 + 0.001 * i, 2.0, 0.1) for i in range(2000)])
    monkeypatch.setattr(ri, "database_path", lambda: root)
    record = yaml_page_record(page, strict=False)
    record["database_version"] = "test"
    cache = tmp_path / "cache" / "qdtandem" / "refractiveindex-pages" / "main%2FX%2FTest.nkpage"
    ri._write_cached_page(cache, ("main", "X", "Test"), page, record)
    seen, stop = [], threading.Event()

    def write():
        for _ in range(15):
            ri._write_cached_page(cache, ("main", "X", "Test"), page, record)

    def read():
        while not stop.is_set():
            got = ri._read_cached_page(cache, ("main", "X", "Test"))
            seen.append(got is not None and got["entries"][0]["wl"].size == 2000)

    writers = [threading.Thread(target=write) for _ in range(3)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert seen and all(seen)
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]     # no temporary file left
