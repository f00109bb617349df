"""Writing TOML: ``dumps_toml`` for the nested tables of a study or simulate file, and
``write_simulate_file`` for one design (every free parameter fixed) that ``qdtandem
simulate`` runs as it is."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + "".join(_TOML_ESCAPES.get(c, c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}")
                             for c in v) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_key(k: str) -> str:
    return k if k and all(c.isalnum() or c in "_-" for c in k) else _toml_value(k)


def dumps_toml(data: Mapping[str, Any], header: str = "") -> str:
    """Write nested dicts/lists as TOML (tables, arrays of tables, inline tables below those)."""
    lines: list[str] = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []

    def emit(table: Mapping, path: list[str]):
        scalars = {k: v for k, v in table.items()
                   if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))}
        subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
        arrays = {k: v for k, v in table.items()
                  if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in subtables.items():
            lines.append("")
            lines.append("[" + ".".join(_toml_key(p) for p in path + [k]) + "]")
            emit(v, path + [k])
        for k, items in arrays.items():
            for item in items:
                lines.append("")
                lines.append("[[" + ".".join(_toml_key(p) for p in path + [k]) + "]]")
                for kk, vv in item.items():
                    lines.append(f"{_toml_key(kk)} = {_toml_value(vv)}")

    emit(data, [])
    return "\n".join(lines).strip("\n") + "\n"


def write_simulate_file(spec, values: Mapping[str, float] | None, path: str | Path,
                        header: str = "") -> Path:
    """Write the design ``spec`` (a ``studies.spec.DeviceSpec``) at parameter ``values`` as a
    runnable simulate file, checked by loading it back; returns the path."""
    from .spec import loads

    path = Path(path)
    text = dumps_toml(spec.fixed_raw(values), header=header)
    loads(text, source=str(path), require_study=False)   # what we write must load back
    path.write_text(text, encoding="utf-8")
    return path
