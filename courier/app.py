"""The application layer: read a day's inputs, plan it, write every output.

``courier plan``, :func:`courier.plan`, ``courier bench load`` and ``courier bench city`` all go
through here, so a plan made from files, from DataFrames or inside a benchmark is the same
plan. Inputs come as paths or as objects (pandas DataFrames, GeoDataFrames, networkx/OSMnx
graphs); :func:`read_inputs` validates them into a :class:`~courier.model.Day` and street
graphs, :func:`run` plans them, and :class:`Plan` holds the result with its configuration and
summary and writes it out.
"""

from __future__ import annotations

import importlib.resources
import platform
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from courier import io
from courier.config import PROFILES, Coords, PlanConfig, VehicleProfile, load_profiles
from courier.errors import InputError
from courier.i18n import Text, text_for
from courier.model import Day, DayPlan, StreetGraph

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from distributed import Client

    from courier.model import Courier, Locker, Parcel, Reject
    from courier.replanning import Earlier, Status

__all__ = [
    "DEMO",
    "Inputs",
    "Plan",
    "ReadOptions",
    "Source",
    "demo_inputs",
    "plan",
    "read_inputs",
    "run",
]

StreetsInput = Any  # a path, a networkx graph, a StreetGraph, or {profile: StreetGraph}
TableInput = Any  # a path or a pandas DataFrame / GeoDataFrame


@dataclass(frozen=True, slots=True)
class Demo:
    """The bundled demo: a Double-11 morning at a Futian station, synthetic parcels, seeded."""

    parcels: int = 900
    couriers: int = 6
    seed: int = 11
    streets_file: str = "shenzhen_futian_drive.osm.gz"


DEMO = Demo()


def demo_streets() -> Path:
    """Return the path of the demo's street extract (shipped in the package)."""
    resource = importlib.resources.files("courier.demo_data") / DEMO.streets_file
    path = Path(str(resource))
    if not path.is_file():
        raise InputError(f"the demo's street file {DEMO.streets_file} is missing from the "
                         "installed package; reinstall courier")
    return path


@dataclass(frozen=True, slots=True)
class Source:
    """Where one input came from, as summary.json records it: enough to find it again.

    ``kind`` is ``file`` (with the file's SHA-256), ``table`` (an in-memory DataFrame),
    ``graph`` (an in-memory networkx or prepared graph) or ``demo`` (synthesised, seeded).
    """

    kind: str
    name: str
    sha256: str = ""
    rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.sha256:
            out["sha256"] = self.sha256
        if self.rows is not None:
            out["rows"] = self.rows
        return out


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How inputs are read: vehicle profiles, CSV encoding, street cache and crop."""

    profiles: Mapping[str, VehicleProfile] = field(default_factory=lambda: dict(PROFILES))
    encoding: str | None = None
    sheet: str | None = None  # of an Excel workbook (default: the first)
    cache_dir: Path | None = None
    bbox: tuple[float, float, float, float] | None = None
    # The trucks' ready times (seconds of the day) that a parcels' ``wave`` column numbers 1..
    waves_s: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class Inputs:
    """A day's validated inputs, the street graph per vehicle profile, and where they came from."""

    day: Day
    graphs: Mapping[str, StreetGraph]
    sources: Mapping[str, Source]
    timings_s: Mapping[str, float] = field(default_factory=dict)
    demo: bool = False
    hints: tuple[str, ...] = ()  # what the parcels' rejected rows have in common


