"""Every reader and writer of tables and plan outputs. The only module that touches files.

Street files are read by :mod:`courier.streets`, which owns the OSM formats.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import os
import re
import shutil
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd

from courier.errors import InputError
from courier.model import Courier, Day, DayPlan, Parcel, Reject, Unassigned
from courier.replanning import Delivered, Earlier, EarlierTrip, EarlierVisit, OnBoard, Status
from courier.sortplan import address_of
from courier.text import hhmm, hhmmss, parse_time_s

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


def unique_stems(ids: Sequence[str]) -> dict[str, str]:
    """Map each id to its :func:`safe_filename` stem; ids equal but for case get a hash, so
    they do not share a file on a case-blind disk (Windows, macOS)."""
    stems = {i: safe_filename(i) for i in ids}
    folded = Counter(s.casefold() for s in stems.values())
    for i, stem in stems.items():
        if folded[stem.casefold()] > 1:
            stems[i] = f"{stem}-{hashlib.sha1(i.encode('utf-8')).hexdigest()[:8]}"
    return stems


# Every table type read, by suffix (the error for another type lists them all).
TABLE_TYPES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".geojson", ".json", ".parquet",
               ".geoparquet", ".gpkg")
# Field separators people's exports use; the file's first lines decide.
_DELIMITERS = ",;\t|"


def read_table(path: Path, *, encoding: str | None = None,
               sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, Excel, GeoJSON or GeoParquet file into a table of strings, one row per record.

    Every cell is kept as text (validation parses it), so nothing is silently coerced. CSV
    text is decoded as UTF-8 and, failing that, as GB18030 (a superset of GBK, the encoding
    Chinese spreadsheet software exports), unless ``encoding`` is given; its separator
    (``,`` ``;`` tab ``|``) is read off its first lines. An Excel workbook is read from its
    first sheet, or ``sheet``. Point geometries of GeoJSON/GeoParquet become ``lon``/``lat``
    columns. A header with an empty or repeated column name is refused, naming it.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json", ".parquet", ".geoparquet", ".gpkg"):
        return _read_geo(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path, sheet)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise InputError(f"{path}: unknown file type {suffix!r}; allowed: {', '.join(TABLE_TYPES)}")
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
    lines = text.splitlines()
    sep = "\t" if suffix == ".tsv" else _delimiter(lines)
    rows = list(csv.reader(lines, delimiter=sep))
    if not rows:
        raise InputError(f"{path}: the file is empty; a header row is required")
    header = [h.strip() for h in rows[0]]
    _check_header(path, header)
    width = len(header)
    body = [(r + [""] * width)[:width] for r in rows[1:] if any(c.strip() for c in r)]
    # Row numbers as a spreadsheet shows them: the header is row 1.
    numbers = [i + 2 for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    table = pd.DataFrame(body, columns=header, dtype=str)
    table.insert(0, "__row__", numbers)
    return table


def _delimiter(lines: Sequence[str]) -> str:
    """The separator of a CSV's first lines: the one that splits the header into the most
    fields and every line alike; a comma when nothing else does."""
    sample = [line for line in lines[:20] if line.strip()]
    if not sample:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(sample), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _check_header(path: Path, header: Sequence[str]) -> None:
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty and len(header) > 1:
        raise InputError(f"{path}: header column {empty[0]} has no name; every column needs "
                         "one (e.g. parcel_id, lon, lat)")
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise InputError(f"{path}: the header names column {h!r} twice; each column once")
        seen.add(h)


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    """Read an Excel sheet as text cells, numbered as the spreadsheet shows its rows."""
    try:
        frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object,
                              header=0)
    except ValueError as exc:  # no such sheet
        raise InputError(f"{path}: {exc}; give an existing sheet with --sheet") from None
    except Exception as exc:  # any parser error is the user's file, not our bug
        raise InputError(f"{path}: cannot read as an Excel workbook: {exc}") from None
    header = ["" if str(c).startswith("Unnamed:") else str(c).strip() for c in frame.columns]
    # pandas renames a repeated column "lat" to "lat.1": name the repeat as the user wrote it.
    names = set(header)
    _check_header(path, [m[1] if (m := re.match(r"^(.*)\.\d+$", h)) and m[1] in names else h
                         for h in header])
    frame.columns = header
    # as_table numbers rows from 2, as the spreadsheet does (its header is row 1).
    return as_table(frame)


def as_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Return an in-memory table as :func:`read_table` returns a CSV: text cells, row numbers.

    A DataFrame (as ``pd.read_csv`` gives it) is validated exactly like a file: an empty cell
    (NaN, None, NA) is an empty string, a whole number stored as a float (pandas turns an
    integer column with a gap into floats) is written without ``.0``, and rows are numbered
    as a spreadsheet shows them (the header is row 1). A GeoDataFrame of points gives
    ``lon``/``lat`` columns in WGS-84.
    """
    geometry = getattr(frame, "geometry", None) if hasattr(frame, "crs") else None
    if geometry is not None:
        return _geo_table(frame, first_row=2)
    table = pd.DataFrame({str(c): [_cell(v) for v in frame[c].tolist()] for c in frame.columns},
                         index=range(len(frame)), dtype=str)
    table.insert(0, "__row__", range(2, len(table) + 2))
    return table


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)


