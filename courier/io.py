"""Every reader and writer of tables and plan outputs. The only module that touches files.

Street files are read by :mod:`courier.streets`, which owns the OSM formats.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from courier.errors import InputError
from courier.model import Plan, Reject, SortLine, Unassigned

_ENCODINGS = ("utf-8-sig", "gb18030")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


def safe_filename(name: str) -> str:
    """Return a file-name stem for an id (a courier's) that is safe on every file system.

    Only ASCII letters, digits, ``_`` and ``-`` are kept, so the name also works in a URL on any
    phone. An id that had to change, or is a reserved Windows device name, gets a short hash of
    the original, so two ids that sanitise alike (``a/b``, ``a?b``) never share a file.
    """
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    if stem != name or not stem or stem.upper() in _WINDOWS_RESERVED:
        stem = f"{stem}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}"
    return stem


def read_table(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV, GeoJSON or GeoParquet file into a table of strings, one row per record.

    Every cell is kept as text (validation parses it), so nothing is silently coerced. CSV
    text is decoded as UTF-8 and, failing that, as GB18030 (a superset of GBK, the encoding
    Chinese spreadsheet software exports), unless ``encoding`` is given. Point geometries of
    GeoJSON/GeoParquet become ``lon``/``lat`` columns.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json", ".parquet", ".geoparquet", ".gpkg"):
        return _read_geo(path)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise InputError(
            f"{path}: unknown file type {suffix!r}; allowed: .csv, .geojson, .parquet, .gpkg"
        )
    raw = path.read_bytes()
    for enc in (encoding,) if encoding else _ENCODINGS:
        try:
            text = raw.decode(enc)
        except (UnicodeDecodeError, LookupError) as exc:
            if encoding:
                raise InputError(f"{path}: cannot decode as {encoding}: {exc}") from None
            continue
        break
    else:
        raise InputError(f"{path}: not UTF-8 or GB18030 text; give the encoding with --encoding")
    sep = "\t" if suffix == ".tsv" else ","
    rows = list(csv.reader(text.splitlines(), delimiter=sep))
    if not rows:
        raise InputError(f"{path}: the file is empty; a header row is required")
    header = [h.strip() for h in rows[0]]
    width = len(header)
    body = [(r + [""] * width)[:width] for r in rows[1:] if any(c.strip() for c in r)]
    # Row numbers as a spreadsheet shows them: the header is row 1.
    numbers = [i + 2 for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    table = pd.DataFrame(body, columns=header, dtype=str)
    table.insert(0, "__row__", numbers)
    return table


def as_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Return an in-memory table as :func:`read_table` returns a CSV: text cells, row numbers.

    Synthetic days are validated exactly like files, so rows are numbered as a spreadsheet
    shows them (the header is row 1).
    """
    table = frame.astype(str)
    table.insert(0, "__row__", range(2, len(table) + 2))
    return table


def _read_geo(path: Path) -> pd.DataFrame:
    import geopandas as gpd

    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except Exception as exc:  # any parser error is the user's file, not our bug
        raise InputError(f"{path}: cannot read as GeoJSON/GeoParquet: {exc}") from None
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    geom = frame.geometry
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(str)
    table = table.replace({"nan": "", "None": "", "<NA>": ""})
    is_point = geom.geom_type == "Point"
    table["lon"] = [f"{g.x!r}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
    table["lat"] = [f"{g.y!r}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
    table.insert(0, "__row__", list(range(1, len(table) + 1)))
    return table


def read_couriers_toml(path: Path) -> pd.DataFrame:
    """Read a courier roster from TOML: an array of tables ``[[courier]]`` with the CSV fields."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read TOML: {exc}") from None
    items = data.get("courier") or data.get("couriers")
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: expected one or more [[courier]] tables")
    table = pd.DataFrame([{k: str(v) for k, v in item.items()} for item in items], dtype=str)
    table = table.fillna("")
    table.insert(0, "__row__", list(range(1, len(table) + 1)))
    return table


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a UTF-8 CSV with Unix line ends (byte-identical for identical rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def hhmmss(seconds: int) -> str:
    """Format seconds from midnight as HH:MM:SS (hours may pass 24 for overnight work)."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def write_sort_plan(path: Path, lines: Sequence[SortLine]) -> None:
    write_csv(
        path,
        ("parcel_id", "courier_id", "trip", "bag", "load_position", "stop_id", "seq"),
        ((s.parcel_id, s.courier_id, s.trip, s.bag, s.load_position, s.stop_id, s.seq)
         for s in lines),
    )


def write_stops(path: Path, plan: Plan) -> None:
    stops = {s.stop_id: s for s in plan.stops}
    rows = []
    for trip in plan.trips:
        for v in trip.visits:
            stop = stops[v.stop_id]
            rows.append((
                trip.courier_id, trip.trip, v.seq, v.stop_id, f"{stop.lon:.6f}", f"{stop.lat:.6f}",
                hhmmss(v.arrival_s), hhmmss(v.departure_s), " ".join(stop.parcel_ids),
                v.arrival_s, v.start_s, v.departure_s, stop.address,
            ))
    write_csv(
        path,
        ("courier_id", "trip", "seq", "stop_id", "lon", "lat", "arrival", "departure",
         "parcel_ids", "arrival_s", "start_s", "departure_s", "address"),
        rows,
    )


def write_unassigned(path: Path, items: Sequence[Unassigned]) -> None:
    write_csv(
        path,
        ("parcel_id", "stop_id", "reason_code", "reason"),
        ((u.parcel_id, u.stop_id, u.reason_code, u.reason) for u in items),
    )


def write_rejects(path: Path, items: Sequence[Reject]) -> None:
    write_csv(
        path,
        ("row", "parcel_id", "field", "value", "reason"),
        ((r.row, r.parcel_id, r.field, r.value, r.reason) for r in items),
    )


def write_routes_geojson(path: Path, plan: Plan) -> None:
    """Write one LineString feature per courier trip, along the streets."""
    features = []
    for trip in plan.trips:
        coords = [[round(lon, 7), round(lat, 7)] for lon, lat in trip.path_lonlat]
        if len(coords) == 1:
            coords = coords * 2  # a LineString needs two positions
        features.append({
            "type": "Feature",
            "properties": {
                "courier_id": trip.courier_id,
                "trip": trip.trip,
                "distance_m": trip.distance_m,
                "duration_s": trip.duration_s,
                "depart": hhmmss(trip.depart_s),
                "return": hhmmss(trip.return_s),
                "stops": len(trip.visits),
                "parcels": trip.load_parcels,
            },
            "geometry": {"type": "LineString", "coordinates": coords},
        })
    write_json(path, {"type": "FeatureCollection", "features": features})


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read JSON: {exc}") from None
