"""The routing engine on literature instances: CVRPLIB ``.vrp`` (CVRP) and Solomon text (VRPTW).

Each family is scored in its own convention:

* CVRP (X set): every edge is the Euclidean distance rounded to the nearest integer (TSPLIB
  ``nint``); cost = total distance; the fleet is unlimited.
* VRPTW (Solomon, Gehring-Homberger): real Euclidean distances, travel time = distance, windows
  bound the start of service, back at the depot by its due date; the best-known solutions
  minimise the number of vehicles first, then distance.

OR-Tools needs integers, so VRPTW coordinates are scaled by :data:`VRPTW_SCALE`; travel times
are rounded *up* (a plan feasible in integers is feasible in real numbers) and the reported
cost is recomputed in real numbers from the routes.
"""

from __future__ import annotations

import csv
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from courier import io, routing
from courier.errors import InputError, Problem

__all__ = [
    "Instance",
    "VrplibResult",
    "build_problem",
    "evaluate",
    "format_table",
    "read_instance",
    "read_solution",
    "run",
    "write_solution",
]

Family = Literal["cvrp", "solomon", "homberger"]
FloatArray = npt.NDArray[np.float64]

VRPTW_SCALE = 1000
"""VRPTW distances and times are multiplied by this before rounding to integers."""

BASELINES = ("vroom",)
"""Solvers ``run(..., baseline=...)`` can compare ours against."""


@dataclass(frozen=True, eq=False)
class Instance:
    """One benchmark instance. Node 0 is the depot; ``labels[i]`` is node i's number in files."""

    name: str
    family: Family
    path: Path
    labels: tuple[int, ...]
    xy: FloatArray
    demand: npt.NDArray[np.int64]
    capacity: int
    ready: FloatArray | None = None
    due: FloatArray | None = None
    service: FloatArray | None = None
    n_vehicles: int | None = None

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.labels) - 1

    @property
    def has_windows(self) -> bool:
        return self.ready is not None


@dataclass(frozen=True, slots=True)
class VrplibResult:
    """One instance solved: cost in the family's convention and the gap to the best known."""

    instance: str
    family: Family
    n: int
    cost: float
    vehicles: int
    bks_cost: float | None
    bks_vehicles: int | None
    gap_pct: float | None
    solve_s: float
    feasible: bool
    solver: str = "ortools"


# --------------------------------------------------------------------------------------------
# Readers


def _fail(path: Path, row: int | None, field: str, value: str, allowed: str) -> InputError:
    return InputError(
        f"cannot read benchmark instance {path}", (Problem(str(path), row, field, value, allowed),)
    )


