"""The `courier` command: a thin shell of arguments -> configuration -> application -> print.

Heavy libraries are imported inside the commands so that ``courier --help`` is instant.
User errors exit with code 2 and a message naming the file, row and field; anything else
exits with 1 (set COURIER_DEBUG=1 to see the traceback). Every user error leaves through
:func:`_abort`.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from courier.config import Budget, Coords, Solver

if TYPE_CHECKING:
    from courier.app import Plan

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Last-mile sorting and route planning for delivery stations on peak days.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks for analysts.")
app.add_typer(bench_app, name="bench")
history_app = typer.Typer(no_args_is_help=True, help="Replay real delivery days against our plans.")
app.add_typer(history_app, name="history")

SCHEDULER_TIMEOUT_S = 20.0


class Tiles(enum.StrEnum):
    """Map backgrounds."""

    OSM = "osm"
    AMAP = "amap"
    NONE = "none"


class Lang(enum.StrEnum):
    """Languages of the pages (courier.i18n)."""

    ZH = "zh"
    EN = "en"


class YesNo(enum.StrEnum):
    """A yes/no option."""

    YES = "yes"
    NO = "no"


class HistoryFormat(enum.StrEnum):
    """Delivery-record formats of ``history compare``."""

    LADE = "lade"
    CSV = "csv"


def _abort(message: str, code: int = 2) -> NoReturn:
    """Print ``courier: message`` on stderr and exit with ``code``: the one way out on an error."""
    typer.echo(f"courier: {message}", err=True)
    raise typer.Exit(code)


def _cache_dir(no_cache: bool, cache_dir: Path | None) -> Path | None:
    if no_cache:
        return None
    if cache_dir is not None:
        return cache_dir
    env = os.environ.get("COURIER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "courier"


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        _abort(f"--bbox {text!r}: expected W,S,E,N in degrees, e.g. 113.95,22.48,114.09,22.60")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        _abort(f"--bbox {text!r}: need W < E within -180..180 and S < N within -90..90")
    return west, south, east, north


def _run(fn: Callable[[], None], *, quiet: bool = False) -> None:
    """Run a command body: InputError -> exit 2 with its message; other errors -> exit 1.

    ``quiet`` keeps the library's log warnings off the terminal too (the plan's warnings are
    in summary.json): "nothing but errors".
    """
    from courier.errors import InputError

    log = logging.getLogger("courier")
    level = log.level
    if quiet:
        log.setLevel(logging.ERROR)
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
    finally:
        log.setLevel(level)


@contextmanager
def _dask_client(scheduler: str | None, *, local: bool = False) -> Iterator[Any]:
    """Yield a Dask client of the scheduler at ``scheduler``; a LocalCluster if ``local``; else None."""
    if scheduler is None and not local:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is None:
        # 2 single-threaded worker processes: OR-Tools and the matrix code hold the GIL.
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        _abort(f"--scheduler {scheduler}: cannot connect to the Dask scheduler: {exc}", 1)
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
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds for the whole plan (I/O aside); default 30. Env: COURIER_TIME_LIMIT.", envvar="COURIER_TIME_LIMIT")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for everything random (the demo's parcels too); default 0.")] = None,
    solution_limit: Annotated[int | None, typer.Option("--solution-limit", help="Fix the work by hand: each solve stops after N solutions (PyVRP: N x 200 iterations), whatever the day's size.")] = None,
    budget: Annotated[Budget | None, typer.Option(help="What ends the search: work (the default: an amount sized to the day and the time limit, so the same inputs, seed and time limit give the same plan; the time limit a hard cap) or time (search to the time limit: a little better, not the same plan twice).")] = None,
    coords: Annotated[Coords | None, typer.Option(help="Datum of input coordinates: auto (the default: WGS-84, refused when they fit GCJ-02 markedly better), wgs84 (as given), gcj02 (Amap, Tencent) or bd09 (Baidu).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Encoding of CSV input (default: UTF-8, else GB18030).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Sheet of an Excel (.xlsx) input (default: the first).")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="TOML file of plan parameters (see courier.config.PlanConfig); flags win.")] = None,
    profiles_file: Annotated[Path | None, typer.Option("--profiles", help="TOML file overriding vehicle profiles.")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes for the district solves (0 = all cores, the default). A work budget is sized for this many cores (2 when not given).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT: solve the districts on that cluster instead of local processes. Env: COURIER_SCHEDULER.", envvar="COURIER_SCHEDULER")] = None,
    previous: Annotated[Path | None, typer.Option("--previous", help="Yesterday's plan folder (its stops.csv): keep couriers in yesterday's areas as far as balance allows.")] = None,
    lockers: Annotated[Path | None, typer.Option("--lockers", help="Parcel lockers CSV (locker_id, lon, lat[, capacity_parcels, name]): consenting doors may go there.")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="Crop the street file on import to W,S,E,N (degrees).")] = None,
    tiles: Annotated[Tiles, typer.Option(help="Map background: osm, amap or none.")] = Tiles.OSM,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of maps, sheets, labels and report: zh (the default) or en.")] = Lang.ZH,
    csv_bom: Annotated[YesNo, typer.Option("--csv-bom", help="Start CSV outputs with a UTF-8 byte-order mark, so Excel on a Chinese Windows reads them as UTF-8 (yes, the default) or not (no).")] = YesNo.YES,
    chutes: Annotated[int | None, typer.Option("--chutes", help="Chutes of the sort wall (default: one per courier); more than couriers splits the largest over two, fewer lets neighbours share.")] = None,
    waves: Annotated[str | None, typer.Option("--waves", help="The trucks' ready times HH:MM,HH:MM,... that a parcels' wave column (1, 2, ...) refers to; a parcel's own ready_at column is the other way. No trip leaves before its parcels are ready.")] = None,
    lunch: Annotated[str | None, typer.Option("--lunch", help="Lunch break FROM-TO/MINUTES, e.g. 11:00-13:30/30 (the default); 'none' for no lunch. couriers.csv lunch_from/lunch_to/lunch_min override it per courier.")] = None,
    solver: Annotated[Solver | None, typer.Option("--solver", help="Routing backend: pyvrp (default: shorter routes on the literature benchmarks) or ortools.")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Where prepared street graphs are cached. Env: COURIER_CACHE_DIR.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the street-graph cache.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that holds other files too (they are kept).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Plan a delivery day. Without --streets/--parcels/--couriers, plan the bundled demo."""

    def body() -> None:
        from courier import app as application
        from courier.config import LunchConfig, PlanConfig, load_profiles

        flags = {"time_limit_s": time_limit, "seed": seed, "solution_limit": solution_limit,
                 "budget": budget, "coords": coords, "workers": workers, "solver": solver,
                 "chutes": chutes,
                 "lunch": LunchConfig.parse(lunch) if lunch is not None else None}
        given = {k: v for k, v in flags.items() if v is not None}
        config = (PlanConfig.from_toml(config_file, **given) if config_file
                  else PlanConfig.from_mapping(given))
        read = application.ReadOptions(
            profiles=load_profiles(profiles_file) if profiles_file else application.PROFILES,
            encoding=encoding, sheet=sheet, cache_dir=_cache_dir(no_cache, cache_dir),
            bbox=_parse_bbox(bbox) if bbox else None, waves_s=_parse_waves(waves))
        inputs = _inputs(streets, parcels, couriers, seed=config.seed, read=read,
                         station=station, lockers=lockers, districts=districts,
                         previous=previous)
        with _dask_client(scheduler) as client, _stages(quiet, config.time_limit_s) as progress:
            result = application.run(inputs, config, client=client, progress=progress)
            progress("writing the plan", 0, 0)
            result.write(out, tiles=tiles.value, force=force, lang=lang.value,
                         csv_bom=csv_bom is YesNo.YES)
        if not quiet:
            _print_summary(result, out)

    _run(body, quiet=quiet)


