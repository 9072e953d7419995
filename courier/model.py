"""Frozen data types passed between the stages of a plan.

Units are in the names: ``_m`` metres, ``_s`` seconds, ``_kg``, ``_l`` litres. Times are
integer seconds from midnight of the plan day; coordinates are WGS-84 lon/lat unless a name
says ``_m`` (a metric projection chosen per street network).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from courier.config import MAX_TRIPS
from courier.text import N_

Kind = Literal["delivery", "pickup"]
Window = tuple[int, int]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Time/distance of a pair with no path. Far below the int64 limit so that sums of a few of them
# (route costs in the solver) cannot overflow.
UNREACHABLE = int(np.iinfo(np.int64).max // 4)


@dataclass(frozen=True, slots=True)
class Parcel:
    """One validated input parcel. ``row`` is its line number in the input file (header = 1)."""

    parcel_id: str
    row: int
    lon: float
    lat: float
    weight_kg: float = 1.0
    volume_l: float = 5.0
    windows_s: tuple[Window, ...] = ()
    kind: Kind = "delivery"
    priority: bool = False
    locker_ok: bool = False
    address: str = ""
    recipient: str = ""
    phone: str = ""
    notes: str = ""
    # When the parcel is sorted and can be loaded (its truck's wave): no trip carrying it
    # leaves the station earlier. 0 = ready when the day starts.
    ready_s: int = 0


@dataclass(frozen=True, slots=True)
class Reject:
    """An input row that failed validation: it is reported, never planned."""

    row: int
    parcel_id: str
    field: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Courier:
    """One courier and their vehicle for the day."""

    courier_id: str
    vehicle: str
    capacity_parcels: int
    capacity_kg: float
    capacity_l: float
    shift_start_s: int
    shift_end_s: int
    max_trips: int = MAX_TRIPS
    name: str = ""
    # Lunch: None = the station's default (PlanConfig.lunch); lunch_min 0 = no lunch.
    lunch_min: int | None = None
    lunch_from_s: int | None = None
    lunch_to_s: int | None = None


@dataclass(frozen=True, slots=True)
class Locker:
    """A parcel locker or pickup station, as validated from the lockers file."""

    locker_id: str
    lon: float
    lat: float
    capacity_parcels: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class Station:
    """The depot every trip starts from and returns to."""

    lon: float
    lat: float
    name: str = "station"


@dataclass(frozen=True, slots=True, eq=False)
class StreetGraph:
    """A directed street graph for one vehicle profile, as flat arrays.

    Nodes are OSM nodes (not simplified), so every edge is a straight segment between two
    nodes. Only the largest strongly connected component is kept: every node can reach every
    other node and come back.
    """

    node_osm_id: npt.NDArray[np.int64]
    node_lon: FloatArray
    node_lat: FloatArray
    node_x_m: FloatArray
    node_y_m: FloatArray
    edge_from: npt.NDArray[np.int32]
    edge_to: npt.NDArray[np.int32]
    edge_length_m: FloatArray
    edge_time_s: FloatArray
    edge_name: tuple[str, ...]
    crs_metric: str
    profile: str
    source: str
    # Street segments left out because they are not in the strongly connected part, as rows
    # (x0_m, y0_m, x1_m, y1_m): they tell a point that is near a street nobody can drive to
    # and back ("unreachable") from a point far from every street ("snap_too_far").
    fragment_xy_m: FloatArray

    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_from.shape[0])

    def to_networkx(self) -> Any:
        """Return the prepared graph as an OSMnx-style ``networkx.MultiDiGraph``.

        Nodes are keyed by OSM id (negative for points OSM has no id for) with ``x``/``y``
        (lon/lat) and ``x_m``/``y_m`` (the metric projection); edges carry ``length`` (m),
        ``travel_time`` (s, for this vehicle profile) and ``name``. The graph attribute
        ``crs`` is ``"epsg:4326"`` as in OSMnx, ``crs_metric`` the projection used here.
        """
        import networkx as nx  # the interface for analysts; the hot path uses the arrays

        g = nx.MultiDiGraph(crs="epsg:4326", crs_metric=self.crs_metric, profile=self.profile,
                            name=self.source)
        ids = self.node_osm_id.tolist()
        for i, osm_id in enumerate(ids):
            g.add_node(osm_id, x=float(self.node_lon[i]), y=float(self.node_lat[i]),
                       x_m=float(self.node_x_m[i]), y_m=float(self.node_y_m[i]))
        for e in range(self.n_edges):
            g.add_edge(ids[int(self.edge_from[e])], ids[int(self.edge_to[e])],
                       length=float(self.edge_length_m[e]), travel_time=float(self.edge_time_s[e]),
                       name=self.edge_name[e])
        return g


@dataclass(frozen=True, slots=True)
class Snap:
    """Where a point meets the street network: on edge ``edge`` at ``fraction`` of its length."""

    edge: int
    fraction: float
    distance_m: float
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Stop:
    """Parcels handed over at one door at one time: the unit of routing."""

    stop_id: str
    parcel_ids: tuple[str, ...]
    lon: float
    lat: float
    snap: Snap
    service_s: int
    windows_s: tuple[Window, ...]
    delivery_parcels: int
    delivery_kg: float
    delivery_l: float
    pickup_parcels: int = 0
    pickup_kg: float = 0.0
    pickup_l: float = 0.0
    priority: bool = False
    address: str = ""
    zone: str = ""
    ready_s: int = 0  # the latest ready time of its parcels (parcels of one door split by it)


@dataclass(frozen=True, slots=True)
class Visit:
    """A stop on a trip: when the courier gets there and leaves."""

    stop_id: str
    seq: int
    arrival_s: int
    start_s: int
    departure_s: int


@dataclass(frozen=True, slots=True)
class Trip:
    """One loop from the station and back by one courier."""

    courier_id: str
    trip: int
    depart_s: int
    return_s: int
    visits: tuple[Visit, ...]
    distance_m: int
    load_parcels: int
    load_kg: float
    load_l: float
    path_lonlat: tuple[tuple[float, float], ...] = ()

    @property
    def duration_s(self) -> int:
        return self.return_s - self.depart_s


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A parcel that was valid but not planned, and why."""

    parcel_id: str
    stop_id: str
    reason_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class SortLine:
    """Where one parcel goes in the morning sort.

    ``load_position`` restarts at 1 in each bag (1 = first into the bag); ``chute`` is the
    sort wall's chute, 1..N (0 before chutes are assigned).
    """

    parcel_id: str
    courier_id: str
    trip: int
    bag: int
    load_position: int
    stop_id: str
    seq: int
    chute: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class Day:
    """One day's validated inputs, all a plan is made from (besides the streets).

    ``input_count`` is the number of input parcel rows (valid and rejected); ``districts`` an
    optional GeoDataFrame of the station's own district polygons with a ``courier_id``
    column, read from ``districts_source``; ``previous`` yesterday's assignment
    ({location key: courier}, :func:`courier.districts.previous_assignment`).
    """

    parcels: tuple[Parcel, ...]
    couriers: tuple[Courier, ...]
    station_lonlat: tuple[float, float]
    rejects: tuple[Reject, ...] = ()
    lockers: tuple[Locker, ...] = ()
    input_count: int | None = None
    districts: Any = None
    districts_source: str = "districts"
    previous: Mapping[str, str] | None = None

    @property
    def rows(self) -> int:
        """Input parcel rows: the valid parcels plus the rejected rows, unless given."""
        if self.input_count is not None:
            return self.input_count
        return len(self.parcels) + len({r.row for r in self.rejects})