def read_instance(path: Path) -> Instance:
    """Read a CVRPLIB ``.vrp`` (EUC_2D) or a Solomon / Gehring-Homberger ``.txt`` instance."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, None, "file", str(exc), "a readable text file") from None
    lines = text.splitlines()
    if path.suffix.lower() == ".vrp":
        return _read_vrp(path, lines)
    return _read_solomon(path, lines)


def _read_vrp(path: Path, lines: list[str]) -> Instance:
    header: dict[str, str] = {}
    coords: dict[int, tuple[float, float]] = {}
    demand: dict[int, int] = {}
    depots: list[int] = []
    section = ""
    for row, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        word = line.split()[0].upper()
        if word == "EOF":
            break
        if word.endswith("_SECTION"):
            section = word
            continue
        if ":" in line and not line[0].isdigit() and line[0] != "-":
            key, _, value = line.partition(":")
            header[key.strip().upper()] = value.strip()
            section = ""
            continue
        parts = line.split()
        try:
            if section == "NODE_COORD_SECTION":
                coords[int(parts[0])] = (float(parts[1]), float(parts[2]))
            elif section == "DEMAND_SECTION":
                demand[int(parts[0])] = int(parts[1])
            elif section == "DEPOT_SECTION":
                if int(parts[0]) >= 0:
                    depots.append(int(parts[0]))
            else:
                raise ValueError("data outside a section")
        except (ValueError, IndexError):
            raise _fail(path, row, section or "line", line, "numbers of the section") from None
    if header.get("EDGE_WEIGHT_TYPE", "EUC_2D") != "EUC_2D":
        raise _fail(path, None, "EDGE_WEIGHT_TYPE", header["EDGE_WEIGHT_TYPE"], "EUC_2D")
    try:
        capacity = int(header["CAPACITY"])
    except (KeyError, ValueError):
        raise _fail(path, None, "CAPACITY", header.get("CAPACITY", ""), "an integer") from None
    if len(depots) != 1 or depots[0] not in coords or set(coords) != set(demand):
        raise _fail(path, None, "DEPOT_SECTION", str(depots),
                    "one depot; every node with coordinates and a demand")
    ids = [depots[0], *(i for i in coords if i != depots[0])]
    # CVRPLIB solutions number customers 1..n in file order, the depot being 0.
    return Instance(
        name=header.get("NAME", path.stem).strip() or path.stem,
        family="cvrp",
        path=path,
        labels=tuple(range(len(ids))),
        xy=np.asarray([coords[i] for i in ids], dtype=np.float64),
        demand=np.asarray([demand[i] for i in ids], dtype=np.int64),
        capacity=capacity,
    )


def _read_solomon(path: Path, lines: list[str]) -> Instance:
    name = next((ln.strip() for ln in lines if ln.strip()), path.stem)
    n_vehicles = capacity = None
    rows: list[tuple[int, list[float]]] = []
    mode = ""
    for row, raw in enumerate(lines, start=1):
        line = raw.strip()
        upper = line.upper()
        if not line:
            continue
        if upper.startswith("VEHICLE"):
            mode = "vehicle"
            continue
        if upper.startswith("CUSTOMER"):
            mode = "customer"
            continue
        if upper.startswith(("NUMBER", "CUST")):
            continue
        parts = line.split()
        try:
            if mode == "vehicle":
                n_vehicles, capacity = int(parts[0]), int(parts[1])
                mode = ""
            elif mode == "customer":
                if len(parts) != 7:
                    raise ValueError
                rows.append((row, [float(p) for p in parts]))
        except (ValueError, IndexError):
            field = "VEHICLE" if mode == "vehicle" else "CUSTOMER"
            allowed = ("NUMBER CAPACITY as integers" if mode == "vehicle" else
                       "7 numbers: no, x, y, demand, ready, due, service")
            raise _fail(path, row, field, line, allowed) from None
    if n_vehicles is None or capacity is None or not rows:
        raise _fail(path, None, "VEHICLE/CUSTOMER", "", "both sections, as in Solomon files")
    table = np.asarray([r for _, r in rows], dtype=np.float64)
    if int(table[0, 0]) != 0:
        raise _fail(path, rows[0][0], "CUST NO.", str(table[0, 0]), "the depot 0 first")
    n = len(table) - 1
    family: Family = "solomon" if n <= 100 else "homberger"
    return Instance(
        name=name.upper() if name.lower() == path.stem.lower() else name,
        family=family,
        path=path,
        labels=tuple(int(c) for c in table[:, 0]),
        xy=table[:, 1:3].copy(),
        demand=table[:, 3].astype(np.int64),
        capacity=capacity,
        ready=table[:, 4].copy(),
        due=table[:, 5].copy(),
        service=table[:, 6].copy(),
        n_vehicles=n_vehicles,
    )


def read_solution(path: Path) -> tuple[list[list[int]], float | None]:
    """Read routes (customer numbers) and the ``Cost`` of a VRPLIB or SINTEF solution file."""
    routes: list[list[int]] = []
    cost: float | None = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, None, "file", str(exc), "a readable solution file") from None
    for row, raw in enumerate(lines, start=1):
        line = raw.strip()
        try:
            if line.lower().startswith("route"):
                routes.append([int(tok) for tok in line.partition(":")[2].split()])
            elif line.lower().startswith("cost"):
                cost = float(line.split()[1])
        except (ValueError, IndexError):
            raise _fail(path, row, "Route/Cost", line, "integers after ':'; a number") from None
    return routes, cost


def write_solution(path: Path, routes: Sequence[Sequence[int]], cost: float) -> None:
    """Write routes (customer numbers) in VRPLIB ``.sol`` format."""
    lines = [f"Route #{k}: {' '.join(map(str, r))}" for k, r in enumerate(routes, start=1)]
    lines.append(f"Cost {int(cost)}" if float(cost).is_integer() else f"Cost {cost:.4f}")
    io.write_text(path, "\n".join(lines) + "\n")


def _bks(inst: Instance) -> tuple[float | None, int | None]:
    """Best-known cost and vehicles: the ``.sol`` beside a CVRP file, else ``bks.csv``."""
    sol = inst.path.with_suffix(".sol")
    if inst.family == "cvrp" and sol.exists():
        routes, cost = read_solution(sol)
        if cost is not None:
            return cost, len(routes)
    for folder in (inst.path.parent, inst.path.parent.parent):
        table = folder / "bks.csv"
        if not table.exists():
            continue
        with table.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                if rec.get("instance", "").lower() == inst.path.stem.lower():
                    if "bks_distance" in rec:
                        return float(rec["bks_distance"]), int(rec["bks_vehicles"])
                    return float(rec["bks_cost"]), int(rec["bks_routes"])
    return None, None


# --------------------------------------------------------------------------------------------
# Model and evaluation


def _euclid(xy: FloatArray) -> FloatArray:
    diff = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def _nint(x: FloatArray) -> npt.NDArray[np.int64]:
    """TSPLIB nint: round half up (not half to even as ``np.rint``)."""
    return np.floor(x + 0.5).astype(np.int64)


def build_problem(inst: Instance, *, vehicles_first: bool = True) -> routing.RoutingProblem:
    """Return the instance as a :class:`courier.routing.RoutingProblem` in integer units.

    ``vehicles_first=False`` drops the fixed cost per vehicle of VRPTW instances: distance
    only, the objective of solvers that do not minimise the fleet.
    """
    n1 = inst.n + 1
    real = _euclid(inst.xy)
    delivery = np.zeros((n1, 3), dtype=np.int64)
    delivery[:, 0] = inst.demand
    delivery[0] = 0
    if inst.ready is None or inst.due is None or inst.service is None:
        dist = _nint(real)
        # Unlimited fleet: the bin-packing bound plus room, each vehicle one trip; more
        # vehicles than needed only slow the search down.
        lower = math.ceil(int(inst.demand.sum()) / inst.capacity)
        n_vehicles = lower + max(3, math.ceil(0.1 * lower))
        horizon = int(dist.max()) * (n1 + 1) + 1
        vehicles = tuple(
            routing.Vehicle(f"v{k}", "road", (inst.capacity, 0, 0), 0, horizon)
            for k in range(n_vehicles)
        )
        return routing.RoutingProblem(
            stop_ids=tuple(str(lab) for lab in inst.labels[1:]),
            service_s=np.zeros(n1, dtype=np.int64),
            windows_s=tuple(() for _ in range(n1)),
            delivery=delivery,
            pickup=np.zeros((n1, 3), dtype=np.int64),
            priority=np.zeros(n1, dtype=bool),
            vehicles=vehicles,
            time_s={"road": dist},
            distance_m={"road": dist.copy()},
            # Dropping a customer saves at most two arcs: a larger penalty never pays.
            drop_penalty=int(dist.max()) * 10 + 1,
            objective="distance",
        )
    scaled = real * VRPTW_SCALE
    travel = np.ceil(scaled - 1e-9).astype(np.int64)
    dist_int = _nint(scaled)
    ready = np.rint(inst.ready * VRPTW_SCALE).astype(np.int64)
    due = np.rint(inst.due * VRPTW_SCALE).astype(np.int64)
    service = np.rint(inst.service * VRPTW_SCALE).astype(np.int64)
    service[0] = 0
    # More than any total distance: a route out and back to every customer costs less. As
    # the fixed cost per vehicle (vehicles first) the objective compares fleets before
    # distances, the SINTEF convention of the best-known solutions.
    over_any_total = int(2 * dist_int[0].sum()) + 1
    fixed = over_any_total if vehicles_first else 0
    n_vehicles = inst.n_vehicles or inst.n
    vehicles = tuple(
        routing.Vehicle(f"v{k}", "road", (inst.capacity, 0, 0), int(ready[0]), int(due[0]),
                        fixed_cost=fixed)
        for k in range(n_vehicles)
    )
    windows = tuple(((int(ready[i]), int(due[i])),) if i else () for i in range(n1))
    return routing.RoutingProblem(
        stop_ids=tuple(str(lab) for lab in inst.labels[1:]),
        service_s=service,
        windows_s=windows,
        delivery=delivery,
        pickup=np.zeros((n1, 3), dtype=np.int64),
        priority=np.zeros(n1, dtype=bool),
        vehicles=vehicles,
        time_s={"road": travel},
        distance_m={"road": dist_int},
        drop_penalty=2 * over_any_total,
        objective="distance",
    )


def evaluate(inst: Instance, routes: Sequence[Sequence[int]]) -> tuple[float, list[str]]:
    """Return the cost of routes (customer numbers) in the family's convention and violations.

    Independent of the routing model: CVRP sums ``nint`` distances; VRPTW sums real Euclidean
    distances and checks windows (start of service) and the depot's due date in real numbers.
    """
    node_of = {lab: i for i, lab in enumerate(inst.labels)}
    real = _euclid(inst.xy)
    violations: list[str] = []
    seen: dict[int, int] = {}
    total = 0.0
    eps = 1e-6
    for k, route in enumerate(routes, start=1):
        try:
            nodes = [node_of[lab] for lab in route]
        except KeyError as exc:
            violations.append(f"route {k}: unknown customer {exc.args[0]}")
            continue
        if any(node == 0 for node in nodes):
            violations.append(f"route {k}: visits the depot")
        for node in nodes:
            seen[node] = seen.get(node, 0) + 1
        path = [0, *nodes, 0]
        legs = [real[a, b] for a, b in itertools.pairwise(path)]
        if inst.family == "cvrp":
            total += float(sum(math.floor(x + 0.5) for x in legs))
        else:
            total += float(sum(legs))
        load = int(inst.demand[nodes].sum()) if nodes else 0
        if load > inst.capacity:
            violations.append(f"route {k}: load {load} over capacity {inst.capacity}")
        if inst.ready is not None and inst.due is not None and inst.service is not None:
            now = float(inst.ready[0])
            for node, leg in zip([*nodes, 0], legs, strict=False):
                now += leg
                if node and now > inst.due[node] + eps:
                    violations.append(f"route {k}: customer {inst.labels[node]} late")
                now = max(now, float(inst.ready[node])) + float(inst.service[node])
            if now - float(inst.service[0]) > inst.due[0] + eps:
                violations.append(f"route {k}: back at the depot after its due date")
    for node in range(1, inst.n + 1):
        if seen.get(node, 0) != 1:
            violations.append(f"customer {inst.labels[node]} served {seen.get(node, 0)} times")
    return (round(total) if inst.family == "cvrp" else total), violations


# --------------------------------------------------------------------------------------------
# Runs


def run(
    paths: Sequence[Path],
    *,
    time_limit_s: float,
    seed: int = 0,
    solutions_out: Path | None = None,
    workers: int = 1,
    solver: str = "pyvrp",
    baseline: str | None = None,
    vehicles_first: bool = True,
) -> list[VrplibResult]:
    """Solve each instance with :func:`courier.routing.solve`; score it against the BKS.

    Parameters
    ----------
    paths
        ``.vrp`` (CVRPLIB) or Solomon-format ``.txt`` files.
    time_limit_s
        Budget per instance, model building included.
    seed, workers, solver
        Passed to :func:`courier.routing.solve`.
    solutions_out
        Folder for one VRPLIB ``<instance>.sol`` per instance, created if needed.
    baseline
        ``"vroom"``: also solve each instance with VROOM (:mod:`courier.bench.vroom`) on the
        same matrices and budget; its result follows ours in the list.
    vehicles_first
        False: VRPTW instances without the fixed cost per vehicle (distance only).
    """
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"baseline {baseline!r}: allowed: {', '.join(BASELINES)}")
    if baseline == "vroom":
        from courier.bench import vroom
    results: list[VrplibResult] = []
    for path in paths:
        inst = read_instance(Path(path))
        problem = build_problem(inst, vehicles_first=vehicles_first)
        res = routing.solve(
            problem, time_limit_s=time_limit_s, seed=seed, workers=workers, solver=solver,
        )
        trips = sorted(res.trips, key=lambda t: (t.vehicle, t.trip))
        routes = [[inst.labels[node] for node in t.nodes] for t in trips]
        ours = _score(inst, routes, res.solve_s, solver,
                      model_ok=not routing.check_feasible(problem, res) and not res.drops)
        results.append(ours)
        if solutions_out is not None:
            write_solution(solutions_out / f"{inst.path.stem}.sol", routes, ours.cost)
        if baseline == "vroom":
            tick = time.perf_counter()
            nodes = vroom.solve_routes(problem, time_limit_s=time_limit_s)
            elapsed_s = time.perf_counter() - tick
            results.append(_score(inst, [[inst.labels[i] for i in r] for r in nodes],
                                  elapsed_s, "vroom", model_ok=True))
    return results


def _score(inst: Instance, routes: list[list[int]], solve_s: float, solver: str, *,
           model_ok: bool) -> VrplibResult:
    """One solver's routes scored by :func:`evaluate` against the best known."""
    cost, violations = evaluate(inst, routes)
    bks_cost, bks_vehicles = _bks(inst)
    return VrplibResult(
        instance=inst.path.stem,
        family=inst.family,
        n=inst.n,
        cost=cost,
        vehicles=len(routes),
        bks_cost=bks_cost,
        bks_vehicles=bks_vehicles,
        gap_pct=None if bks_cost is None else (cost - bks_cost) / bks_cost * 100.0,
        solve_s=solve_s,
        feasible=model_ok and not violations,
        solver=solver,
    )


