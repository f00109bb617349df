"""Loading n,k data from files: user CSV tables and refractiveindex.info YAML pages.

CSV: columns wavelength (nm, um or eV) plus either n,k or eps1,eps2. The unit comes from the
``unit=`` argument or from the header (``wavelength_nm``, ``wl (um)``, ``lambda[µm]``,
``energy (eV)``, ``eV`` ...). Separators: comma, semicolon, tab or spaces; ``#`` starts a
comment. Every row is checked and a bad row raises :class:`NkFileError` (a ValueError)
naming the file and its line: unparsable numbers, NaN/inf, k < 0 (or eps2 < 0), wavelengths
not strictly monotonic or duplicated, and wavelengths outside 100-50000 nm after unit
conversion (the usual sign of a wrong unit: um read as nm gives 0.3-1.2 "nm").

YAML: the refractiveindex.info database format (DATA: tabulated nk / n / k, or formula 1-9
with wavelength_range; wavelengths in um).

Interpolation of tabulated data is PCHIP (see :class:`nkdata.material.TabulatedNK`).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .material import Material, Provenance, TabulatedNK
from .models import HC_EV_NM, eps_to_nk

__all__ = ["NkFileError", "load_csv", "load_yaml", "read_yaml_page", "yaml_page_record", "page_from_record",
           "formula_n", "PLAUSIBLE_NM"]

PLAUSIBLE_NM = (100.0, 50000.0)
_UNIT_ALIASES = {"nm": "nm", "um": "um", "µm": "um", "μm": "um", "micron": "um", "microns": "um",
                 "micrometer": "um", "micrometre": "um", "ev": "eV"}


class NkFileError(ValueError):
    """Bad n,k file content; the message names the file and line."""


def _to_nm(values, unit):
    values = np.asarray(values, float)
    if unit == "nm":
        return values
    if unit == "um":
        return values * 1e3
    if unit == "eV":
        with np.errstate(divide="ignore"):
            return HC_EV_NM / values
    raise ValueError(f"unit must be 'nm', 'um' or 'eV', got {unit!r}")


def _check_table(path, lines, x, cols, unit, absorbing_col, strict=True):
    """Validate a parsed table; x in the file's unit, cols list of arrays; lines 1-based."""
    x = np.asarray(x, float)
    for j, arr in enumerate([x] + list(cols)):
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise NkFileError(f"{path}, line {lines[i]}: value is NaN or infinite")
    if absorbing_col is not None:
        neg = cols[absorbing_col] < 0
        if neg.any():
            i = int(np.argmax(neg))
            raise NkFileError(f"{path}, line {lines[i]}: negative absorption ({cols[absorbing_col][i]:g}); "
                              f"k and eps2 must be >= 0")
    if unit == "eV" and np.any(x <= 0):
        i = int(np.argmax(x <= 0))
        raise NkFileError(f"{path}, line {lines[i]}: photon energy must be > 0 eV")
    wl = _to_nm(x, unit)
    out = (wl < PLAUSIBLE_NM[0]) | (wl > PLAUSIBLE_NM[1])
    if strict and out.any():
        i = int(np.argmax(out))
        hint = {"nm": "um or eV", "um": "nm", "eV": "nm or um"}[unit]
        raise NkFileError(
            f"{path}, line {lines[i]}: wavelength {x[i]:g} {unit} = {wl[i]:g} nm is outside "
            f"{PLAUSIBLE_NM[0]:g}-{PLAUSIBLE_NM[1]:g} nm; this looks like the wrong unit (is it {hint}?)")
    if len(x) < 2:
        raise NkFileError(f"{path}: need at least 2 data rows, found {len(x)}")
    d = np.diff(x)
    if strict:
        dup = d == 0
        if dup.any():
            i = int(np.argmax(dup)) + 1
            raise NkFileError(f"{path}, line {lines[i]}: duplicate wavelength {x[i]:g} {unit} (also on line {lines[i-1]})")
        direction = np.sign(x[-1] - x[0]) or 1.0  # intended order: first to last row
        bad = np.sign(d) != direction
        if bad.any():
            i = int(np.argmax(bad)) + 1
            raise NkFileError(f"{path}, line {lines[i]}: wavelengths are not sorted ({x[i-1]:g} then {x[i]:g} {unit})")
    order = np.argsort(wl, kind="stable")
    wl = wl[order]
    cols = [c[order] for c in cols]
    if not strict:
        keep = np.concatenate([[True], np.diff(wl) > 0])
        wl = wl[keep]
        cols = [c[keep] for c in cols]
    return wl, cols