def read_inputs(*, streets: StreetsInput, parcels: TableInput, couriers: TableInput,
                station: Any = None, lockers: TableInput = None, districts: Any = None,
                previous: Any = None, options: ReadOptions | None = None) -> Inputs:
    """Read and validate a day's inputs; raise :class:`~courier.errors.InputError` on bad input.

    Parameters
    ----------
    streets
        ``.osm``/``.osm.gz``/``.osm.bz2``/``.osm.pbf``/``.graphml`` path, a networkx graph as
        OSMnx builds it, a prepared :class:`~courier.model.StreetGraph`, or a mapping of one
        prepared graph per vehicle profile.
    parcels, couriers, lockers
        A path (CSV, GeoJSON, GeoParquet; couriers also TOML) or a DataFrame (empty cells may
        be NaN) or GeoDataFrame of points.
    station
        ``(lon, lat)``, ``"LON,LAT"`` or None (the street node nearest the network's centre).
    districts
        Polygons with a ``courier_id`` column: a path or a GeoDataFrame.
    previous
        Yesterday's plan: its folder (its ``stops.csv``), a :class:`Plan`, or
        ``{location key: courier_id}``.
    """
    from courier.parcels import (
        coordinate_hints,
        validate_couriers,
        validate_lockers,
        validate_parcels,
    )

    opts = options or ReadOptions()
    sources: dict[str, Source] = {}
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    roster_table, sources["couriers"] = _table(couriers, "couriers", opts, roster=True)
    roster = validate_couriers(roster_table, file=sources["couriers"].name, profiles=opts.profiles)
    graphs, sources["streets"] = _graphs(streets, {c.vehicle for c in roster}, opts)
    timings["read_streets"] = time.perf_counter() - tick

    tick = time.perf_counter()
    table, sources["parcels"] = _table(parcels, "parcels", opts)
    valid, rejects = validate_parcels(table, file=sources["parcels"].name, waves_s=opts.waves_s)
    hints = coordinate_hints(table)
    if not valid:
        _nothing_to_plan(sources["parcels"].name, len(table), rejects, hints)
    locker_rows: tuple[Any, ...] = ()
    if lockers is not None:
        locker_table, sources["lockers"] = _table(lockers, "lockers", opts)
        locker_rows = validate_lockers(locker_table, file=sources["lockers"].name)
    areas, areas_name = _districts(districts, sources)
    assignment = _previous(previous, sources)
    primary = graphs[roster[0].vehicle]
    day = Day(parcels=valid, couriers=roster, station_lonlat=_station(station, primary),
              rejects=rejects, lockers=locker_rows, input_count=len(table), districts=areas,
              districts_source=areas_name, previous=assignment)
    timings["read_input"] = time.perf_counter() - tick
    return Inputs(day=day, graphs=graphs, sources=sources, timings_s=timings,
                  hints=tuple(hints))


def _nothing_to_plan(name: str, rows: int, rejects: Sequence[Any], hints: Sequence[str]) -> None:
    """Refuse a day without a single valid parcel (exit 2), saying why the rows failed."""
    from courier.parcels import rejects_brief

    if rows == 0:
        raise InputError(f"{name}: the file has a header but no parcel rows")
    reasons = "; ".join(f"{reason} ({count} rows)" for reason, count in rejects_brief(rejects))
    raise InputError(f"{name}: none of the {rows} rows is a valid parcel: {reasons}"
                     + "".join(f"\nhint: {h}" for h in hints))


def demo_inputs(*, seed: int = 0, options: ReadOptions | None = None) -> Inputs:
    """Return the bundled demo's inputs: real Futian streets, a synthetic Double-11 morning.

    ``seed`` varies the parcels (seed 0 is the demo of the README).
    """
    from courier.streets import load_graph
    from courier.synth import synth_couriers, synth_lockers, synth_parcels

    opts = options or ReadOptions()
    path = demo_streets()
    graph = load_graph(path, profile=opts.profiles["etricycle"], cache_dir=opts.cache_dir,
                       bbox=opts.bbox)
    day_seed = DEMO.seed + seed
    inputs = read_inputs(
        streets={"etricycle": graph},
        parcels=synth_parcels(graph, parcels=DEMO.parcels, seed=day_seed),
        couriers=synth_couriers(parcels=DEMO.parcels, couriers=DEMO.couriers),
        lockers=synth_lockers(graph, parcels=DEMO.parcels, seed=day_seed), options=opts)
    demo = Source(kind="demo", name=f"synthetic (courier synth, seed {day_seed})")
    sources = {**inputs.sources, "parcels": demo, "couriers": demo, "lockers": demo,
               "streets": Source(kind="file", name=f"demo: {DEMO.streets_file}",
                                 sha256=io.file_sha256(path))}
    return replace(inputs, sources=sources, demo=True)


def run(inputs: Inputs, config: PlanConfig, *, client: Client | None = None,
        progress: Any = None) -> Plan:
    """Plan ``inputs`` with ``config`` (on ``client``'s Dask cluster when given).

    ``progress(stage, done, total)`` is called as the plan goes (a terminal display).
    """
    from courier import pipeline

    tick = time.perf_counter()
    extra = {"progress": progress} if progress is not None else {}
    _import_writers_meanwhile()
    result = pipeline.plan(inputs.day, inputs.graphs, config, client=client, **extra)
    return _as_plan(inputs, config, result, time.perf_counter() - tick)


def _import_writers_meanwhile() -> None:
    """Import what writes a plan's pages (folium, Matplotlib and its font list) in a thread.

    They take about 1.2 s to import, which the writing paid after the plan; during the plan
    this thread mostly waits for the searches in worker processes, so the import is free.
    """
    def load() -> None:
        from matplotlib import font_manager
        from matplotlib.backends import backend_agg  # noqa: F401

        from courier import labels, maps, report  # noqa: F401

        font_manager.fontManager.ttflist  # noqa: B018  (the font list is read on first use)

    threading.Thread(target=load, name="courier-import-writers", daemon=True).start()