def _read_geo(path: Path) -> pd.DataFrame:
    import geopandas as gpd

    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except Exception as exc:  # any parser error is the user's file, not our bug
        raise InputError(f"{path}: cannot read as GeoJSON/GeoParquet: {exc}") from None
    return _geo_table(frame, first_row=1)


def _geo_table(frame: Any, *, first_row: int) -> pd.DataFrame:
    """Return a GeoDataFrame's attributes as text cells plus ``lon``/``lat`` of its points.

    ``first_row`` numbers the first record (1 in a GeoJSON file: records have no header row).
    A feature that is not a point gets empty ``lon``/``lat``, which validation rejects.
    """
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    geom = frame.geometry
    plain = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table = pd.DataFrame({str(c): [_cell(v) for v in plain[c].tolist()] for c in plain.columns},
                         index=range(len(plain)), dtype=str)
    is_point = (geom.geom_type == "Point").to_numpy()
    table["lon"] = [f"{g.x!r}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
    table["lat"] = [f"{g.y!r}" if ok else "" for g, ok in zip(geom, is_point, strict=True)]
    table.insert(0, "__row__", list(range(first_row, len(table) + first_row)))
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


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
              bom: bool = False) -> None:
    """Write a UTF-8 CSV with Unix line ends (byte-identical for identical rows).

    ``bom`` starts the file with a UTF-8 byte-order mark: without it Excel on a Chinese
    Windows reads a CSV as GBK and garbles every address.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_csv_text(header, rows), encoding="utf-8-sig" if bom else "utf-8",
                    newline="")


# A plan's tables: (header, rows) once, for both the CSV files and Plan.to_frames().
Table = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def sort_plan_table(plan: DayPlan) -> Table:
    """``sort_plan.csv``: where every planned parcel goes, by courier, trip, bag, load position.

    A sorter holding a parcel finds it by id and reads its chute, courier (name too), bag and
    position in the bag (1 = first in); the address lets them check the label.
    """
    names = {c.courier_id: c.name for c in plan.couriers}
    parcels = {p.parcel_id: p for p in plan.parcels}
    stops = {s.stop_id: s for s in plan.stops}
    rows = []
    for s in plan.sort_lines:
        parcel = parcels.get(s.parcel_id)
        address = address_of(parcel, stops.get(s.stop_id))
        ready = hhmm(parcel.ready_s) if parcel is not None and parcel.ready_s else ""
        rows.append((s.parcel_id, s.courier_id, names.get(s.courier_id, ""), s.trip, s.chute,
                     s.bag, s.load_position, s.stop_id, s.seq, address, ready))
    return (("parcel_id", "courier_id", "courier_name", "trip", "chute", "bag", "load_position",
             "stop_id", "seq", "address", "ready_at"), rows)


def stops_table(plan: DayPlan) -> Table:
    """``stops.csv``: every visit of every trip, with times as HH:MM:SS and in seconds."""
    stops = {s.stop_id: s for s in plan.stops}
    rows = []
    for trip in plan.trips:
        for v in trip.visits:
            stop = stops[v.stop_id]
            rows.append((
                trip.courier_id, trip.trip, v.seq, v.stop_id, f"{stop.lon:.6f}", f"{stop.lat:.6f}",
                hhmmss(v.arrival_s), hhmmss(v.departure_s), " ".join(stop.parcel_ids),
                v.arrival_s, v.start_s, v.departure_s, stop.address,
                hhmm(stop.ready_s) if stop.ready_s else "",
            ))
    return (("courier_id", "trip", "seq", "stop_id", "lon", "lat", "arrival", "departure",
             "parcel_ids", "arrival_s", "start_s", "departure_s", "address", "ready_at"), rows)


def unassigned_table(items: Sequence[Unassigned]) -> Table:
    """``unassigned.csv``: valid parcels not planned, with the reason code and its text."""
    return (("parcel_id", "stop_id", "reason_code", "reason"),
            [(u.parcel_id, u.stop_id, u.reason_code, u.reason) for u in items])


def rejects_table(items: Sequence[Reject]) -> Table:
    """``rejects.csv``: input rows that failed validation, with the field and the reason."""
    return (("row", "parcel_id", "field", "value", "reason"),
            [(r.row, r.parcel_id, r.field, r.value, r.reason) for r in items])


def routes_features(plan: DayPlan) -> dict[str, Any]:
    """``routes.geojson``: one LineString feature per courier trip, along the streets."""
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
    return {"type": "FeatureCollection", "features": features}


def write_plan_tables(out_dir: Path, plan: DayPlan, *, bom: bool = True) -> list[Path]:
    """Write sort_plan.csv, stops.csv, unassigned.csv, rejects.csv (with a UTF-8 BOM unless
    ``bom`` is false, see :func:`write_csv`) and routes.geojson."""
    out = Path(out_dir)
    tables = {
        "sort_plan.csv": sort_plan_table(plan),
        "stops.csv": stops_table(plan),
        "unassigned.csv": unassigned_table(plan.unassigned),
        "rejects.csv": rejects_table(plan.rejects),
    }
    for name, (header, rows) in tables.items():
        write_csv(out / name, header, rows, bom=bom)
    write_json(out / "routes.geojson", routes_features(plan))
    return [*(out / name for name in tables), out / "routes.geojson"]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes (inputs are recorded by content, not by name).

    Read once per run: the street cache's key and the plan's record of its inputs ask for the
    same file's digest, for every vehicle profile (a city's PBF is hundreds of MB). A file
    rewritten since has another size or modification time, so it is read again.
    """
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_of(p, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_files(out_dir: Path, files: Mapping[str, str | bytes]) -> list[Path]:
    """Write ``{relative path: text or bytes}`` under ``out_dir`` (text as UTF-8); return the paths."""
    written = []
    for rel, content in files.items():
        path = Path(out_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


# What a plan folder holds: these files, and these folders of pages and figures.
_PLAN_FILES = frozenset({"sort_plan.csv", "stops.csv", "unassigned.csv", "rejects.csv",
                         "routes.geojson", "districts.geojson", "summary.json", "report.html",
                         "changes.csv", "delivered.csv", "on_board.csv"})
_PLAN_FOLDERS = {"maps": (".html",), "sheets": (".html",), "labels": (".html",),
                 "figures": (".png",), "inputs": (".csv", ".json")}


def _foreign(folder: Path) -> list[Path]:
    """Files in a folder that no plan writes."""
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder)
        owned = (len(rel.parts) == 1 and rel.name in _PLAN_FILES) or (
            len(rel.parts) == 2 and rel.parts[0] in _PLAN_FOLDERS
            and rel.suffix in _PLAN_FOLDERS[rel.parts[0]])
        if not owned:
            out.append(rel)
    return out


@contextlib.contextmanager
def plan_folder(out: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield an empty folder beside ``out`` to write a plan into; on success it replaces ``out``.

    The earlier plan in ``out`` stays whole until the new one is complete, then goes (only
    the files a plan writes: with ``force``, other files move into the new folder; without
    it, a folder holding any is refused before anything is written). An error while writing
    removes the half-written folder and leaves ``out`` as it was.
    """
    out = Path(out)
    foreign = _foreign(out) if out.is_dir() else []
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder for the plan")
    if foreign and not force:
        shown = ", ".join(str(p) for p in foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise InputError(f"--out {out}: the folder holds {len(foreign)} file(s) no plan writes "
                         f"({shown}); give an empty folder or a plan's, or --force to keep "
                         "them beside the new plan")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    staging = out.parent / f".{out.name}.writing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        for rel in foreign:  # kept, with --force
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / rel, staging / rel)
        replace_plan_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_stale(out: Path) -> None:
    """Remove what runs stopped by force left beside ``out`` (their process is gone)."""
    for left in out.parent.glob(f".{out.name}.*-*"):
        kind, _, pid = left.name.rpartition("-")
        if not (kind.endswith((".writing", ".old")) and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(left, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


def replace_plan_folder(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` in the place of ``out``, the earlier plan going last."""
    if not out.exists():
        new.rename(out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write_figure(path: Path, figure: Any, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG (no software tag, so the bytes are reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=dpi, metadata={"Software": None})
    return path


def write_geojson(path: Path, frame: Any) -> None:
    """Write a GeoDataFrame as GeoJSON (EPSG:4326)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_file(path, driver="GeoJSON")


def read_previous(folder: Path) -> tuple[list[float], list[float], list[str]]:
    """Return (lon, lat, courier_id) of every stop in an earlier plan folder's ``stops.csv``."""
    path = Path(folder) / "stops.csv"
    if not path.is_file():
        raise InputError(f"--previous {folder}: no stops.csv in it; give yesterday's plan --out folder")
    table = read_table(path)
    missing = [c for c in ("courier_id", "lon", "lat") if c not in table.columns]
    if missing:
        raise InputError(f"{path}: lacks column(s) {', '.join(missing)}; it must be a courier stops.csv")
    try:
        lon = table["lon"].astype(float).tolist()
        lat = table["lat"].astype(float).tolist()
    except ValueError as exc:
        raise InputError(f"{path}: lon/lat are not numbers: {exc}") from None
    return lon, lat, table["courier_id"].tolist()


def read_polygons(path: Path) -> Any:
    """Read district polygons (GeoJSON, GeoPackage, ...) as a GeoDataFrame."""
    import geopandas as gpd

    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        return gpd.read_file(path)
    except Exception as exc:  # any parser error is the user's file, not our bug
        raise InputError(f"{path}: cannot read district polygons: {exc}") from None


# --------------------------------------------------------------------------------------------
# A plan's own inputs (inputs/), so that `courier replan` needs nothing but the folder


INPUTS_META = "inputs/plan.json"


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


def input_files(day: Day, meta: Mapping[str, Any]) -> dict[str, str]:
    """Return inputs/parcels.csv, couriers.csv, lockers.csv and plan.json of a planned day.

    The parcels and couriers in the schema ``courier plan`` reads (every valid row, as
    validated: windows, ready times and coordinates as planned), so a re-plan reads them the
    same way; ``meta`` (streets, station, configuration) goes into plan.json.
    """
    parcels = [(p.parcel_id, repr(p.lon), repr(p.lat), repr(p.weight_kg), repr(p.volume_l),
                ";".join(f"{hhmmss(a)}-{hhmmss(b)}" for a, b in p.windows_s), p.kind,
                int(p.priority), int(p.locker_ok), p.address, p.recipient, p.phone, p.notes,
                hhmmss(p.ready_s) if p.ready_s else "") for p in day.parcels]
    couriers = [(c.courier_id, c.vehicle, c.capacity_parcels, repr(c.capacity_kg),
                 repr(c.capacity_l), hhmmss(c.shift_start_s), hhmmss(c.shift_end_s),
                 c.max_trips, c.name,
                 hhmmss(c.lunch_from_s) if c.lunch_from_s is not None else "",
                 hhmmss(c.lunch_to_s) if c.lunch_to_s is not None else "", _blank(c.lunch_min))
                for c in day.couriers]
    files = {
        "inputs/parcels.csv": _csv_text(
            ("parcel_id", "lon", "lat", "weight_kg", "volume_l", "windows", "kind", "priority",
             "locker_ok", "address", "recipient", "phone", "notes", "ready_at"), parcels),
        "inputs/couriers.csv": _csv_text(
            ("courier_id", "vehicle", "capacity_parcels", "capacity_kg", "capacity_l",
             "shift_start", "shift_end", "max_trips", "name", "lunch_from", "lunch_to",
             "lunch_min"), couriers),
        INPUTS_META: json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
    }
    if day.lockers:
        files["inputs/lockers.csv"] = _csv_text(
            ("locker_id", "lon", "lat", "capacity_parcels", "name"),
            [(lk.locker_id, repr(lk.lon), repr(lk.lat), lk.capacity_parcels, lk.name)
             for lk in day.lockers])
    return files


def _seconds(text: str) -> int:
    return parse_time_s(text) if text else 0


def _records(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV this package wrote (UTF-8, BOM or not), every cell as text."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return list(table.to_dict("records"))


def read_trips(folder: Path) -> tuple[EarlierTrip, ...]:
    """The trips of a plan folder: stops.csv's visits with routes.geojson's departures and
    returns, and a re-plan's on_board.csv (the rest of the trips that were under way)."""
    routes = json.loads((folder / "routes.geojson").read_text(encoding="utf-8"))["features"]
    times = {(f["properties"]["courier_id"], int(f["properties"]["trip"])):
             (_seconds(f["properties"]["depart"]), _seconds(f["properties"]["return"]))
             for f in routes}
    visits: dict[tuple[str, int], list[EarlierVisit]] = {}
    for name in ("stops.csv", "on_board.csv"):
        path = folder / name
        if not path.is_file():
            continue
        for r in _records(path):
            key = (r["courier_id"], int(r["trip"]))
            visits.setdefault(key, []).append(EarlierVisit(
                stop_id=r["stop_id"], seq=int(r["seq"]), parcel_ids=tuple(r["parcel_ids"].split()),
                start_s=int(r["start_s"]), departure_s=int(r["departure_s"]),
                lon=float(r["lon"]), lat=float(r["lat"])))
            if "trip_depart_s" in r:
                times[key] = (int(r["trip_depart_s"]), int(r["trip_return_s"]))
    return tuple(EarlierTrip(cid, trip, *times[(cid, trip)],
                             tuple(sorted(vs, key=lambda v: v.seq)))
                 for (cid, trip), vs in sorted(visits.items()))


def read_delivered(folder: Path) -> tuple[Delivered, ...]:
    """A re-plan folder's delivered.csv (none in a first plan's folder)."""
    path = folder / "delivered.csv"
    if not path.is_file():
        return ()
    return tuple(Delivered(r["parcel_id"], r["courier_id"], int(r["trip"] or 0),
                           _seconds(r["delivered_at"]), r["source"])
                 for r in _records(path))


def delivered_table(items: Sequence[Delivered]) -> Table:
    """``delivered.csv``: parcels handed over before a re-plan: by whom, when, known how."""
    return (("parcel_id", "courier_id", "trip", "delivered_at", "source"),
            [(d.parcel_id, d.courier_id, d.trip, hhmmss(d.at_s), d.source) for d in items])


def on_board_table(items: Sequence[OnBoard]) -> Table:
    """``on_board.csv``: the visits left of the trips under way at a re-plan (stops.csv's
    columns, times as planned, and the trip's departure and expected return)."""
    rows = []
    for ob in items:
        for v in ob.visits:
            rows.append((ob.courier_id, ob.trip, v.seq, v.stop_id, f"{v.lon:.6f}", f"{v.lat:.6f}",
                         hhmmss(v.start_s), hhmmss(v.departure_s), " ".join(v.parcel_ids),
                         v.start_s, v.start_s, v.departure_s,
                         ob.depart_s, ob.back_s))
    return (("courier_id", "trip", "seq", "stop_id", "lon", "lat", "arrival", "departure",
             "parcel_ids", "arrival_s", "start_s", "departure_s", "trip_depart_s",
             "trip_return_s"), rows)


def read_json(path: Path) -> Any:
    """A JSON file of ours (plan.json, summary.json); a broken one is bad input, not a crash."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as JSON ({exc})") from None


def read_earlier(folder: Path, *, parcels: Sequence[Parcel], couriers: Sequence[Courier],
                 station: tuple[float, float], reload_s: int) -> Earlier:
    """What an earlier plan's folder says (see :class:`courier.replanning.Earlier`)."""
    for name in ("sort_plan.csv", "stops.csv", "routes.geojson", "unassigned.csv",
                 "summary.json"):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: {name} is missing: not a whole plan folder")
    trips = read_trips(folder)
    assignment = {r["parcel_id"]: (r["courier_id"], int(r["trip"]))
                  for r in _records(folder / "sort_plan.csv")}
    for trip in trips:  # the trips that were under way (a re-plan's on_board.csv)
        for v in trip.visits:
            for pid in v.parcel_ids:
                assignment.setdefault(pid, (trip.courier_id, trip.trip))
    summary = read_json(folder / "summary.json")
    breaks = {}
    for row in summary.get("couriers", []):
        lunch = str(row.get("lunch") or "")
        if "-" in lunch:
            a, b = lunch.split("-", 1)
            breaks[row["courier_id"]] = (parse_time_s(a), parse_time_s(b))
    counts = summary.get("parcels", {})
    return Earlier(parcels=tuple(parcels), couriers=tuple(couriers), station_lonlat=station,
                   trips=trips, assignment=assignment,
                   unassigned=frozenset(r["parcel_id"] for r in
                                        _records(folder / "unassigned.csv")),
                   delivered=read_delivered(folder), breaks=breaks,
                   input_rows=int(counts.get("input", len(parcels))),
                   rejected=int(counts.get("rejected", 0)), reload_s=reload_s)


def clashing_ids(parcels: Sequence[Parcel], known: set[str],
                 ) -> tuple[tuple[Parcel, ...], tuple[Reject, ...]]:
    """Split new parcels into those with new ids and rejects for ids the day already has."""
    keep = tuple(p for p in parcels if p.parcel_id not in known)
    clash = tuple(Reject(row=p.row, parcel_id=p.parcel_id, field="parcel_id", value=p.parcel_id,
                         reason="this parcel id is already in today's plan: a new parcel needs "
                                "a new id")
                  for p in parcels if p.parcel_id in known)
    return keep, clash


_STATUSES = ("delivered", "failed", "returned")


def read_status(table: pd.DataFrame, *, file: str, parcels: set[str]) -> Status:
    """Validate a status table: ``parcel_id,status`` rows and ``courier_id,lon,lat,at`` rows.

    Raises one InputError naming every bad row (file, row, field, value, what is allowed).
    """
    cols = set(table.columns)
    if not ({"parcel_id", "status"} <= cols or {"courier_id", "lon", "lat", "at"} <= cols):
        raise InputError(f"{file}: a status file needs the columns parcel_id,status and/or "
                         f"courier_id,lon,lat,at; found {', '.join(sorted(cols - {'__row__'}))}")
    told: dict[str, str] = {}
    where: dict[str, tuple[float, float, int]] = {}
    bad: list[str] = []
    for r in table.to_dict("records"):
        row = r.get("__row__", "?")
        pid = str(r.get("parcel_id", "") or "").strip()
        if pid:
            value = str(r.get("status", "")).strip().lower()
            if pid not in parcels:
                bad.append(f"row {row}, parcel_id {pid!r}: not a parcel of the earlier plan")
            elif value not in _STATUSES:
                bad.append(f"row {row}, status {value!r}: allowed: {', '.join(_STATUSES)}")
            else:
                told[pid] = value
        cid = str(r.get("courier_id", "") or "").strip()
        if cid and not pid:
            try:
                lon, lat = float(r["lon"]), float(r["lat"])
                at = parse_time_s(str(r["at"]))
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError("lon must be -180..180 and lat -90..90")
            except (KeyError, ValueError) as exc:
                bad.append(f"row {row}, courier {cid!r} lon/lat/at: {exc}")
                continue
            where[cid] = (lon, lat, at)
    if bad:
        raise InputError(f"{file}: " + "; ".join(bad[:20])
                         + (f" (and {len(bad) - 20} more)" if len(bad) > 20 else ""))
    return Status(parcels=told, positions=where)