def format_table(results: Sequence[VrplibResult], *, vehicles_first: bool = True) -> str:
    """Return a plain-text table of the results, the mean gap per family and solver, and,
    when a baseline ran, ours against it instance by instance."""
    head = f"{'instance':<14}{'family':<11}{'solver':<8}{'n':>6}{'cost':>14}{'veh':>5}" \
           f"{'bks':>14}{'bks_veh':>8}{'gap%':>8}{'time_s':>8}  feasible"
    out = [head, "-" * len(head)]

    def num(x: float | None, digits: int) -> str:
        return "-" if x is None else f"{x:.{digits}f}"

    for r in results:
        digits = 0 if r.family == "cvrp" else 2
        out.append(
            f"{r.instance:<14}{r.family:<11}{r.solver:<8}{r.n:>6}{num(r.cost, digits):>14}"
            f"{r.vehicles:>5}{num(r.bks_cost, digits):>14}"
            f"{r.bks_vehicles if r.bks_vehicles else '-':>8}"
            f"{num(r.gap_pct, 2):>8}{r.solve_s:>8.1f}  {'yes' if r.feasible else 'NO'}"
        )
    out.append("")
    solvers = list(dict.fromkeys(r.solver for r in results))
    for family in sorted({r.family for r in results}):
        for solver in solvers:
            mine = [r for r in results if r.family == family and r.solver == solver]
            gaps = [r.gap_pct for r in mine if r.gap_pct is not None]
            extra = [r.vehicles - r.bks_vehicles for r in mine if r.bks_vehicles is not None]
            if gaps:
                out.append(
                    f"{family} {solver}: mean gap {sum(gaps) / len(gaps):+.2f} % over "
                    f"{len(gaps)} instances; vehicles over BKS {sum(extra):+d}; "
                    f"{sum(not r.feasible for r in mine)} infeasible"
                )
        if len(solvers) == 2:
            out.append(f"{family}: {_head_to_head(results, family, solvers, vehicles_first)}")
    return "\n".join(out)