def _as_plan(inputs: Inputs, config: PlanConfig, result: DayPlan, plan_s: float, *,
             day: Day | None = None) -> Plan:
    """The Plan of a planned day: its summary, districts and what re-planning needs."""
    from courier import pipeline, report

    graph = pipeline.primary_graph(inputs.graphs, inputs.day)
    timings = {**inputs.timings_s, **result.timings_s, "plan": plan_s}
    timings["total"] = sum(inputs.timings_s.values()) + plan_s
    summary = report.summary(result, previous=inputs.day.previous)
    summary.update({
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "warnings": list(result.warnings),
        "config": config.to_dict(),
        "inputs": {name: src.to_dict() for name, src in inputs.sources.items()},
        "versions": _versions(),
        "demo": inputs.demo,
        "rejects": _rejects_summary(result, inputs.hints),
    })
    return Plan(result=result, config=config, graph=graph, sources=dict(inputs.sources),
                summary=summary, districts=_district_frame(result, graph, inputs.day),
                day=day or inputs.day, meta=_meta(inputs, config))


def _meta(inputs: Inputs, config: PlanConfig) -> dict[str, Any]:
    """inputs/plan.json: where the streets are (and their hash), the station, the
    configuration: with inputs/parcels.csv and couriers.csv all a re-plan needs."""
    streets = inputs.sources.get("streets", Source(kind="graph", name=""))
    path = (str(demo_streets()) if inputs.demo else
            str(Path(streets.name).resolve()) if streets.kind == "file" else "")
    districts = inputs.sources.get("districts")
    return {
        "format": 1,
        "streets": {"path": path, "sha256": streets.sha256, "kind": streets.kind,
                    "demo": inputs.demo},
        "station": list(inputs.day.station_lonlat),
        "config": config.to_dict(),
        "districts": (str(Path(districts.name).resolve())
                      if districts is not None and districts.kind == "file" else None),
    }