def _unit_from_header(text):
    t = text.lower()
    m = re.search(r"(?:\(|\[|_|\s|^)(nm|um|µm|μm|microns?|micromet(?:er|re)|ev)(?:\)|\]|\s|$)", t)
    if m:
        return _UNIT_ALIASES[m.group(1)]
    if t.strip() in ("energy", "e", "photon_energy"):
        return "eV"
    return None


def _col_role(name):
    t = re.sub(r"[\s_\-\(\)\[\]]", "", name.lower())
    t = re.sub(r"(nm|um|µm|μm|ev|microns?)$", "", t)
    if t in ("wavelength", "wl", "lambda", "λ", "lam", "energy", "e", "photonenergy", "wavelengths", ""):
        return "x"
    if t in ("n", "nreal", "re(n)", "ren"):
        return "n"
    if t in ("k", "kappa", "nimag", "imn"):
        return "k"
    if t in ("eps1", "e1", "epsilon1", "epsr", "epsreal", "εr", "ε1", "epsilon_1"):
        return "eps1"
    if t in ("eps2", "e2", "epsilon2", "epsi", "epsimag", "εi", "ε2", "epsilon_2"):
        return "eps2"
    return None


def load_csv(path, *, unit=None, quantity=None, name=None, category="absorber", extrapolate=False,
             source=None, doi="", licence="user data") -> Material:
    """Load a user n,k (or eps1,eps2) table as a :class:`Material`.

    Parameters
    ----------
    path : file path.  unit : 'nm' | 'um' | 'eV' (overrides the header).
    quantity : 'nk' | 'eps' (overrides the header; default from header, else 'nk').
    name : material name (default: file stem).  extrapolate : allow evaluation outside the data.
    Raises NkFileError (ValueError) naming the file and line for bad content.
    """
    path = Path(path)
    name = name or path.stem
    try:
        raw = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise NkFileError(f"{path}: cannot read ({exc})") from exc
    header = None
    rows, lines = [], []
    for lineno, line in enumerate(raw, start=1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        parts = [p for p in re.split(r"[,;\t ]+", s) if p != ""]
        if header is None and not rows:
            try:
                [float(p) for p in parts]
            except ValueError:
                sep = r"[,;\t]" if re.search(r"[,;\t]", s) else r"\s+"
                header = (lineno, [p.strip().strip('"') for p in re.split(sep, s) if p.strip()])
                continue
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise NkFileError(f"{path}, line {lineno}: cannot read numbers from {line.strip()!r}") from None
        if len(vals) != 3:
            raise NkFileError(f"{path}, line {lineno}: expected 3 columns (wavelength and n,k or eps1,eps2), "
                              f"found {len(vals)}")
        rows.append(vals)
        lines.append(lineno)
    if not rows:
        raise NkFileError(f"{path}: no data rows")
    roles = None
    if header is not None:
        hl, names = header
        if len(names) != 3:
            raise NkFileError(f"{path}, line {hl}: header must name 3 columns, found {names}")
        roles = [_col_role(n) for n in names]
        if roles[0] != "x" or None in roles:
            raise NkFileError(f"{path}, line {hl}: cannot understand header {names}; use e.g. "
                              f"'wavelength_nm,n,k' or 'energy_eV,eps1,eps2'")
        hdr_unit = _unit_from_header(names[0])
        if unit is None:
            unit = hdr_unit
        hdr_q = "eps" if roles[1].startswith("eps") else "nk"
        if quantity is None:
            quantity = hdr_q
    if unit is None:
        raise NkFileError(f"{path}: wavelength unit not stated; pass unit='nm'|'um'|'eV' or put it in the header "
                          f"(e.g. 'wavelength_nm,n,k')")
    unit = _UNIT_ALIASES.get(str(unit).lower(), unit)
    if unit not in ("nm", "um", "eV"):
        raise ValueError(f"{path}: unit must be 'nm', 'um' or 'eV', got {unit!r}")
    quantity = quantity or "nk"
    if quantity not in ("nk", "eps"):
        raise ValueError(f"{path}: quantity must be 'nk' or 'eps', got {quantity!r}")
    a = np.array(rows, float)
    if quantity == "nk":
        n_col = a[:, 1]
        if np.any(n_col <= 0):
            i = int(np.argmax(n_col <= 0))
            raise NkFileError(f"{path}, line {lines[i]}: refractive index n must be > 0, got {n_col[i]:g}")
    wl, (c1, c2) = _check_table(path, lines, a[:, 0], [a[:, 1], a[:, 2]], unit, absorbing_col=1)
    if quantity == "eps":
        nk = eps_to_nk(c1 + 1j * c2)
        n, k = nk.real, nk.imag
    else:
        n, k = c1, c2
    table = TabulatedNK(wl, n, k)
    prov = Provenance(source=source or f"user file {path}", doi=doi, licence=licence, kind="measured",
                      notes=f"loaded from {path} ({quantity}, {unit}); PCHIP interpolation")
    return Material(name=name, category=category, provenance=prov, wl_min_nm=float(wl[0]),
                    wl_max_nm=float(wl[-1]), func=table, extrapolate=extrapolate)


# ------------------------------------------------------------ refractiveindex.info YAML
def formula_n(formula_id, C, wl_um):
    """refractiveindex.info dispersion formulas 1-9 (database doc 'Dispersion formulas'); wl in um."""
    wl = np.asarray(wl_um, float)
    C = list(C)
    Cp = C + [0.0] * 20
    if formula_id == 1:
        n2 = 1 + Cp[0] + sum(C[i] * wl**2 / (wl**2 - C[i + 1] ** 2) for i in range(1, len(C) - 1, 2))
        return np.sqrt(n2)
    if formula_id == 2:
        n2 = 1 + Cp[0] + sum(C[i] * wl**2 / (wl**2 - C[i + 1]) for i in range(1, len(C) - 1, 2))
        return np.sqrt(n2)
    if formula_id == 3:
        return np.sqrt(Cp[0] + sum(C[i] * wl ** C[i + 1] for i in range(1, len(C) - 1, 2)))
    if formula_id == 4:
        n2 = Cp[0] + sum(Cp[i] * wl ** Cp[i + 1] / (wl**2 - Cp[i + 2] ** Cp[i + 3]) for i in (1, 5) if i < len(C))
        n2 = n2 + sum(C[i] * wl ** C[i + 1] for i in range(9, len(C) - 1, 2))
        return np.sqrt(n2)
    if formula_id == 5:
        return Cp[0] + sum(C[i] * wl ** C[i + 1] for i in range(1, len(C) - 1, 2))
    if formula_id == 6:
        return 1 + Cp[0] + sum(C[i] / (C[i + 1] - wl ** (-2.0)) for i in range(1, len(C) - 1, 2))
    if formula_id == 7:
        n = Cp[0] + Cp[1] / (wl**2 - 0.028) + Cp[2] / (wl**2 - 0.028) ** 2
        return n + sum(C[i] * wl ** (2 * (i - 2)) for i in range(3, len(C)))
    if formula_id == 8:
        t = Cp[0] + Cp[1] * wl**2 / (wl**2 - Cp[2]) + Cp[3] * wl**2
        return np.sqrt((2 * t + 1) / (1 - t))
    if formula_id == 9:
        return np.sqrt(Cp[0] + Cp[1] / (wl**2 - Cp[2]) + Cp[3] * (wl - Cp[4]) / ((wl - Cp[4]) ** 2 + Cp[5]))
    raise ValueError(f"unknown refractiveindex.info formula {formula_id}")


def _data_block_lines(text):
    """1-based line numbers of the first row of each DATA entry's 'data' block (None for formulas)."""
    import yaml

    node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))   # C parser: same marks, ~10x faster
    out = []
    for key, val in node.value:
        if key.value == "DATA":
            for item in val.value:
                line = None
                for k2, v2 in item.value:
                    if k2.value == "data":
                        line = v2.start_mark.line + (2 if v2.style == "|" else 1)
                out.append(line)
    return out


