"""courier as a library, the way an analyst uses it in a notebook.

Plans the Futian example (examples/parcels.csv, examples/couriers.csv, examples/lockers.csv) on
an OSMnx graph of the bundled Futian street extract, from DataFrames read with ``pd.read_csv``,
shows the plan's tables, and writes every file ``courier plan`` writes.

Run: ``python examples/notebook.py [OUT_DIR]`` (needs osmnx: ``pip install -e '.[test]'``).
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import osmnx as ox
import pandas as pd

import courier

HERE = Path(__file__).resolve().parent
STREETS = HERE.parent / "data" / "shenzhen_futian_drive.osm.gz"


def futian_graph() -> Any:
    """The Futian drive network as OSMnx builds it (a simplified networkx MultiDiGraph)."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "futian.osm"
        with gzip.open(STREETS, "rb") as src, xml.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return ox.graph_from_xml(xml)


def main(out_dir: Path) -> courier.Plan:
    graph = futian_graph()
    print(f"OSMnx graph: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")

    # Empty cells come back as NaN: courier treats them as empty, as in a CSV file.
    parcels = pd.read_csv(HERE / "parcels.csv")
    couriers = pd.read_csv(HERE / "couriers.csv")
    lockers = pd.read_csv(HERE / "lockers.csv")

    plan = courier.plan(streets=graph, parcels=parcels, couriers=couriers, lockers=lockers,
                        station=(114.033011, 22.558884), time_limit_s=10, seed=0,
                        solution_limit=50)

    p = plan.summary["parcels"]
    print(f"{p['input']} parcels: {p['planned']} planned, {p['unassigned']} unassigned, "
          f"{p['rejected']} rejected; {plan.summary['totals']['distance_m'] / 1000:.1f} km")

    frames = plan.to_frames()
    print(frames["sort_plan"].head(10).to_string(index=False))
    routes = frames["routes"]  # a GeoDataFrame of LineStrings along the streets
    print(routes[["courier_id", "trip", "distance_m", "stops"]].to_string(index=False))

    # The prepared graph the plan was routed on, back in networkx for a closer look.
    routed = plan.graph.to_networkx()
    print(f"routed on {routed.number_of_nodes()} nodes, {routed.number_of_edges()} edges "
          f"(largest strongly connected part, travel_time for {plan.graph.profile})")

    written = plan.write(out_dir)
    print(f"wrote {len(written)} files to {out_dir}")
    return plan


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/notebook"))
