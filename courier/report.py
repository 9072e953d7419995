"""KPIs of a plan: the numbers in summary.json and the manager's one-page report."""

from __future__ import annotations

import io
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from courier.dayshape import day_shapes
from courier.dayshape import totals as day_totals
from courier.i18n import ZH, Text
from courier.io import unique_stems
from courier.model import REASONS, DayPlan, SortLine, Trip
from courier.sortplan import address_of
from courier.text import esc, hhmm

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def summary(plan: DayPlan, *, previous: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the plan's KPIs; ``parcels`` always satisfies input = planned + unassigned + rejected.

    ``previous`` is yesterday's assignment ({location key: courier}): with it, ``districts``
    reports the share of stops whose courier is unchanged.
    """
    planned = len(plan.sort_lines)
    unassigned = len(plan.unassigned)
    rejected = len({r.row for r in plan.rejects})
    per: dict[str, dict[str, Any]] = {}
    for c in plan.couriers:
        per[c.courier_id] = {"courier_id": c.courier_id, "vehicle": c.vehicle, "trips": 0,
                             "stops": 0, "parcels": 0, "distance_m": 0, "duration_s": 0,
                             "load_kg": 0.0, "load_l": 0.0, "shift_s": c.shift_end_s - c.shift_start_s}
    for t in plan.trips:
        row = per[t.courier_id]
        row["trips"] += 1
        row["stops"] += len(t.visits)
        row["parcels"] += t.load_parcels
        row["distance_m"] += t.distance_m
        row["load_kg"] = round(row["load_kg"] + t.load_kg, 3)
        row["load_l"] = round(row["load_l"] + t.load_l, 3)
    shapes = day_shapes(plan.couriers, plan.trips, plan.breaks)
    for c, shape in zip(plan.couriers, shapes, strict=True):
        row = per[c.courier_id]
        # Out: the first departure to the last return, reloads included; the paid day runs
        # from the shift start (dayshape), and is what the plan is judged on.
        row["duration_s"] = shape.last_return_s - shape.first_departure_s if shape.used else 0
        row.update(shape.to_dict())
        lunch = plan.breaks.get(c.courier_id)
        row["lunch"] = f"{hhmm(lunch[0])}-{hhmm(lunch[1])}" if lunch else ""
    used = [r for r in per.values() if r["trips"]]
    durations = [r["duration_s"] for r in used]
    paid = [r["paid_day_s"] for r in used]
    mean = sum(paid) / len(paid) if paid else 0.0
    hours = sum(paid) / 3600
    windows = {s.stop_id: s.windows_s for s in plan.stops}
    visits = [v for t in plan.trips for v in t.visits]
    on_time = sum(
        1 for v in visits
        if not windows[v.stop_id] or any(a <= v.start_s <= b for a, b in windows[v.stop_id])
    )
    return {
        "parcels": {
            "input": plan.input_count,
            "planned": planned,
            "unassigned": unassigned,
            "rejected": rejected,
            "adds_up": plan.input_count == planned + unassigned + rejected,
        },
        "unassigned_by_reason": dict(sorted(Counter(u.reason_code for u in plan.unassigned).items())),
        "totals": {
            "couriers": len(plan.couriers),
            "couriers_used": len(used),
            "stops": len(plan.stops),
            "stops_routed": len(visits),
            "trips": len(plan.trips),
            "distance_m": sum(t.distance_m for t in plan.trips),
            "duration_s": sum(durations),
            "paid_s": sum(paid),
            "parcels_per_courier_hour": round(planned / hours, 2) if hours else 0.0,
            "on_time_share": round(on_time / len(visits), 4) if visits else 1.0,
            # Over the paid days of the couriers used.
            "balance_max_over_mean": round(max(paid) / mean, 4) if mean else 0.0,
            "balance_min_over_mean": round(min(paid) / mean, 4) if mean else 0.0,
        },
        "day": day_totals(shapes),
        "couriers": [per[c.courier_id] for c in plan.couriers],
        "strategy": plan.strategy,
        "repair": {"stops_tried": plan.repair_tried, "stops_taken_in": plan.repair_inserted},
        "search": {
            "budget": plan.search.budget,
            "iterations": plan.search.iterations,
            "solves": plan.search.solves,
            "cut_by_time_limit": plan.search.cut,
            "repair_cut_by_time_limit": plan.search.repair_cut,
            # Under a work budget with nothing cut, the same inputs, seed and time limit give
            # this plan again, on any machine.
            "repeatable": plan.search.repeatable,
        },
        "districts": _district_metrics(plan, previous),
        "timings_s": {k: round(v, 3) for k, v in plan.timings_s.items()},
        "seed": plan.seed,
        "streets": plan.streets_source,
        "station": {"lon": plan.station.lon, "lat": plan.station.lat},
    }


def _district_metrics(plan: DayPlan, previous: Mapping[str, str] | None) -> dict[str, Any]:
    """Zone re-entries per trip and, given yesterday's assignment, day-to-day stability."""
    from courier.districts import stability, zone_reentries

    reentries, routes = zone_reentries(plan.trips, plan.stops)
    out: dict[str, Any] = {
        "zone_reentries": reentries,
        "zone_reentries_per_route": round(reentries / routes, 4) if routes else 0.0,
        "stability": None,
        "stability_stops_compared": 0,
    }
    if previous:
        share, compared = stability(plan.districts, plan.stops, previous)
        out["stability"] = round(share, 4)
        out["stability_stops_compared"] = compared
    return out


# --------------------------------------------------------------------------------------------
# The station manager's one-page report and the printable sort sheets.
#
# Every piece of user text (ids, names, addresses, reasons) goes through ``esc``; the pages load
# nothing from outside (inline CSS, figures are files beside the page).

# Matplotlib families that draw Chinese, tried in this order when installed; DejaVu Sans last.
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC")
_MANY_COURIERS = 12  # more than this and a per-courier legend is unreadable




# --------------------------------------------------------------------------------------------
# Numbers behind the figures


def _time_split_s(plan: DayPlan) -> dict[str, dict[str, int]]:
    """Per courier, where the paid day went (seconds), from :func:`courier.dayshape.day_shapes`:
    driving, service at doors, waiting at doors, lunch, and at the station (loading, waiting
    between trips); the parts add up to the paid day."""
    return {sh.courier_id: {"driving": sh.driving_s, "service": sh.service_s,
                            "waiting": sh.door_wait_s, "lunch": sh.lunch_s,
                            "station": sh.station_s}
            for sh in day_shapes(plan.couriers, plan.trips, plan.breaks)}


def _courier_ids(plan: DayPlan) -> list[str]:
    ids = [c.courier_id for c in plan.couriers]
    extra = sorted({t.courier_id for t in plan.trips} - set(ids))
    return ids + extra


# --------------------------------------------------------------------------------------------
# Figures


def _plot_font(family_names: set[str]) -> list[str]:
    return [f for f in _CJK_FONTS if f in family_names] + ["DejaVu Sans"]


def _figures(plan: DayPlan, t: Text) -> dict[str, bytes]:
    """Draw the three report figures; return {file name: PNG bytes}."""
    # Figures without pyplot: no global backend switch, no figure registry to leak into.
    import matplotlib
    from matplotlib import font_manager

    out: dict[str, bytes] = {}
    families = {f.name for f in font_manager.fontManager.ttflist}
    with matplotlib.rc_context({
        "font.family": "sans-serif",
        "font.sans-serif": _plot_font(families),
        "font.size": 10,
        # Ids and names are plain text: "$x$" in a courier id must not become mathtext.
        "text.parse_math": False,
        "svg.hashsalt": "courier",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }), warnings.catch_warnings():
        # Without a CJK font a Chinese id draws as boxes: a cosmetic loss, not an error.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        for name, draw in (("workload.png", _fig_workload), ("arrivals.png", _fig_arrivals),
                           ("load.png", _fig_load)):
            fig = draw(plan, t)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
            out[name] = buffer.getvalue()
    return out