def read_yaml_page(path, strict=True):
    """Parse a refractiveindex.info YAML page.

    Returns dict with 'references', 'comments', 'wl_min_nm', 'wl_max_nm' (overlap of n and k
    ranges) and 'func' (wavelength nm -> complex n + ik). Tabulated data are validated like
    CSV rows (strict=True: unsorted/duplicate rows are errors; the shipped database is read
    with strict=False, which sorts and drops duplicates).
    """
    return page_from_record(yaml_page_record(path, strict=strict))


def yaml_page_record(path, strict=True):
    """A refractiveindex.info YAML page parsed and checked, as plain data.

    The first half of :func:`read_yaml_page`: a dict with 'references', 'comments' (str),
    'wl_min_nm', 'wl_max_nm' (float) and 'entries', the page's DATA entries in file order,
    each {'type': 'tabulated nk' | 'tabulated n' | 'tabulated k', 'wl': wavelengths in nm
    (ascending float array), 'cols': [n and k | n | k arrays]} or {'type': 'formula',
    'id': int, 'coeffs': list of float}. :func:`page_from_record` builds the n,k function
    from it; being numbers and strings only, a record can be stored in a cache file.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))   # C parser: ~10x faster
        starts = _data_block_lines(text)
    except (OSError, yaml.YAMLError) as exc:
        raise NkFileError(f"{path}: cannot read YAML ({exc})") from exc
    if not isinstance(doc, dict) or "DATA" not in doc:
        raise NkFileError(f"{path}: not a refractiveindex.info page (no DATA key)")
    entries = []
    n_rng = k_rng = None
    for entry, start in zip(doc["DATA"], starts):
        typ = str(entry.get("type", "")).split()
        if not typ:
            raise NkFileError(f"{path}: DATA entry without type")
        if typ[0] == "tabulated":
            sub = typ[1] if len(typ) > 1 else ""
            rows, lines = [], []
            for i, line in enumerate(str(entry["data"]).split("\n")):
                if not line.strip():
                    continue
                lineno = (start or 0) + i
                try:
                    rows.append([float(v) for v in line.split()])
                except ValueError:
                    raise NkFileError(f"{path}, line {lineno}: cannot read numbers from {line.strip()!r}") from None
                want = 3 if sub == "nk" else 2
                if len(rows[-1]) != want:
                    raise NkFileError(f"{path}, line {lineno}: expected {want} columns for 'tabulated {sub}'")
                lines.append(lineno)
            a = np.array(rows, float)
            cols = [a[:, j] for j in range(1, a.shape[1])]
            absorbing = {"nk": 1, "k": 0}.get(sub)
            wl, cols = _check_table(path, lines, a[:, 0], cols, "um", absorbing, strict=strict)
            if sub in ("nk", "n") and np.any(cols[0] <= 0):
                i = int(np.argmax(cols[0] <= 0))
                raise NkFileError(f"{path}: n must be > 0 (row {i + 1} of the table)")
            if sub not in ("nk", "n", "k"):
                raise NkFileError(f"{path}: unknown data type 'tabulated {sub}'")
            rng = (float(wl[0]), float(wl[-1]))
            if sub in ("nk", "n"):
                n_rng = rng
            if sub in ("nk", "k"):
                k_rng = rng
            entries.append({"type": f"tabulated {sub}", "wl": wl, "cols": cols})
        elif typ[0] == "formula":
            fid = int(typ[1])
            coeffs = [float(c) for c in str(entry["coefficients"]).split()]
            rng_txt = entry.get("wavelength_range", entry.get("range"))
            lo, hi = (float(v) * 1e3 for v in str(rng_txt).split())
            n_rng = (lo, hi)
            entries.append({"type": "formula", "id": fid, "coeffs": coeffs})
        else:
            raise NkFileError(f"{path}: unknown DATA type {entry.get('type')!r}")
    if n_rng is None:
        raise NkFileError(f"{path}: page has no refractive index (n) data")
    lo, hi = n_rng
    if k_rng is not None:
        lo, hi = max(lo, k_rng[0]), min(hi, k_rng[1])
        if lo >= hi:
            raise NkFileError(f"{path}: n and k ranges do not overlap")
    return {"references": str(doc.get("REFERENCES", "")), "comments": str(doc.get("COMMENTS", "")),
            "wl_min_nm": lo, "wl_max_nm": hi, "entries": entries}


def page_from_record(record):
    """The page dict of :func:`read_yaml_page` from a :func:`yaml_page_record` record: a later
    DATA entry replaces what an earlier one gave (n, k or both), as in the file."""
    n_part = k_part = None
    for e in record["entries"]:
        sub = e["type"]
        if sub == "tabulated nk":
            tab = TabulatedNK(e["wl"], e["cols"][0], e["cols"][1])
            n_part = lambda w, t=tab: t(w).real
            k_part = lambda w, t=tab: t(w).imag
        elif sub == "tabulated n":
            tab = TabulatedNK(e["wl"], e["cols"][0], np.zeros_like(e["cols"][0]))
            n_part = lambda w, t=tab: t(w).real
        elif sub == "tabulated k":
            tab = TabulatedNK(e["wl"], np.ones_like(e["cols"][0]), e["cols"][0])
            k_part = lambda w, t=tab: t(w).imag
        elif sub == "formula":
            n_part = lambda w, f=e["id"], c=list(e["coeffs"]): formula_n(f, c, np.asarray(w) * 1e-3)
        else:
            raise ValueError(f"unknown page entry type {sub!r}")

    def func(w, n_part=n_part, k_part=k_part):
        w = np.asarray(w, float)
        k = k_part(w) if k_part is not None else 0.0
        return n_part(w) + 1j * k

    return {"references": record["references"], "comments": record["comments"],
            "wl_min_nm": record["wl_min_nm"], "wl_max_nm": record["wl_max_nm"], "func": func}


def doi_from_references(text):
    """First DOI in a refractiveindex.info REFERENCES string ('' if none)."""
    m = re.search(r"doi\.org/([^\"'<>\s]+)", text) or re.search(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", text)
    from urllib.parse import unquote
    return unquote(m.group(1)).rstrip(".,;") if m else ""


def strip_html(text):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()


def load_yaml(path, *, name=None, category="absorber", extrapolate=False, licence="see file") -> Material:
    """Load a refractiveindex.info-format YAML page (user file) as a :class:`Material`."""
    path = Path(path)
    page = read_yaml_page(path, strict=True)
    prov = Provenance(source=strip_html(page["references"]) or f"user file {path}",
                      doi=doi_from_references(page["references"]), licence=licence, kind="measured",
                      notes=f"loaded from {path}; PCHIP interpolation")
    return Material(name=name or path.stem, category=category, provenance=prov, wl_min_nm=page["wl_min_nm"],
                    wl_max_nm=page["wl_max_nm"], func=page["func"], extrapolate=extrapolate)