@dataclass(frozen=True, eq=False)
class Plan:
    """A planned day: the result, the configuration it was made with, and its summary.

    ``summary`` is the dict written as ``summary.json`` (parcels in = planned + unassigned +
    rejected, totals, per courier, timings, warnings, the configuration and the inputs with
    their SHA-256). ``result`` holds the frozen plan itself (:class:`~courier.model.DayPlan`);
    ``graph`` is the street graph the parcels were snapped to; ``districts`` one polygon per
    courier (or the station's own polygons).
    """

    result: DayPlan
    config: PlanConfig
    graph: StreetGraph
    sources: Mapping[str, Source]
    summary: dict[str, Any]
    districts: gpd.GeoDataFrame | None = None
    # The day as read (inputs/ of the folder) and inputs/plan.json, for `courier replan`.
    day: Day | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    # A re-plan's own tables: changes.csv, delivered.csv, on_board.csv.
    tables: Mapping[str, io.Table] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the station manager should know that did not stop the plan."""
        return self.result.warnings

    def to_frames(self) -> dict[str, Any]:
        """Return the plan's tables as DataFrames: ``sort_plan``, ``stops``, ``unassigned``,
        ``rejects``; ``routes`` (a GeoDataFrame of LineStrings along the streets, EPSG:4326)
        and ``districts`` (polygons; empty without stops)."""
        import geopandas as gpd
        import pandas as pd

        tables = {
            "sort_plan": io.sort_plan_table(self.result),
            "stops": io.stops_table(self.result),
            "unassigned": io.unassigned_table(self.result.unassigned),
            "rejects": io.rejects_table(self.result.rejects),
        }
        frames: dict[str, Any] = {name: pd.DataFrame(rows, columns=list(header))
                                  for name, (header, rows) in tables.items()}
        features = io.routes_features(self.result)["features"]
        frames["routes"] = (gpd.GeoDataFrame.from_features(features, crs=4326) if features else
                            gpd.GeoDataFrame({"courier_id": [], "trip": []}, geometry=[], crs=4326))
        frames["districts"] = (self.districts if self.districts is not None
                               else gpd.GeoDataFrame({"courier_id": []}, geometry=[], crs=4326))
        return frames

    def write(self, out_dir: Path | str, *, tiles: str = "osm", force: bool = False,
              lang: str = "zh", csv_bom: bool = True) -> list[Path]:
        """Write every file ``courier plan`` writes into ``out_dir``; return the paths.

        sort_plan.csv, stops.csv, unassigned.csv, rejects.csv, routes.geojson,
        districts.geojson (automatic districts), summary.json, report.html with its figures,
        sheets/sort-<id>.html, sheets/chute-<n>.html, labels/labels-<id>.html (parcel labels
        with QR codes) and maps/overview.html, maps/courier-<id>.html (``tiles``: osm, amap or
        none for the map background).

        ``lang`` (``zh`` or ``en``) is the language of every page; ``csv_bom`` starts each CSV
        with a UTF-8 byte-order mark, which Excel on a Chinese Windows needs to read it as
        UTF-8 (our readers, pandas' included, accept it).

        The plan is written into a folder beside ``out_dir`` and moved into place at the end
        (:func:`courier.io.replace_plan_folder`): the folder holds exactly one plan, and a run
        stopped halfway leaves the earlier plan whole. A folder holding files no plan writes
        is refused unless ``force`` (those files are kept).
        """
        out = Path(out_dir)
        t = text_for(lang)  # before the folder is touched: an unknown language writes nothing
        with io.plan_folder(out, force=force) as staging:
            written = self._write_into(staging, tiles, t, csv_bom)
        return [out / p.relative_to(staging) for p in written]

    def _write_into(self, out: Path, tiles: str, t: Text, csv_bom: bool) -> list[Path]:
        from courier import labels, maps, report

        written = io.write_plan_tables(out, self.result, bom=csv_bom)
        for name, (header, rows) in self.tables.items():
            io.write_csv(out / name, header, rows, bom=csv_bom)
            written.append(out / name)
        if self.day is not None and self.meta:
            written.extend(io.write_files(out, io.input_files(self.day, self.meta)))
        if self.districts is not None and "districts" not in self.sources:  # automatic ones
            io.write_geojson(out / "districts.geojson", self.districts)
            written.append(out / "districts.geojson")
        io.write_json(out / "summary.json", self.summary)
        written.append(out / "summary.json")
        pages: dict[str, str | bytes] = {}
        with ThreadPoolExecutor(max_workers=1) as side:
            # The labels' QR codes are drawn in worker processes (a 20k re-plan's 11,000 take
            # 2.5 s on two cores): they are drawn while this thread builds maps and report.
            label_pages = side.submit(labels.label_files, self.result, t=t)
            pages.update(maps.map_pages(self.result, districts=self.districts, tiles=tiles,  # type: ignore[arg-type]
                                        graph=self.graph, t=t))
            pages.update(report.report_files(self.result, self.summary, t=t))
            pages.update(report.sort_sheet_files(self.result, t=t))
            pages.update(label_pages.result())
        written.extend(io.write_files(out, pages))
        return written


def plan(*, streets: StreetsInput, parcels: TableInput, couriers: TableInput,
         station: Any = None, lockers: TableInput = None, districts: Any = None,
         previous: Any = None, **options: Any) -> Plan:
    """Plan a delivery day; the library's entry point (``courier.plan``).

    Parameters
    ----------
    streets
        A street file (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``, ``.graphml``) or a
        networkx ``MultiDiGraph``/``DiGraph`` as OSMnx builds it (``x``/``y`` on nodes;
        ``length``, ``highway``, ``oneway``, ``maxspeed`` on edges, as present).
    parcels, couriers, lockers
        A path or a pandas DataFrame (empty cells may be NaN, as ``pd.read_csv`` gives them)
        or a GeoDataFrame of points; the columns of the README.
    station
        ``(lon, lat)`` or ``"LON,LAT"``; default: the street node nearest the network's centre.
    districts
        The station's district polygons (a path or a GeoDataFrame with ``courier_id``).
    previous
        Yesterday's plan (its folder or its :class:`Plan`): keep couriers in yesterday's areas.
    **options
        Fields of :class:`~courier.config.PlanConfig` (``time_limit_s``, ``seed``,
        ``solution_limit``, ``solver``, ``coords``, ``lunch``, ``auto_districts``,
        ``rebalance``, ...), checked as the CLI checks them; also ``config`` (a PlanConfig to
        start from), ``client`` (a Dask client), ``cache_dir``, ``encoding``, ``profiles`` (a
        TOML path or a mapping) and ``bbox``.

    Raises
    ------
    courier.InputError
        Bad input, with the same problems the CLI prints.
    """
    import warnings

    from courier.errors import CourierWarning

    config, read, client = _split_options(options)
    inputs = read_inputs(streets=streets, parcels=parcels, couriers=couriers, station=station,
                         lockers=lockers, districts=districts, previous=previous, options=read)
    result = run(inputs, config, client=client)
    for note in result.warnings:
        warnings.warn(note, CourierWarning, stacklevel=2)
    return result


_READ_OPTIONS = ("cache_dir", "encoding", "profiles", "bbox", "sheet", "waves_s")


def _split_options(options: Mapping[str, Any]) -> tuple[PlanConfig, ReadOptions, Any]:
    """Split ``courier.plan``'s keyword options into the configuration, reading and a client."""
    opts = dict(options)
    base = opts.pop("config", None) or PlanConfig()
    client = opts.pop("client", None)
    read: dict[str, Any] = {k: opts.pop(k) for k in _READ_OPTIONS if k in opts}
    if isinstance(read.get("profiles"), str | Path):
        read["profiles"] = load_profiles(Path(read["profiles"]))
    known = {f.name for f in fields(PlanConfig)}
    unknown = sorted(set(opts) - known)
    if unknown:
        allowed = sorted(known | {"config", "client", *_READ_OPTIONS})
        raise InputError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    current = {f.name: getattr(base, f.name) for f in fields(PlanConfig)}
    config = PlanConfig.from_mapping({**current, **opts}) if opts else base
    return config, ReadOptions(**read), client


def _district_frame(result: DayPlan, graph: StreetGraph, day: Day) -> gpd.GeoDataFrame | None:
    """The station's own polygons, or one polygon per courier around their stops."""
    if day.districts is not None:
        return day.districts
    if not result.stops or not result.districts:
        return None
    import numpy as np

    from courier.districts import district_polygons
    from courier.streets import project

    x, y = project(graph, [s.snap.lon for s in result.stops], [s.snap.lat for s in result.stops])
    return district_polygons(result.districts, result.stops, xy_m=np.column_stack([x, y]),
                             crs_metric=graph.crs_metric)


def _rejects_summary(result: DayPlan, hints: Sequence[str]) -> dict[str, Any]:
    from courier.parcels import rejects_brief

    return {"rows": len({r.row for r in result.rejects}),
            "top_reasons": [{"reason": reason, "rows": n}
                            for reason, n in rejects_brief(result.rejects)],
            "hints": list(hints)}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("courier", "ortools", "pyvrp", "networkx", "numpy", "scipy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out


def _table(value: TableInput, what: str, opts: ReadOptions,
           roster: bool = False) -> tuple[pd.DataFrame, Source]:
    """Return an input table as text cells with row numbers, and where it came from."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return io.as_table(value), Source(kind="table", name=f"{what} DataFrame", rows=len(value))
    if not isinstance(value, str | Path):
        raise InputError(f"{what}: expected a file path or a pandas DataFrame, got "
                         f"{type(value).__name__}")
    path = Path(value)
    if roster and path.suffix.lower() == ".toml":
        table = io.read_couriers_toml(path)
    else:
        table = io.read_table(path, encoding=opts.encoding, sheet=opts.sheet)
    return table, Source(kind="file", name=str(path), sha256=io.file_sha256(path), rows=len(table))


def _graphs(streets: StreetsInput, vehicles: set[str],
            opts: ReadOptions) -> tuple[dict[str, StreetGraph], Source]:
    """Return one street graph per vehicle profile of the roster, and where they came from."""
    from courier.streets import from_networkx, load_graph

    profiles = sorted(vehicles)
    if isinstance(streets, StreetGraph):
        streets = {streets.profile: streets}
    if isinstance(streets, Mapping):
        missing = [p for p in profiles if p not in streets]
        if missing:
            raise InputError(f"streets: no prepared graph for the roster's vehicle(s) "
                             f"{', '.join(missing)}; given: {', '.join(sorted(streets))}")
        first = streets[profiles[0]]
        return ({p: streets[p] for p in profiles},
                Source(kind="graph", name=first.source))
    if hasattr(streets, "nodes") and hasattr(streets, "edges"):
        graphs = {p: from_networkx(streets, profile=opts.profiles[p], bbox=opts.bbox)
                  for p in profiles}
        return graphs, Source(kind="graph", name=graphs[profiles[0]].source)
    if not isinstance(streets, str | Path):
        raise InputError("streets: expected a street file path or a networkx graph, got "
                         f"{type(streets).__name__}")
    path = Path(streets)
    graphs = {p: load_graph(path, profile=opts.profiles[p], cache_dir=opts.cache_dir,
                            bbox=opts.bbox) for p in profiles}
    return graphs, Source(kind="file", name=str(path), sha256=io.file_sha256(path))


def _station(value: Any, graph: StreetGraph) -> tuple[float, float]:
    """Return the station as (lon, lat): as given, or the node nearest the network's centre."""
    if value is None:
        from courier.synth import default_station

        st = default_station(graph)
        return st.lon, st.lat
    if isinstance(value, str):
        try:
            lon_s, lat_s = value.split(",")
            value = (float(lon_s), float(lat_s))
        except ValueError:
            raise InputError(f"station {value!r}: expected LON,LAT in degrees, "
                             "e.g. 114.0553,22.5431") from None
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"station {value!r}: expected (lon, lat) in degrees") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"station {lon},{lat}: lon must be -180..180 and lat -90..90")
    return lon, lat