def _fig_workload(plan: DayPlan, t: Text) -> Figure:
    from matplotlib.figure import Figure

    split = _time_split_s(plan)
    ids = _courier_ids(plan)
    n = max(len(ids), 1)
    fig = Figure(figsize=(min(max(4.8, 0.45 * n + 2.6), 11.0), 3.6), layout="constrained")
    ax = fig.add_subplot()
    parts = (("driving", t("driving"), "#4c78a8"),
             ("service", t("service at the door"), "#59a14f"),
             ("waiting", t("waiting at a door"), "#f28e2b"), ("lunch", t("lunch"), "#edc948"),
             ("station", t("at the station (loading, waiting)"), "#bab0ac"))
    bottom = [0.0] * len(ids)
    x = list(range(len(ids)))
    for key, label, colour in parts:
        hours = [split.get(cid, {}).get(key, 0) / 3600 for cid in ids]
        if key in ("station", "lunch") and not any(hours):
            continue
        ax.bar(x, hours, bottom=bottom, color=colour, label=label, width=0.7)
        bottom = [b + h for b, h in zip(bottom, hours, strict=True)]
    ax.set_xticks(x, ids, rotation=90 if len(ids) > 8 else 0, fontsize=8 if len(ids) > 8 else 10)
    ax.set_ylabel(t("hours"))
    ax.set_title(t("Paid day per courier (shift start to last return)"), fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    if not ids:
        ax.text(0.5, 0.5, t("no couriers"), transform=ax.transAxes, ha="center")
    return fig


def _fig_arrivals(plan: DayPlan, t: Text) -> Figure:
    import matplotlib
    from matplotlib.figure import Figure

    ids = [cid for cid in _courier_ids(plan) if any(t.courier_id == cid for t in plan.trips)]
    arrivals = {cid: [v.arrival_s / 3600 for t in plan.trips if t.courier_id == cid for v in t.visits]
                for cid in ids}
    every = [a for values in arrivals.values() for a in values]
    fig = Figure(figsize=(9.6, 3.2), layout="constrained")
    ax = fig.add_subplot()
    if every:
        first, last = int(min(every)), int(max(every)) + 1
        bins = list(range(first, last + 1))
        if len(ids) <= _MANY_COURIERS:
            # tab10 keeps neighbours apart; tab20 pairs a dark and a light shade of one hue.
            cmap = matplotlib.colormaps["tab10" if len(ids) <= 10 else "tab20"]
            ax.hist([arrivals[cid] for cid in ids], bins=bins, stacked=True, label=ids,
                    color=[cmap(i) for i in range(len(ids))], rwidth=0.9)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8,
                      title=t("courier"))
        else:
            ax.hist(every, bins=bins, color="#4c78a8", rwidth=0.9)
        ax.set_xticks(bins, [f"{h:02d}:00" for h in bins], fontsize=8)
    else:
        ax.text(0.5, 0.5, t("no stops routed"), transform=ax.transAxes, ha="center")
    ax.set_xlabel(t("arrival time (hour of the day)"))
    ax.set_ylabel(t("stops"))
    ax.set_title(t("Arrivals over the day"))
    return fig