@app.command()
def replan(
    plan_dir: Annotated[Path, typer.Option("--plan", help="The earlier plan's folder (courier plan's or courier replan's --out).")],
    now: Annotated[str, typer.Option("--now", help="The time of the re-plan, HH:MM: what the plan had done by then is delivered, trips under way keep their parcels on board.")],
    out: Annotated[Path, typer.Option(help="Folder for the rest of the day's plan.")],
    status: Annotated[Path | None, typer.Option(help="What really happened: parcel_id,status rows (delivered, failed, returned) and/or courier_id,lon,lat,at rows (where a courier is).")] = None,
    parcels: Annotated[Path | None, typer.Option(help="New parcels (the next truck), the same columns as for plan.")] = None,
    couriers: Annotated[Path | None, typer.Option(help="The roster for the rest of the day; a courier missing from it is off duty.")] = None,
    streets: Annotated[Path | None, typer.Option(help="Street file, instead of the one the earlier plan names.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds for the re-plan (I/O aside); default: the earlier plan's.", envvar="COURIER_TIME_LIMIT")] = None,
    no_retry: Annotated[bool, typer.Option("--no-retry", help="Failed deliveries are not tried again today.")] = False,
    waves: Annotated[str | None, typer.Option("--waves", help="The trucks' ready times a new parcels' wave column refers to.")] = None,
    tiles: Annotated[Tiles, typer.Option(help="Map background: osm, amap or none.")] = Tiles.OSM,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of maps, sheets, labels and report: zh or en.")] = Lang.ZH,
    csv_bom: Annotated[YesNo, typer.Option("--csv-bom", help="Start CSV outputs with a UTF-8 byte-order mark (yes) or not (no).")] = YesNo.YES,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that holds other files too.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Re-plan the rest of the day: a new truck, a courier out, deliveries that failed."""

    def body() -> None:
        from courier import app as application

        read = application.ReadOptions(cache_dir=_cache_dir(False, None),
                                       waves_s=_parse_waves(waves))
        with _stages(quiet, time_limit or 30.0) as progress:
            result = application.replan(plan_dir, now=now, status=status, parcels=parcels,
                                        couriers=couriers, streets=streets,
                                        time_limit_s=time_limit, retry=not no_retry,
                                        options=read, progress=progress)
            progress("writing the plan", 0, 0)
            result.write(out, tiles=tiles.value, force=force, lang=lang.value,
                         csv_bom=csv_bom is YesNo.YES)
        if not quiet:
            _print_summary(result, out)
            info, counts = result.summary["replan"], result.summary["parcels"]
            typer.echo(f"at {info['now']}: {counts['delivered']} delivered, {counts['on_board']} "
                       f"on board, {counts['planned']} planned for the rest of the day, "
                       f"{counts['unassigned']} unassigned, {counts['rejected']} rejected; "
                       f"{info['changes']} changes in {out / 'changes.csv'}")

    _run(body, quiet=quiet)


def _parse_waves(text: str | None) -> tuple[int, ...]:
    """``--waves 06:30,10:30,14:00`` as seconds of the day, in the order given (wave 1 first)."""
    from courier.errors import InputError
    from courier.text import parse_time_s

    if not text:
        return ()
    out = []
    for part in text.split(","):
        try:
            out.append(parse_time_s(part))
        except ValueError as exc:
            raise InputError(f"--waves: {part.strip()!r} is {exc}") from None
    return tuple(out)


def _inputs(streets: Path | None, parcels: Path | None, couriers: Path | None, *, seed: int,
            read: Any, **more: Any) -> Any:
    """The day's inputs: the three files, or none of them for the demo (which brings its own
    station, lockers and districts, so ``more`` must be empty then)."""
    from courier import app as application
    from courier.errors import InputError

    files = (streets, parcels, couriers)
    if all(f is None for f in files):
        extra = [f"--{name}" for name, value in more.items() if value is not None]
        if extra:
            raise InputError(f"{', '.join(extra)}: the demo brings its own station, lockers "
                             "and districts; give --streets, --parcels and --couriers to plan "
                             "your own station")
        return application.demo_inputs(seed=seed, options=read)
    if any(f is None for f in files):
        raise InputError("give all three of --streets, --parcels and --couriers, or none of "
                         "them to plan the bundled demo")
    return application.read_inputs(streets=streets, parcels=parcels, couriers=couriers,
                                   options=read, **more)


def _print_summary(result: Plan, out: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from courier.app import DEMO

    console = Console()
    data = result.summary
    if data.get("demo"):
        console.print(
            "[bold]Demo:[/] real OpenStreetMap streets of Futian, Shenzhen "
            "(© OpenStreetMap contributors, ODbL), shipped with courier: "
            f"{data['inputs']['streets']['name']}\n"
            f"       {DEMO.parcels} synthetic Double-11 parcels and {DEMO.couriers} couriers on "
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
        ("courier hours (paid)", f"{t['paid_s'] / 3600:.1f} h"),
        ("first departure after shift start", f"{data['day']['median_late_start_min']:.0f} min (median)"),
        ("waiting at doors", f"{data['day']['door_wait_share'] * 100:.1f} % of the paid day"),
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
    rejects = data.get("rejects", {})
    if rejects.get("rows"):
        reasons = "; ".join(f"{r['reason']} ({r['rows']})" for r in rejects["top_reasons"])
        console.print(f"[bold]{rejects['rows']} input rows rejected[/], listed in "
                      f"{escape(str(out / 'rejects.csv'))}: {escape(reasons)}", highlight=False)
    for hint in rejects.get("hints", []):
        console.print(f"[yellow]hint:[/] {escape(hint)}", highlight=False)
    for note in data.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder for parcels.csv and couriers.csv.")],
    streets: Annotated[Path | None, typer.Option(help="Street file (default: the demo's Futian extract).")] = None,
    parcels: Annotated[int | None, typer.Option(help="Number of parcels.")] = None,
    peak_factor: Annotated[float | None, typer.Option("--peak-factor", help="Volume as a multiple of a normal day (see SynthConfig.normal_day_parcels).")] = None,
    couriers: Annotated[int | None, typer.Option(help="Roster size (default: sized for the volume).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    waves: Annotated[str | None, typer.Option("--waves", help="Trucks' ready times HH:MM,HH:MM,...: each parcel comes on one and gets a ready_at column.")] = None,
    wave_shares: Annotated[str | None, typer.Option("--wave-shares", help="Share of the parcels on each wave, e.g. 0.5,0.3,0.2 (default: equal).")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="TOML file of SynthConfig fields.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
) -> None:
    """Write synthetic peak-day parcels and a matching courier roster for a street network."""

    def body() -> None:
        from courier import io
        from courier.app import demo_streets
        from courier.config import PROFILES
        from courier.errors import InputError
        from courier.streets import load_graph
        from courier.synth import SynthConfig, default_station, synth_couriers, synth_parcels

        if (parcels is None) == (peak_factor is None):
            raise InputError("give exactly one of --parcels N or --peak-factor F")
        config = SynthConfig.from_toml(config_file) if config_file else SynthConfig()
        count = parcels if parcels is not None else round(config.normal_day_parcels * (peak_factor or 1))
        streets_file = streets or demo_streets()
        graph = load_graph(streets_file, profile=PROFILES["etricycle"],
                           cache_dir=_cache_dir(no_cache, None))
        tick = time.perf_counter()
        waves_s = _parse_waves(waves)
        shares = _parse_list(wave_shares, "--wave-shares", float) or []
        if shares and len(shares) != len(waves_s):
            raise InputError(f"--wave-shares: {len(shares)} shares for {len(waves_s)} waves")
        table = synth_parcels(graph, parcels=count, seed=seed, config=config, waves_s=waves_s,
                              wave_shares=shares)
        roster = synth_couriers(parcels=count, config=config, couriers=couriers,
                                waves=len(waves_s))
        st = default_station(graph)
        io.write_files(out, {"parcels.csv": table.to_csv(index=False),
                             "couriers.csv": roster.to_csv(index=False),
                             "station.txt": f"{st.lon:.6f},{st.lat:.6f}\n"})
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
    solver: Annotated[Solver, typer.Option(help="Routing backend: pyvrp (default) or ortools.")] = Solver.PYVRP,
    baseline: Annotated[str | None, typer.Option(help="Also solve each instance with this solver, same budget, and compare: vroom (needs the bench extra).")] = None,
    vehicles_first: Annotated[bool, typer.Option("--vehicles-first/--distance-only", help="VRPTW: minimise vehicles first (the best-known convention), or distance only.")] = True,
) -> None:
    """Solve literature instances with the station engine and print the gap to the best known."""

    def body() -> None:
        from courier.bench import vrplib
        from courier.errors import InputError

        if baseline is not None and baseline not in vrplib.BASELINES:
            raise InputError(f"--baseline {baseline!r}: allowed: {', '.join(vrplib.BASELINES)}")
        if baseline == "vroom" and find_spec("vroom") is None:
            raise InputError("--baseline vroom needs pyvroom: pip install -e '.[bench]'")
        results = vrplib.run(files, time_limit_s=time_limit, seed=seed,
                             solutions_out=solutions_out, workers=workers, solver=solver.value,
                             baseline=baseline, vehicles_first=vehicles_first)
        typer.echo(vrplib.format_table(results, vehicles_first=vehicles_first))

    _run(body)


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
def _stages(quiet: bool,
            time_limit_s: float | None) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a callback showing a command's stages on a rich display: what it does, how many
    of its parts are done, and the time left of ``time_limit_s`` (without one, the time
    taken). Nothing when quiet or not on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda stage, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
    from rich.text import Text

    started = time.perf_counter()

    class TimeLeft(ProgressColumn):
        def render(self, task: Any) -> Text:
            taken = time.perf_counter() - started
            if time_limit_s is None:
                return Text(f"{taken:.0f} s")
            return Text(f"{max(0.0, time_limit_s - taken):.0f} s of {time_limit_s:g} s left")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeLeft(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def show(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        yield show


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


@bench_app.command("station")
def bench_station(
    out: Annotated[Path, typer.Option(help="Folder for bench.json.")],
    streets: Annotated[Path | None, typer.Option(help="Streets (with --parcels and --couriers; none of the three: the demo).")] = None,
    parcels: Annotated[Path | None, typer.Option(help="Parcels: CSV, GeoJSON or GeoParquet.")] = None,
    couriers: Annotated[Path | None, typer.Option(help="Courier roster: CSV or TOML.")] = None,
    station: Annotated[str | None, typer.Option(help="Station position LON,LAT.")] = None,
    previous: Annotated[Path | None, typer.Option("--previous", help="Yesterday's plan folder: stability of both plans against it.")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for each of the two plans.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of both plans (and of the demo's parcels).")] = 0,
    workers: Annotated[int, typer.Option(help="Cores for each plan (0 = all): the districts in parallel, and as many seeded joint searches.")] = 0,
    joint_solver: Annotated[Solver, typer.Option("--joint-solver", help="Solver of the joint problem: pyvrp (default) or ortools.")] = Solver.PYVRP,
    budget: Annotated[Budget, typer.Option(help="What ends the plan's searches: time (the default here: the same core-seconds as the joint solve) or work (the plan's own default, which stops at its work budget).")] = Budget.TIME,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table.")] = False,
) -> None:
    """Plan a day with districts and as one joint problem; km, courier-hours and the day's shape."""

    def body() -> None:
        from courier import app as application
        from courier import io
        from courier.bench import station as bench
        from courier.config import PlanConfig

        config = PlanConfig(time_limit_s=time_limit, seed=seed, workers=workers, budget=budget)
        inputs = _inputs(streets, parcels, couriers, seed=seed,
                         read=application.ReadOptions(cache_dir=_cache_dir(False, None)),
                         station=station, previous=previous)
        result = bench.run(inputs, config, solver=joint_solver.value)
        io.write_json(out / "bench.json", result)
        if not quiet:
            typer.echo(bench.format_table(result))

    _run(body, quiet=quiet)


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

        vols = _parse_list(volumes, "--volumes", int)
        factors = _parse_list(peak_factors, "--peak-factors", float)
        sweep = load.Sweep(volumes=tuple(vols) if vols else None,
                           peak_factors=tuple(factors) if factors else None, couriers=couriers,
                           time_limit_s=time_limit, search_time_limit_s=search_time_limit,
                           search=not no_search, seed=seed, workers=workers,
                           solution_limit=solution_limit)
        points = len(sweep.points())
        with _dask_client(scheduler) as client, _progress(quiet, points) as progress:
            result = load.run(streets, sweep, client=client, cache_dir=_cache_dir(False, None),
                              progress=progress,
                              checkpoint=lambda partial: load.write_json(partial, out))
        load.write(result, out)
        if not quiet:
            exp = result["time_exponent"]
            over = ", ".join(map(str, result["time_exponent_points"]))
            typer.echo(f"{points} points; time exponent {exp if exp is not None else 'n/a'}"
                       f"{f' (over {over} parcels)' if exp is not None else ''}; "
                       f"written to {out / 'bench.html'}")
            if result["note"]:
                typer.echo(f"note: {result['note']}")

    _run(body, quiet=quiet)


