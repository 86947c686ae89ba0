"""The studies' tables (lists of row dicts) to and from CSV."""
from __future__ import annotations

import csv
import math
from pathlib import Path


def _cell(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def write_csv(rows: list, path) -> None:
    if not rows:
        return
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(v) for k, v in r.items()})


def _parse(v: str):
    if v in ("True", "False"):
        return v == "True"
    try:
        return float(v)
    except ValueError:
        return v


def read_csv(path) -> list:
    """Rows with numbers as floats and True/False as bools (the inverse of write_csv)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(f)]


def read_dir(path) -> dict:
    """Every CSV in a directory: stem -> rows."""
    return {p.stem: read_csv(p) for p in sorted(Path(path).glob("*.csv"))}