def _districts(value: Any, sources: dict[str, Source]) -> tuple[Any, str]:
    """Return the station's district polygons (or None) and the name to report them by."""
    if value is None:
        return None, "districts"
    if isinstance(value, str | Path):
        path = Path(value)
        sources["districts"] = Source(kind="file", name=str(path),
                                      sha256=io.file_sha256(path) if path.is_file() else "")
        return io.read_polygons(path), str(path)
    if not hasattr(value, "geometry"):
        raise InputError("districts: expected a file path or a GeoDataFrame with courier_id, "
                         f"got {type(value).__name__}")
    sources["districts"] = Source(kind="table", name="districts GeoDataFrame", rows=len(value))
    return value, "districts GeoDataFrame"


def _previous(value: Any, sources: dict[str, Source]) -> dict[str, str] | None:
    """Return yesterday's {location key: courier} from a plan folder, a Plan, or as given."""
    from courier.districts import previous_assignment

    if value is None:
        return None
    if isinstance(value, Plan):
        stops = {s.stop_id: s for s in value.result.stops}
        points = [(stops[v.stop_id], t.courier_id) for t in value.result.trips for v in t.visits]
        sources["previous"] = Source(kind="table", name="previous Plan")
        return dict(previous_assignment([s.lon for s, _ in points], [s.lat for s, _ in points],
                                        [c for _, c in points]))
    if isinstance(value, Mapping):
        sources["previous"] = Source(kind="table", name="previous assignment", rows=len(value))
        return {str(k): str(v) for k, v in value.items()}
    folder = Path(value)
    lon, lat, cids = io.read_previous(folder)
    stops_csv = folder / "stops.csv"
    sources["previous"] = Source(kind="file", name=str(stops_csv), sha256=io.file_sha256(stops_csv))
    return dict(previous_assignment(lon, lat, cids))