@bench_app.command("city")
def bench_city(
    streets: Annotated[Path, typer.Option(help="Street file (.osm, .osm.pbf, .graphml).")],
    out: Annotated[Path, typer.Option(help="Folder for bench.json, bench.html and the PNG plots.")],
    stations: Annotated[int, typer.Option(help="Synthetic stations spread over the network.")] = 10,
    parcels_per_station: Annotated[int, typer.Option("--parcels-per-station", help="Parcels each station plans.")] = 5000,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per station plan.")] = 30.0,
    city_time_limit: Annotated[float | None, typer.Option("--city-time-limit", help="Seconds for planning the whole city instead: each station gets them x the cluster's threads / stations, less a tenth (overrides --time-limit).")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT (default: a local cluster of 2 workers). Env: COURIER_SCHEDULER.", envvar="COURIER_SCHEDULER")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Plan a synthetic city: N stations, each planned as one Dask task."""

    def body() -> None:
        from courier.bench import city

        with _dask_client(scheduler, local=True) as client, _progress(quiet, stations) as progress:
            per_station = (time_limit if city_time_limit is None else
                           city.station_time_limit(client, city_time_limit, stations))
            result = city.run(streets=streets, stations=stations,
                              parcels_per_station=parcels_per_station, client=client,
                              time_limit_s=per_station, seed=seed,
                              cache_dir=_cache_dir(False, None), progress=progress)
            result["city_time_limit_s"] = city_time_limit
        city.write(result, out)
        if not quiet:
            typer.echo(f"{result['parcels']} parcels over {stations} stations in {result['total_s']:.0f} s "
                       f"(planning {result['plan_all_s']:.0f} s); peak memory {result['peak_rss_mb']:.0f} MB; "
                       f"time exponent {result['time_exponent']}; written to {out / 'bench.html'}")

    _run(body, quiet=quiet)


@history_app.command("compare")
def history_compare(
    deliveries: Annotated[Path, typer.Option(help="Delivery records: LaDe-D CSV or plain CSV (courier_id, parcel_id, lon, lat, delivered_at).")],
    out: Annotated[Path, typer.Option(help="Folder for history.json, history.csv, report.html.")],
    format: Annotated[HistoryFormat, typer.Option("--format", help="lade or csv.")] = HistoryFormat.LADE,
    coords: Annotated[Coords, typer.Option(help="Datum of the coordinates: wgs84 (the default), gcj02 or bd09.")] = Coords.WGS84,
    streets: Annotated[Path | None, typer.Option(help="Not supported yet: distances are great-circle x --detour.")] = None,
    min_stops: Annotated[int, typer.Option("--min-stops", help="Score courier-days with at least this many stops.")] = 10,
    detour: Annotated[float | None, typer.Option(help="Street distance over great-circle distance (default 1.3).")] = None,
    service: Annotated[int, typer.Option("--service-s", help="Service seconds per stop, the same for actual and planned.")] = 120,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per courier-day and variant.")] = 0.3,
    zone_bands: Annotated[int, typer.Option("--zone-bands", help="Zone-by-zone: split the courier's usual AOI order into N bands (0 = strict AOI order).")] = 2,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Rebuild real courier-days, plan the same stops, and report what planning saves."""

    def body() -> None:
        from courier import history
        from courier.config import DETOUR_FACTOR
        from courier.errors import InputError

        if coords == Coords.AUTO:
            # Telling GCJ-02 by the streets needs a street network, which this has not.
            raise InputError("history compare: --coords auto is not supported (no street "
                             "network to test the datum against); give wgs84, gcj02 or bd09")
        if streets is not None:
            raise InputError("--streets is not supported by history compare yet: distances are "
                             "great-circle x --detour (no street network of the records' city here)")
        table = history.read_history(deliveries, fmt=format.value, coords=coords.value)
        try:
            params = history.CompareParams(
                min_stops=min_stops, service_s=service,
                detour=DETOUR_FACTOR if detour is None else detour,
                time_limit_s=time_limit, seed=seed, zone_bands=zone_bands or None)
        except ValueError as exc:
            raise InputError(f"history compare: {exc}") from None
        with _stages(quiet, None) as show:
            result = history.compare(table, params, workers=workers or os.cpu_count() or 1,
                                     on_done=lambda done, total: show(
                                         "planning courier-days three ways", done, total))
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

    _run(body, quiet=quiet)


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