def _fig_load(plan: DayPlan, t: Text) -> Figure:
    from matplotlib.figure import Figure

    capacity = {c.courier_id: c.capacity_parcels for c in plan.couriers}
    order = {cid: i for i, cid in enumerate(_courier_ids(plan))}
    trips = sorted(plan.trips, key=lambda trip: (order[trip.courier_id], trip.trip))
    n = max(len(trips), 1)
    fig = Figure(figsize=(min(max(4.8, 0.35 * n + 2.6), 11.0), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(trips)))
    ax.bar(x, [trip.load_parcels for trip in trips], color="#4c78a8", width=0.7,
           label=t("parcels on the trip"))
    caps = [(i, capacity[trip.courier_id]) for i, trip in enumerate(trips)
            if trip.courier_id in capacity]
    if caps:
        # A short line across each bar: it stays one bar wide however many trips there are.
        ax.hlines([c for _, c in caps], [i - 0.42 for i, _ in caps], [i + 0.42 for i, _ in caps],
                  colors="#e15759", linewidths=2.5, zorder=3, label=t("courier's capacity"))
    labels = [t("{courier} T{trip}", courier=trip.courier_id, trip=trip.trip) for trip in trips]
    ax.set_xticks(x, labels, rotation=90 if len(trips) > 6 else 0,
                  fontsize=8 if len(trips) > 6 else 10)
    ax.set_ylabel(t("parcels"))
    ax.set_ylim(bottom=0)
    ax.set_title(t("Load per trip"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    if not trips:
        ax.text(0.5, 0.5, t("no trips"), transform=ax.transAxes, ha="center")
    return fig


# --------------------------------------------------------------------------------------------
# The report page

_REPORT_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0 auto;
max-width:1100px;padding:16px 24px;color:#222;line-height:1.35}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.15em;margin:22px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#666;margin:0 0 12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 10px;background:#fafafa}
.kpi b{display:block;font-size:1.5em}.kpi span{color:#555;font-size:.85em}
.kpi.warn{border-color:#e15759;background:#fff3f3}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:8px;align-items:start}
.figs img{max-width:100%;height:auto;display:block}.figs img.wide{grid-column:1/-1}
.small{font-size:.85em;color:#555}
@media print{body{max-width:none;padding:0}.kpi{background:none}}
"""


def report_files(plan: DayPlan, summary: dict[str, Any], *,
                 t: Text = ZH) -> dict[str, str | bytes]:
    """Return the station manager's one-page report: ``report.html`` and its PNG figures.

    The numbers come from ``summary`` (the output of :func:`summary`, with the measured
    timings); the figures (``figures/workload.png``, ``arrivals.png``, ``load.png``) and the
    courier table from the plan. Keys are paths relative to the plan folder; ``t`` is the
    language of the page and the figures.
    """
    figures = {f"figures/{name}": png for name, png in _figures(plan, t).items()}
    return {"report.html": _report_html(plan, summary, list(figures), t), **figures}


def _kpi(value: str, label: str, *, warn: bool = False) -> str:
    cls = "kpi warn" if warn else "kpi"
    return f'<div class="{cls}"><b>{esc(value)}</b><span>{esc(label)}</span></div>'


def _report_html(plan: DayPlan, summary: dict[str, Any], figures: Sequence[str], t: Text) -> str:
    parcels = summary["parcels"]
    totals = summary["totals"]
    by_reason: dict[str, int] = summary.get("unassigned_by_reason", {})
    km = totals["distance_m"] / 1000
    hours = totals["paid_s"] / 3600
    day = summary.get("day", {})
    kpis = [
        _kpi(t.num(parcels["planned"], 0), t("parcels planned")),
        _kpi(t.num(parcels["unassigned"], 0), t("parcels unassigned"),
             warn=parcels["unassigned"] > 0),
        _kpi(t.num(parcels["rejected"], 0), t("input rows rejected"),
             warn=parcels["rejected"] > 0),
        _kpi(f"{totals['couriers_used']} / {totals['couriers']}", t("couriers used")),
        _kpi(t.num(totals["trips"], 0), t("trips")),
        _kpi(t.num(km), t("km driven")),
        _kpi(t.num(hours), t("courier hours")),
        _kpi(t.num(totals["parcels_per_courier_hour"]), t("parcels per courier-hour")),
        _kpi(f"{t.num(totals['on_time_share'] * 100)} %", t("stops on time"),
             warn=totals["on_time_share"] < 1.0),
        _kpi(f"{t.num(totals['balance_max_over_mean'], 2)} / "
             f"{t.num(totals['balance_min_over_mean'], 2)}",
             t("balance: longest / shortest day over mean")),
        _kpi(t("{minutes} min", minutes=t.num(day.get("median_late_start_min", 0), 0)),
             t("median first departure after shift start"),
             warn=day.get("median_late_start_min", 0) > 45),
        _kpi(f"{t.num(day.get('door_wait_share', 0) * 100)} %",
             t("of the paid day waiting at doors"), warn=day.get("door_wait_share", 0) > 0.05),
    ]
    check = (t("adds up") if parcels.get("adds_up")
             else t("does NOT add up: check rejects.csv and unassigned.csv"))
    intro = t("{input} input parcels = {planned} planned + {unassigned} unassigned + "
              "{rejected} rejected ({check}).", input=t.num(parcels["input"], 0),
              planned=t.num(parcels["planned"], 0), unassigned=t.num(parcels["unassigned"], 0),
              rejected=t.num(parcels["rejected"], 0), check=check)
    if "delivered" in parcels:  # a re-plan: the rest of the day
        replan = summary.get("replan", {})
        intro = t("Re-planned at {now}: {input} parcels so far = {delivered} delivered + "
                  "{on_board} on board + {planned} planned + {unassigned} unassigned + "
                  "{rejected} rejected ({check}); {changes} changed courier or trip "
                  "(changes.csv).", now=str(replan.get("now", "")),
                  input=t.num(parcels["input"], 0), delivered=t.num(parcels["delivered"], 0),
                  on_board=t.num(parcels["on_board"], 0), planned=t.num(parcels["planned"], 0),
                  unassigned=t.num(parcels["unassigned"], 0),
                  rejected=t.num(parcels["rejected"], 0), check=check,
                  changes=t.num(replan.get("changes", 0), 0))

    if by_reason:
        rows = "".join(
            f"<tr><td>{esc(code)}</td><td class=n>{t.num(count, 0)}</td>"
            f"<td>{esc(t(REASONS[code]) if code in REASONS else '')}</td></tr>"
            for code, count in by_reason.items()
        )
        unassigned = (f"<table><thead><tr><th>{t('reason')}</th><th class=n>{t('parcels')}</th>"
                      f"<th>{t('meaning')}</th></tr></thead><tbody>{rows}</tbody></table>"
                      "<p class=small>"
                      + t("Every unassigned parcel is listed in unassigned.csv, with its own "
                          "reason.") + "</p>")
    else:
        unassigned = f"<p>{t('Every valid parcel is planned.')}</p>"

    trips_of: dict[str, list[Trip]] = {}
    for trip in plan.trips:
        trips_of.setdefault(trip.courier_id, []).append(trip)
    names = {c.courier_id: c.name for c in plan.couriers}
    table_rows = []
    for row in summary["couriers"]:
        cid = row["courier_id"]
        mine = trips_of.get(cid, [])
        first = hhmm(min(trip.depart_s for trip in mine)) if mine else "–"
        last = hhmm(max(trip.return_s for trip in mine)) if mine else "–"

        def h(key: str, row: dict[str, Any] = row) -> str:
            return t.num(row.get(key, 0) / 3600, 2)

        table_rows.append(
            f"<tr><td>{esc(cid)}</td><td>{esc(names.get(cid, ''))}</td>"
            f"<td>{esc(row.get('vehicle', ''))}</td>"
            f"<td class=n>{row['trips']}</td><td class=n>{row['stops']}</td>"
            f"<td class=n>{row['parcels']}</td><td class=n>{t.num(row['distance_m'] / 1000)}</td>"
            f"<td class=n>{h('paid_day_s')}</td>"
            f"<td class=n>{first}</td><td class=n>{last}</td>"
            f"<td class=n>{h('driving_s')}</td><td class=n>{h('service_s')}</td>"
            f"<td class=n>{h('door_wait_s')}</td><td class=n>{h('station_s')}</td>"
            f"<td class=n>{esc(row.get('lunch') or '–')}</td></tr>"
        )
    heads = "".join(
        f"<th{' class=n' if numeric else ''}>{label}</th>" for label, numeric in (
            (t("courier"), False), (t("name"), False), (t("vehicle"), False), (t("trips"), True),
            (t("stops"), True), (t("parcels"), True), (t("km"), True), (t("paid h"), True),
            (t("first departure"), True), (t("last return"), True), (t("driving h"), True),
            (t("service h"), True), (t("waiting at doors h"), True),
            (t("at the station h"), True), (t("lunch"), True)))
    couriers = (
        f"<table><thead><tr>{heads}</tr></thead><tbody>{''.join(table_rows)}</tbody></table>"
        "<p class=small>" + t("The paid day runs from the shift start to the last return; it is "
                              "driving, service, waiting at doors, lunch and time at the station "
                              "(loading and waiting between trips).") + "</p>"
    )
    alts = {"workload.png": t("Workload per courier: driving, service and waiting hours"),
            "arrivals.png": t("Arrivals over the day, stops per hour"),
            "load.png": t("Parcels per trip against each courier's capacity")}
    # The two bar charts side by side, the arrivals over the day below them at full width.
    order = {"workload.png": 0, "load.png": 1, "arrivals.png": 2}
    imgs = "".join(
        f'<img src="{esc(src)}" alt="{esc(alts.get(base, src))}"'
        f'{" class=wide" if base == "arrivals.png" else ""}>'
        for src, base in sorted(((f, f.rsplit("/", 1)[-1]) for f in figures),
                                key=lambda fb: order.get(fb[1], 9))
    )
    title = esc(t("Delivery plan – {station}", station=plan.station.name))
    meta = esc(t("seed {seed} · streets {streets} · courier {version}",
                 seed=summary.get("seed", plan.seed),
                 streets=summary.get("streets", plan.streets_source) or "–",
                 version=summary.get("versions", {}).get("courier", "?")))
    return (
        f'<!DOCTYPE html>\n<html lang="{t.html_lang}"><head><meta charset=utf-8>'
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{_REPORT_CSS}</style></head><body>"
        f"<h1>{title}</h1><p class=sub>{esc(intro)}</p>"
        f"<div class=kpis>{''.join(kpis)}</div>"
        f"<h2>{t('Not planned')}</h2>{unassigned}"
        f"<h2>{t('Couriers')}</h2>{couriers}"
        f"<h2>{t('Figures')}</h2><div class=figs>{imgs}</div>"
        f"<p class=small>{meta}</p></body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# Sort sheets

_SHEET_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",
sans-serif;margin:0 auto;max-width:900px;padding:12px 20px;color:#000}
h1{font-size:28px;margin:0 0 4px}.how{font-size:15px;margin:6px 0 14px;padding:8px 10px;
border:1px solid #999;background:#f6f6f6}
h2{font-size:24px;margin:26px 0 6px;border-top:3px solid #000;padding-top:8px}
.order{font-size:15px;margin:0 0 10px}
.bag{page-break-inside:avoid;break-inside:avoid;border:2px solid #000;margin:0 0 14px;padding:8px 12px}
.label{font-size:56px;font-weight:800;line-height:1.1;margin:0 0 8px;overflow-wrap:anywhere}
.chute{font-size:28px;font-weight:700;margin:0 0 6px}.chute:empty{display:none}
table{border-collapse:collapse;width:100%;font-size:16px;table-layout:fixed}
th,td{border:1px solid #777;padding:4px 6px;text-align:left;vertical-align:top}
col.box{width:34px}col.pos{width:104px}col.pid{width:30%}col.seq{width:64px}
td.pos,td.pid{font-size:20px;font-weight:700;overflow-wrap:anywhere}
thead{display:table-header-group}th{white-space:nowrap}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.box{width:28px}.addr{overflow-wrap:anywhere}
.pickups{page-break-inside:avoid;break-inside:avoid;border:2px dashed #000;padding:8px 12px;
margin:0 0 14px}.pickups h3{font-size:24px;margin:0 0 6px}
@page{size:A4;margin:12mm 12mm 14mm 12mm}
@media print{body{max-width:none;padding:0}.how{background:none}
h2{page-break-before:auto;break-after:avoid}.trip{page-break-before:always;break-before:page}
.trip:first-of-type{page-break-before:auto;break-before:auto}}
"""

def _sheet_how(t: Text) -> str:
    return t(
        "<b>How to pack.</b> One block below is one bag. Put the parcels into the bag in the "
        "order of the table: <b>position 1 goes in first</b> (it is for the bag's last stop and "
        "ends at the bottom); the highest number goes in last and sits on top (the bag's first "
        "stop). Positions start again at 1 in every bag. Then load the vehicle with the highest "
        "bag number first and bag 1 last, nearest the door. Pickups are not packed: the courier "
        "collects them on the way.")


def sort_sheet_files(plan: DayPlan, *, t: Text = ZH) -> dict[str, str]:
    """Return the printable sort sheets: one per courier, ``sheets/sort-<id>.html``, and one
    per chute of the sort wall, ``sheets/chute-<n>.html``.

    The id is made safe by :func:`courier.io.safe_filename`. A courier's sheet groups their
    parcels by trip, then bag, with a big bag label per block and the parcels in load order
    (position 1 first into the bag); pickups of each trip are listed apart, to be collected
    on the way. A chute's sheet lists its bags in the order they are filled (courier, trip,
    bag), each with its parcels in load order.
    """
    ids = [c.courier_id for c in plan.couriers]
    ids += sorted({s.courier_id for s in plan.sort_lines} - set(ids))
    stems = unique_stems(ids)
    look = _Sheets(plan)
    sheets = {f"sheets/sort-{stems[cid]}.html": _sheet_html(look, cid, t) for cid in ids}
    for chute in sorted(look.by_chute):
        sheets[f"sheets/chute-{chute}.html"] = _chute_html(look, chute, t)
    return sheets


class _Sheets:
    """What the sheets look up, indexed once for all of them: parcels, stops, couriers, each
    courier's trips and sort lines, each chute's bagged lines."""

    def __init__(self, plan: DayPlan) -> None:
        self.parcels = {p.parcel_id: p for p in plan.parcels}
        self.stops = {s.stop_id: s for s in plan.stops}
        self.couriers = {c.courier_id: c for c in plan.couriers}
        self.breaks = plan.breaks
        self.trips: dict[str, dict[int, Trip]] = {}
        for trip in plan.trips:
            self.trips.setdefault(trip.courier_id, {})[trip.trip] = trip
        self.lines: dict[str, list[SortLine]] = {}
        self.by_chute: dict[int, list[SortLine]] = {}
        for line in plan.sort_lines:  # in courier, trip, bag order: each list keeps it
            self.lines.setdefault(line.courier_id, []).append(line)
            if line.bag > 0:
                self.by_chute.setdefault(line.chute, []).append(line)

    def address(self, line: SortLine) -> str:
        return address_of(self.parcels.get(line.parcel_id), self.stops.get(line.stop_id))

    def who(self, courier_id: str) -> str:
        courier = self.couriers.get(courier_id)
        return esc(f"{courier_id} {courier.name}" if courier and courier.name else courier_id)


def _bag_block(look: _Sheets, in_bag: Sequence[SortLine], t: Text) -> str:
    """One bag: its big label (courier, trip, bag, chute) and its parcels in load order."""
    first = in_bag[0]
    rows = "".join(
        f"<tr><td class=box>☐</td><td class='n pos'>{s.load_position}</td>"
        f"<td class=pid>{esc(s.parcel_id)}</td><td class=n>{s.seq}</td>"
        f"<td class=addr>{esc(look.address(s))}</td></tr>"
        for s in sorted(in_bag, key=lambda s: s.load_position)
    )
    label = t("{courier} · Trip {trip} · Bag {bag}", courier=esc(first.courier_id),
              trip=first.trip, bag=first.bag)
    chute = t("chute {n}", n=first.chute) if first.chute else ""
    return (
        f"<section class=bag><div class=label>{label}</div>"
        f"<p class=chute>{chute}</p>"
        "<table><colgroup><col class=box><col class=pos><col class=pid><col class=seq><col>"
        f"</colgroup><thead><tr><th>✓</th><th class=n>{t('position')}</th>"
        f"<th>{t('parcel')}</th><th class=n>{t('stop')}</th><th>{t('address')}</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
        f"<p class=order>{t.n('{n} parcel', '{n} parcels', len(in_bag))}</p></section>"
    )


def _page(t: Text, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{t.html_lang}"><head><meta charset=utf-8>'
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{_SHEET_CSS}</style></head><body>{body}</body></html>\n"
    )


def _sheet_html(look: _Sheets, courier_id: str, t: Text) -> str:
    courier = look.couriers.get(courier_id)
    trips = look.trips.get(courier_id, {})
    lines = look.lines.get(courier_id, [])
    who = look.who(courier_id)
    delivered = [s for s in lines if s.bag > 0]
    n_bags = len({(s.trip, s.bag) for s in delivered})
    chutes = sorted({s.chute for s in delivered if s.chute})
    facts = [t.n("{n} trip", "{n} trips", len(trips))]
    if courier:
        facts.append(esc(courier.vehicle))
    facts.append(t("{parcels} in {bags}", parcels=t.n("{n} parcel", "{n} parcels", len(delivered)),
                   bags=t.n("{n} bag", "{n} bags", n_bags)))
    facts.append(t.n("{n} pickup", "{n} pickups", len(lines) - len(delivered)))
    if chutes:
        facts.append(t("chute {n}", n=", ".join(map(str, chutes))))
    brk = look.breaks.get(courier_id)
    if brk:
        facts.append(t("lunch {start}-{end}", start=hhmm(brk[0]), end=hhmm(brk[1])))
    head = (f"<h1>{t('Sort sheet {courier}', courier=who)}</h1>"
            f"<p class=order>{' · '.join(facts)}</p><p class=how>{_sheet_how(t)}</p>")
    body = []
    for trip_no in sorted({s.trip for s in lines} | trips.keys()):
        trip = trips.get(trip_no)
        mine = [s for s in lines if s.trip == trip_no]
        bags = sorted({s.bag for s in mine if s.bag > 0})
        when = [t("departs {depart}, back {back}", depart=hhmm(trip.depart_s),
                  back=hhmm(trip.return_s)),
                t.n("{n} stop", "{n} stops", len(trip.visits))] if trip else []
        ready_s = max((look.stops[v.stop_id].ready_s for v in trip.visits), default=0) if trip else 0
        if ready_s:
            when.append(t("its parcels ready at {time}", time=hhmm(ready_s)))
        when.append(t("{parcels} in {bags}",
                      parcels=t.n("{n} parcel", "{n} parcels", sum(s.bag > 0 for s in mine)),
                      bags=t.n("{n} bag", "{n} bags", len(bags))))
        if len(bags) > 1:
            order = [t("bag {n}", n=b) for b in reversed(bags)]
            when.append(t("load the vehicle: {bags}", bags=", ".join(order)))
        blocks = [f"<h2>{t('Trip {n}', n=trip_no)}</h2><p class=order>{' · '.join(when)}</p>"]
        blocks.extend(_bag_block(look, [s for s in mine if s.bag == bag], t) for bag in bags)
        pickups = sorted((s for s in mine if s.bag == 0), key=lambda s: (s.seq, s.parcel_id))
        if pickups:
            rows = "".join(
                f"<tr><td class=box>☐</td><td class=n>{s.seq}</td><td class=pid>{esc(s.parcel_id)}</td>"
                f"<td class=addr>{esc(look.address(s))}</td></tr>"
                for s in pickups
            )
            blocks.append(
                "<section class=pickups><h3>"
                + t("{courier} · Trip {trip} · collect on the way", courier=who, trip=trip_no)
                + "</h3><table><colgroup><col class=box><col class=seq><col class=pid><col>"
                f"</colgroup><thead><tr><th>✓</th><th class=n>{t('stop')}</th>"
                f"<th>{t('parcel')}</th><th>{t('address')}</th></tr></thead>"
                f"<tbody>{rows}</tbody></table></section>"
            )
        body.append(f"<div class=trip>{''.join(blocks)}</div>")
    if not body:
        body.append(f"<p class=order>{t('No parcels for this courier today.')}</p>")
    return _page(t, t("Sort sheet {courier}", courier=who), head + "".join(body))


def _chute_html(look: _Sheets, chute: int, t: Text) -> str:
    """A chute's sheet: its bags in the order they are filled, courier by courier."""
    lines = look.by_chute[chute]
    bags: dict[tuple[str, int, int], list[SortLine]] = {}
    for s in lines:  # sort lines come by courier, trip, bag: the filling order
        bags.setdefault((s.courier_id, s.trip, s.bag), []).append(s)
    couriers = list(dict.fromkeys(cid for cid, _, _ in bags))
    facts = [", ".join(look.who(cid) for cid in couriers),
             t("{parcels} in {bags}", parcels=t.n("{n} parcel", "{n} parcels", len(lines)),
               bags=t.n("{n} bag", "{n} bags", len(bags)))]
    head = (f"<h1>{t('Chute {n}', n=chute)}</h1><p class=order>{' · '.join(facts)}</p>"
            "<p class=how>" + t("Fill the bags in this order, each in the order of its table: "
                                "position 1 goes in first.") + "</p>")
    blocks = "".join(_bag_block(look, in_bag, t) for in_bag in bags.values())
    return _page(t, t("Chute {n}", n=chute), head + blocks)