@dataclass(frozen=True, slots=True)
class SearchWork:
    """How the day's searches were bounded (``PlanConfig.budget``).

    ``solves`` searches ran (districts, seeds of a joint problem, re-solves of evening out);
    ``cut`` of them ended at the time limit before their work bound, and ``repair_cut`` says
    the time limit stopped the repair before it had tried every left-out stop. Under a work
    budget a plan with no cut is the same on every run and machine for the same inputs, seed,
    time limit and ``--workers`` (which sizes the work). ``iterations`` is the work planned
    (PyVRP iterations) over all solves.
    """

    budget: str = "time"
    solves: int = 0
    cut: int = 0
    iterations: int = 0
    repair_cut: bool = False

    @property
    def repeatable(self) -> bool:
        """Whether a rerun gives this plan: a work budget that the time limit did not cut."""
        return self.budget == "work" and self.cut == 0 and not self.repair_cut


@dataclass(frozen=True, slots=True, eq=False)
class DayPlan:
    """Everything one planning run produced; the writers turn it into files.

    ``warnings`` are what the station manager should know that did not stop the plan
    (lockers not used, stops outside every district, stops left out to fit a lunch).
    """

    station: Station
    couriers: tuple[Courier, ...]
    parcels: tuple[Parcel, ...]
    stops: tuple[Stop, ...]
    trips: tuple[Trip, ...]
    unassigned: tuple[Unassigned, ...]
    rejects: tuple[Reject, ...]
    sort_lines: tuple[SortLine, ...]
    districts: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    input_count: int = 0
    streets_source: str = ""
    breaks: dict[str, tuple[int, int]] = field(default_factory=dict)  # courier: lunch start, end
    warnings: tuple[str, ...] = ()
    strategy: str = "districts"  # how it was routed: "districts" or "joint"
    # Left-out stops tried in other couriers' days after routing, and those taken in.
    repair_tried: int = 0
    repair_inserted: int = 0
    search: SearchWork = field(default_factory=SearchWork)


# Reason codes for valid parcels that are not planned (unassigned.csv). Stable strings: other
# tools read them.
REASONS: dict[str, str] = {
    "unreachable": N_("not reachable on the street network from the station and back"),
    "too_big": N_("heavier or bulkier than every vehicle can carry"),
    "window_closed": N_("its time window closes before any courier can get there"),
    "shift_too_short": N_("no courier's shift is long enough to get there and back"),
    "no_courier": N_("no courier on today's roster can take it: its district has none, or the "
                     "roster carries too few parcels for the day (see the summary's warnings)"),
    "dropped": N_("dropped at a penalty: the couriers' capacity and time were used for other "
                  "stops"),
    "no_solution": N_("the solver found no route for its district within the time limit: "
                      "plan again with a longer --time-limit"),
    "not_ready_in_time": N_("it is ready at the station (its truck's wave) too late for any "
                            "courier's shift to take it out and come back"),
    "returned": N_("returned to its sender, as the re-plan's status file says"),
    "failed_no_retry": N_("its delivery failed and it is not tried again today (--no-retry)"),
    "out_of_time": N_("left out by its district's search, and the time ran out before it could "
                      "be tried in other couriers' days: plan again with a longer --time-limit"),
}