# --------------------------------------------------------------------------------------------
# courier replan: the rest of the day from an earlier plan's folder


def replan(plan_dir: Path | str, *, now: str | int, status: TableInput = None,
           parcels: TableInput = None, couriers: TableInput = None, streets: StreetsInput = None,
           retry: bool = True, **more: Any) -> Plan:
    """Plan the rest of the day from an earlier plan's folder (see :mod:`courier.replanning`).

    ``now`` (``HH:MM`` or seconds of the day): what the plan had done by then is delivered,
    trips under way keep their parcels on board. ``status``: a table of ``parcel_id,status``
    (delivered, failed, returned) and/or ``courier_id,lon,lat,at`` rows (where a courier is).
    ``parcels``: new parcels (the next truck), same schema as ``plan``. ``couriers``: the
    roster for the rest of the day (a courier missing from it is off duty). ``streets``
    overrides the street file the folder names; ``retry=False`` leaves failed deliveries out.
    ``more``: ``time_limit_s`` (default: the earlier plan's), ``options`` (a
    :class:`ReadOptions`), ``client`` (Dask), ``progress``, ``keep_couriers`` (default True:
    parcels stay with their courier as far as balance allows; False plans the rest of the day
    from scratch, for comparison). Returns a :class:`Plan` of the rest of the day
    whose ``tables`` hold changes.csv, delivered.csv and on_board.csv, and whose summary
    counts delivered + on board + planned + unassigned + rejected = every parcel row so far.
    """
    from courier import pipeline, replanning
    from courier.text import hhmm, parse_time_s

    unknown = set(more) - {"time_limit_s", "options", "client", "progress", "keep_couriers"}
    if unknown:
        raise TypeError(f"replan() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    time_limit_s, options = more.get("time_limit_s"), more.get("options")
    client, progress = more.get("client"), more.get("progress")
    folder = Path(plan_dir)
    meta_path = folder / io.INPUTS_META
    if not meta_path.is_file():
        raise InputError(f"{folder}: no {io.INPUTS_META}: not a plan folder of this version of "
                         "courier (plan the day again, then re-plan from that folder)")
    meta = io.read_json(meta_path)
    opts = options or ReadOptions()
    try:
        now_s = int(now) if isinstance(now, int) else parse_time_s(str(now))
    except ValueError as exc:
        raise InputError(f"--now {now!r}: {exc}") from None
    config = PlanConfig.from_mapping(meta["config"])
    if time_limit_s is not None:
        config = replace(config, time_limit_s=float(time_limit_s))
    tick = time.perf_counter()
    got = _read_replan(folder, meta, opts, config, couriers=couriers, parcels=parcels,
                       status=status, streets=streets)
    if str(config.coords) in ("gcj02", "bd09"):
        # The folder keeps the day as given; its plan (stops.csv) is in WGS-84. Convert once,
        # so the parcels, the station, the lockers and the positions meet the streets and
        # the earlier stops in one datum.
        got = _in_wgs84(got, str(config.coords))
        config = replace(config, coords=Coords.WGS84)
    earlier, rest_roster, graphs = got.earlier, got.roster, got.graphs
    earlier_parcels, new_valid, new_rejects = earlier.parcels, got.new_parcels, got.new_rejects
    new_rows, sources, lockers = got.new_rows, got.sources, got.lockers
    told = got.status
    primary = graphs[(rest_roster or earlier.couriers)[0].vehicle]
    state = replanning.state_at(
        earlier, now_s, status=told, roster=rest_roster, new_parcels=new_valid, retry=retry,
        legs=_legs(primary), lunch_to_s=config.lunch.to_s)
    day = Day(parcels=state.free, couriers=state.roster, station_lonlat=earlier.station_lonlat,
              rejects=tuple(new_rejects), lockers=lockers,
              input_count=len(state.free) + len({r.row for r in new_rejects}),
              districts=io.read_polygons(Path(meta["districts"])) if meta.get("districts")
              else None, previous=state.previous if more.get("keep_couriers", True) else None)
    read_s = time.perf_counter() - tick
    tick = time.perf_counter()
    extra = {"progress": progress} if progress is not None else {}
    if state.free and state.roster:
        _import_writers_meanwhile()
        result = pipeline.plan(day, graphs, config, client=client, **extra)
    else:
        result = pipeline.empty_plan(day)
    result = replanning.renumber_trips(result, state.trips_done)
    left = {u.parcel_id for u in state.left_out}
    result = replace(result, unassigned=(*result.unassigned, *state.left_out),
                     parcels=(*result.parcels,
                              *(p for p in earlier_parcels if p.parcel_id in left)))
    inputs = Inputs(day=day, graphs=graphs, sources=sources, timings_s={"read": read_s})
    whole_day = replace(day, parcels=(*earlier_parcels, *new_valid), couriers=rest_roster)
    out = _as_plan(inputs, config, result, time.perf_counter() - tick, day=whole_day)
    on_board = sum(len(v.parcel_ids) for ob in state.on_board for v in ob.visits)
    rows = earlier.input_rows + new_rows
    parcels_count = {
        "input": rows, "delivered": len(state.delivered), "on_board": on_board,
        "planned": out.summary["parcels"]["planned"],
        "unassigned": len(result.unassigned),
        "rejected": earlier.rejected + len({r.row for r in new_rejects}),
    }
    parcels_count["adds_up"] = rows == sum(v for k, v in parcels_count.items() if k != "input")
    change_rows = replanning.changes(state, result)
    summary = {**out.summary, "parcels": parcels_count, "replan": {
        "earlier_plan": str(folder), "now": hhmm(now_s), "off_duty": list(state.off_duty),
        "new_parcels": len(new_valid), "changes": len(change_rows),
        **replanning.kept_couriers(state, change_rows)}}
    meta_out = {**meta, "config": config.to_dict(), "replan_of": str(folder.resolve())}
    return replace(out, summary=summary, meta=meta_out, tables={
        "changes.csv": (("parcel_id", "before_courier", "before_trip", "after_courier",
                         "after_trip", "why"), change_rows),
        "delivered.csv": io.delivered_table(state.delivered),
        "on_board.csv": io.on_board_table(state.on_board),
    })


@dataclass(frozen=True, eq=False)
class _ReplanInputs:
    """What a re-plan reads: the earlier folder, the rest of the roster, the streets, the new
    parcels (and their rejects and input rows) and the status file."""

    earlier: Earlier
    roster: tuple[Courier, ...]
    graphs: Mapping[str, StreetGraph]
    sources: dict[str, Source]
    lockers: tuple[Locker, ...]
    new_parcels: tuple[Parcel, ...]
    new_rejects: tuple[Reject, ...]
    new_rows: int
    status: Status | None


def _read_replan(folder: Path, meta: Mapping[str, Any], opts: ReadOptions, config: PlanConfig, *,
                 couriers: TableInput, parcels: TableInput, status: TableInput,
                 streets: StreetsInput) -> _ReplanInputs:
    """Read the earlier plan's folder and what the re-plan brings: roster, parcels, status."""
    from courier.parcels import validate_couriers, validate_lockers, validate_parcels

    def mine(name: str) -> tuple[Any, str]:
        path = folder / "inputs" / name
        return io.read_table(path), str(path)

    table, name = mine("couriers.csv")
    roster_in = validate_couriers(table, file=name, profiles=opts.profiles)
    rest_roster = roster_in
    sources: dict[str, Source] = {"earlier plan": Source(kind="file", name=str(folder))}
    if couriers is not None:
        table, sources["couriers"] = _table(couriers, "couriers", opts, roster=True)
        rest_roster = validate_couriers(table, file=sources["couriers"].name,
                                        profiles=opts.profiles)
    graphs, sources["streets"] = _graphs(_earlier_streets(meta, streets),
                                         {c.vehicle for c in (*roster_in, *rest_roster)}, opts)
    table, name = mine("parcels.csv")
    earlier_parcels, _ = validate_parcels(table, file=name)
    lockers: tuple[Locker, ...] = ()
    if (folder / "inputs" / "lockers.csv").is_file():
        table, name = mine("lockers.csv")
        lockers = validate_lockers(table, file=name)
    earlier = io.read_earlier(folder, parcels=earlier_parcels, couriers=roster_in,
                              station=tuple(meta["station"]), reload_s=config.reload_s)
    new_valid: tuple[Parcel, ...] = ()
    new_rejects: tuple[Reject, ...] = ()
    new_rows = 0
    if parcels is not None:
        table, sources["parcels"] = _table(parcels, "parcels", opts)
        new_rows = len(table)
        new_valid, new_rejects = validate_parcels(table, file=sources["parcels"].name,
                                                  waves_s=opts.waves_s)
        new_valid, clashes = io.clashing_ids(new_valid, {p.parcel_id for p in earlier_parcels})
        new_rejects = (*new_rejects, *clashes)
    told = None
    if status is not None:
        table, sources["status"] = _table(status, "status", opts)
        told = io.read_status(table, file=sources["status"].name,
                              parcels={p.parcel_id for p in earlier_parcels})
    return _ReplanInputs(earlier=earlier, roster=rest_roster, graphs=graphs, sources=sources,
                         lockers=lockers, new_parcels=tuple(new_valid),
                         new_rejects=tuple(new_rejects), new_rows=new_rows, status=told)


def _in_wgs84(got: _ReplanInputs, datum: str) -> _ReplanInputs:
    """A re-plan's inputs given in GCJ-02 or BD-09, converted to WGS-84."""
    from courier.coords import to_wgs84
    from courier.pipeline import to_wgs84 as day_to_wgs84
    from courier.replanning import Status as Told

    earlier = got.earlier
    day = day_to_wgs84(Day(parcels=(*earlier.parcels, *got.new_parcels), couriers=(),
                           station_lonlat=earlier.station_lonlat, lockers=got.lockers), datum)
    n = len(earlier.parcels)
    status = got.status
    if status is not None and status.positions:
        cids = sorted(status.positions)
        lon, lat = to_wgs84([status.positions[c][0] for c in cids],
                            [status.positions[c][1] for c in cids], datum)
        status = Told(parcels=status.parcels, positions={
            c: (float(lon[k]), float(lat[k]), status.positions[c][2]) for k, c in enumerate(cids)})
    return replace(got, earlier=replace(earlier, parcels=day.parcels[:n],
                                        station_lonlat=day.station_lonlat),
                   new_parcels=day.parcels[n:], lockers=day.lockers, status=status)


def _earlier_streets(meta: Mapping[str, Any], streets: StreetsInput) -> StreetsInput:
    """The street file a plan folder names, checked against its hash; ``streets`` wins."""
    if streets is not None:
        return streets
    info = meta.get("streets", {})
    if info.get("demo"):
        return demo_streets()
    path = Path(info.get("path") or "")
    if not info.get("path") or not path.is_file():
        named = info.get("path") or "(none: it was given as a graph)"
        raise InputError(f"the earlier plan's street file {named} is not there; give it "
                         "with --streets")
    if info.get("sha256") and io.file_sha256(path) != info["sha256"]:
        raise InputError(f"{path}: the street file changed since the earlier plan (its SHA-256 "
                         "differs); give the one it was planned on, or this one on purpose, "
                         "with --streets")
    return path


def _legs(graph: StreetGraph) -> Any:
    """Travel seconds between (lon, lat) points on ``graph``, for couriers on the way."""
    from courier.streets import snap_points, travel_matrix

    def legs(points: Sequence[tuple[float, float]]) -> Any:
        snaps = snap_points(graph, [p[0] for p in points], [p[1] for p in points])
        return travel_matrix(graph, snaps, keep_paths=False).time_s

    return legs
