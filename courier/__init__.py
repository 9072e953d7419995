"""courier: last-mile sorting and route planning for parcel delivery stations on peak days.

The public API, for notebooks and scripts::

    import courier
    plan = courier.plan(streets=G, parcels=df, couriers=roster, time_limit_s=60)
    plan.summary                 # the dict written as summary.json
    frames = plan.to_frames()    # sort_plan, stops, unassigned, rejects, routes, districts
    plan.write("out/")           # every file `courier plan` writes

Names are loaded on first use, so ``import courier`` (and ``courier --help``) stays instant.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("courier")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Public name -> the module that defines it.
_EXPORTS = {
    "plan": "courier.app",
    "replan": "courier.app",
    "Plan": "courier.app",
    "Inputs": "courier.app",
    "read_inputs": "courier.app",
    "demo_inputs": "courier.app",
    "run": "courier.app",
    "PlanConfig": "courier.config",
    "LunchConfig": "courier.config",
    "DistrictConfig": "courier.config",
    "RebalanceConfig": "courier.config",
    "VehicleProfile": "courier.config",
    "PROFILES": "courier.config",
    "Solver": "courier.config",
    "Coords": "courier.config",
    "Budget": "courier.config",
    "InputError": "courier.errors",
    "CourierWarning": "courier.errors",
    "Problem": "courier.errors",
    "StreetGraph": "courier.model",
    "DayPlan": "courier.model",
    "REASONS": "courier.model",
    "load_graph": "courier.streets",
    "from_networkx": "courier.streets",
    "SynthConfig": "courier.synth",
    "synth_parcels": "courier.synth",
    "synth_couriers": "courier.synth",
}

__all__ = [
    "PROFILES",
    "REASONS",
    "Budget",
    "Coords",
    "CourierWarning",
    "DayPlan",
    "DistrictConfig",
    "InputError",
    "Inputs",
    "LunchConfig",
    "Plan",
    "PlanConfig",
    "Problem",
    "RebalanceConfig",
    "Solver",
    "StreetGraph",
    "SynthConfig",
    "VehicleProfile",
    "__version__",
    "demo_inputs",
    "from_networkx",
    "load_graph",
    "plan",
    "read_inputs",
    "replan",
    "run",
    "synth_couriers",
    "synth_parcels",
]

if TYPE_CHECKING:
    from courier.app import Inputs, Plan, demo_inputs, plan, read_inputs, replan, run
    from courier.config import (
        PROFILES,
        Budget,
        Coords,
        DistrictConfig,
        LunchConfig,
        PlanConfig,
        RebalanceConfig,
        Solver,
        VehicleProfile,
    )
    from courier.errors import CourierWarning, InputError, Problem
    from courier.model import REASONS, DayPlan, StreetGraph
    from courier.streets import from_networkx, load_graph
    from courier.synth import SynthConfig, synth_couriers, synth_parcels


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'courier' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
