"""The refractiveindex.info catalogue index is cached on disk (start-up speed) and rebuilt
when the catalogue changes; the cached index equals the parsed one."""
from __future__ import annotations

import json

from nkdata import refractiveindex_db as ri


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