def _head_to_head(results: Sequence[VrplibResult], family: Family, solvers: list[str],
                  vehicles_first: bool) -> str:
    """Instance by instance, the first solver against the second: wins and the cost ratio.

    An infeasible result loses; VRPTW compares vehicles first, then distance, unless run
    distance-only; CVRP compares cost.
    """
    ours, base = solvers
    by_fleet = vehicles_first and family != "cvrp"

    def key(r: VrplibResult) -> tuple[float, ...]:
        return (not r.feasible, r.vehicles if by_fleet else 0, round(r.cost, 4))

    by_name = {(r.instance, r.solver): r for r in results if r.family == family}
    both = [(by_name[name, ours], by_name[name, base])
            for name in sorted({name for name, _ in by_name})
            if (name, ours) in by_name and (name, base) in by_name]
    wins = sum(key(a) < key(b) for a, b in both)
    ties = sum(key(a) == key(b) for a, b in both)
    ratios = [a.cost / b.cost for a, b in both if a.feasible and b.feasible and b.cost]
    mean = f"{sum(ratios) / len(ratios):.4f}" if ratios else "-"
    return (f"{ours} better than {base} on {wins}, tied on {ties} of {len(both)}"
            f" ({'vehicles, then distance' if by_fleet else 'cost'});"
            f" mean cost ratio {ours}/{base} {mean}")
