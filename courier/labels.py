"""Parcel labels: one per delivered parcel, with a QR code, for A4 label sheets or a thermal printer.

:func:`label_files` writes ``labels/labels-<courier>.html`` for every courier with parcels to
deliver: one label per delivery in the order the sorter handles them (trip, bag, load
position), so the sheet comes off the printer in the order the parcels go into the bags.
A pickup gets no label: it is collected from the sender on the way, not sorted into a bag
(the page says how many the courier has; the sort sheet lists them).

Each label shows in large type the courier, trip, bag, load position and stop number (the
visit's place in the trip), then the address and the recipient with the phone masked, and a
QR code (inline SVG drawn from zxing-cpp's encoder: the page needs no other file and works
offline).

The QR code
-----------
Its text is ``|``-separated ``KEY:value`` fields in this order::

    P:<parcel_id>|C:<courier_id>|T:<trip>|B:<bag>|N:<load position>

for example ``P:SF123|C:C1|T:1|B:2|N:5``. Values are percent-encoded UTF-8: every byte but
the RFC 3986 unreserved characters (``A-Z a-z 0-9 - . _ ~``) is written ``%XX``, so a ``|``
or ``:`` in an id can never split a field, Chinese ids survive any scanner (the code is plain
ASCII) and ``urllib.parse.unquote`` gives the id back. :func:`read_label_code` parses it;
readers ignore keys they do not know, so a field added later (a chute, say) breaks none.

Printing
--------
The page has a print-format choice (also ``?format=a4`` or ``?format=thermal`` in the URL):

- ``a4``: sheets of 3 x 8 labels of 70 x 36 mm (the common 24-up A4 label sheet, 4.5 mm top
  margin), 24 labels per page;
- ``thermal``: one 100 x 150 mm label per page, for a thermal label printer.

A small script switches a class on ``<body>`` and the page's ``@page`` rule; without script
the page prints on A4.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, unquote

import numpy as np
import zxingcpp

from courier import procs
from courier.i18n import ZH, Text
from courier.io import unique_stems
from courier.model import Courier, DayPlan, Parcel, SortLine, Stop
from courier.sortplan import address_of
from courier.text import esc, mask_phone

__all__ = ["LABELS_PER_SHEET", "LabelCode", "label_code", "label_files", "read_label_code"]

# The A4 label sheet: 3 columns x 8 rows of 70 x 36 mm.
_COLUMNS, _ROWS = 3, 8
LABELS_PER_SHEET = _COLUMNS * _ROWS

# Keys of the QR text, in the order they are written.
_KEYS = ("P", "C", "T", "B", "N")


@dataclass(frozen=True, slots=True)
class LabelCode:
    """What a label's QR code says: the parcel and where it goes in the sort."""

    parcel_id: str
    courier_id: str
    trip: int
    bag: int
    position: int


def label_code(line: SortLine) -> str:
    """Return the QR text for ``line``: ``P:<parcel>|C:<courier>|T:<trip>|B:<bag>|N:<position>``.

    Values are percent-encoded (see the module docstring), so the text is ASCII.
    """
    values = (line.parcel_id, line.courier_id, line.trip, line.bag, line.load_position)
    return "|".join(f"{key}:{quote(str(value), safe='')}"
                    for key, value in zip(_KEYS, values, strict=True))


def read_label_code(text: str) -> LabelCode:
    """Parse a label's QR text (as :func:`label_code` writes it); unknown keys are ignored.

    Raises
    ------
    ValueError
        A field is missing, repeated or not ``KEY:value``, or trip, bag or position is not a
        whole number; the message names every problem.
    """
    fields: dict[str, str] = {}
    problems = []
    for part in text.strip().split("|"):
        key, colon, value = part.partition(":")
        if not colon:
            problems.append(f"{part!r} is not KEY:value")
        elif key in fields:
            problems.append(f"{key} given twice")
        else:
            fields[key] = unquote(value)
    problems += [f"no {key}: field" for key in _KEYS if key not in fields]
    numbers: dict[str, int] = {}
    for key in ("T", "B", "N"):
        if key in fields:
            if fields[key].isdigit():
                numbers[key] = int(fields[key])
            else:
                problems.append(f"{key}:{fields[key]!r} is not a whole number")
    if problems:
        raise ValueError(f"not a courier label code {text!r}: {'; '.join(problems)}; "
                         "expected P:<parcel>|C:<courier>|T:<trip>|B:<bag>|N:<position>")
    return LabelCode(parcel_id=fields["P"], courier_id=fields["C"], trip=numbers["T"],
                     bag=numbers["B"], position=numbers["N"])


def label_files(plan: DayPlan, *, t: Text = ZH) -> dict[str, str]:
    """Return one printable label page per courier with deliveries: {``labels/labels-<id>.html``: html}.

    The id is made safe by :func:`courier.io.safe_filename` (ids equal but for case get a hash,
    as the sort sheets do). Labels are in sort order: trip, bag, load position. Pickups
    (bag 0) get no label.

    Parameters
    ----------
    plan
        The day's plan; its ``sort_lines`` say which parcels get a label.
    t
        The language of the page.
    """
    lines = sorted((s for s in plan.sort_lines if s.bag > 0),
                   key=lambda s: (s.trip, s.bag, s.load_position))
    with_labels = {s.courier_id for s in lines}
    ids = [c.courier_id for c in plan.couriers if c.courier_id in with_labels]
    ids += sorted(with_labels - set(ids))
    stems = unique_stems(ids)
    page = _Page(plan, t, _qr_codes([label_code(s) for s in lines]))
    by_courier: dict[str, list[SortLine]] = {cid: [] for cid in ids}
    for s in lines:
        by_courier[s.courier_id].append(s)
    return {f"labels/labels-{stems[cid]}.html": page.html(cid, by_courier[cid]) for cid in ids}


# zxing-cpp encodes a label's code in about 0.45 ms (segno, pure Python, took 2.3 ms: a
# 20,000-parcel re-plan's 12,000 labels took 35 s); from this many codes on, they are drawn on
# every core.
_PARALLEL_FROM = 8000


def _qr_codes(codes: Sequence[str]) -> dict[str, str]:
    """Return {code: inline SVG}; the same SVGs however many processes draw them."""
    workers = min(os.cpu_count() or 1, 8)
    if len(codes) < _PARALLEL_FROM or workers < 2:
        return {code: _qr_svg(code) for code in codes}
    ctx = procs.forkserver()  # no copy of the caller's threads or heap
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        svgs = pool.map(_qr_svg, codes, chunksize=max(len(codes) // (4 * workers), 1))
        return dict(zip(codes, svgs, strict=True))


class _Page:
    """The label pages of one plan, in one language."""

    def __init__(self, plan: DayPlan, t: Text, qr: dict[str, str]) -> None:
        self.t = t
        self.qr = qr  # label code: its QR code as inline SVG
        self.couriers: dict[str, Courier] = {c.courier_id: c for c in plan.couriers}
        self.parcels: dict[str, Parcel] = {p.parcel_id: p for p in plan.parcels}
        self.stops: dict[str, Stop] = {s.stop_id: s for s in plan.stops}
        self.pickups = Counter(s.courier_id for s in plan.sort_lines if s.bag <= 0)

    def html(self, courier_id: str, lines: Sequence[SortLine]) -> str:
        t = self.t
        courier = self.couriers.get(courier_id)
        who = esc(courier_id) + (f" <span class=name>{esc(courier.name)}</span>"
                                 if courier and courier.name else "")
        sheets = "".join(
            "<section class=sheet>" + "".join(self._label(s, who) for s in
                                              lines[i:i + LABELS_PER_SHEET]) + "</section>"
            for i in range(0, len(lines), LABELS_PER_SHEET)
        )
        pickups = self.pickups[courier_id]
        note = (" · " + esc(t.n("{n} pickup has no label: collect it on the way (see the sort "
                                "sheet).", "{n} pickups have no label: collect them on the way "
                                "(see the sort sheet).", pickups))) if pickups else ""
        title = esc(t("Parcel labels: {courier}", courier=courier_id))
        # The courier's id and name in their own markup, where the translation puts them.
        heading = esc(t("Parcel labels: {courier}", courier=_MARK)).replace(_MARK, who)
        formats = "".join(f"<option value={key}>{esc(name)}</option>" for key, name in (
            ("a4", t("A4 sheet, 3 × 8 labels of 70 × 36 mm")),
            ("thermal", t("Thermal label, 100 × 150 mm")),
        ))
        return (
            f'<!DOCTYPE html><html lang="{esc(t.html_lang)}"><head><meta charset=utf-8>'
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_CSS}</style>"
            f"<style id=page-size>{_PAGE_SIZE['a4']}</style></head><body class=fmt-a4>"
            f"<header class=bar><h1>{heading}</h1>"
            f"<p>{esc(t.n('{n} label', '{n} labels', len(lines)))}{note}</p>"
            f"<p><label>{esc(t('Print format'))} <select id=format>{formats}</select></label> "
            f"<button type=button id=print>{esc(t('Print'))}</button></p></header>"
            f"<main>{sheets}</main><script>{_SCRIPT}</script></body></html>"
        )

    def _label(self, line: SortLine, who: str) -> str:
        t = self.t
        parcel = self.parcels.get(line.parcel_id)
        address = address_of(parcel, self.stops.get(line.stop_id))
        recipient = " ".join(x for x in (parcel.recipient if parcel else "",
                                         mask_phone(parcel.phone) if parcel else "") if x)
        code = label_code(line)
        figures: list[tuple[str, int]] = [(t("Chute"), line.chute)] if line.chute else []
        figures += [(t("Trip"), line.trip), (t("Bag"), line.bag),
                    (t("Position"), line.load_position), (t("Stop"), line.seq)]
        boxes = "".join(f"<div><dt>{esc(name)}</dt><dd>{esc(value)}</dd></div>"
                        for name, value in figures)
        return (
            f'<article class=label data-code="{esc(code)}">'
            f"<div class=qr>{self.qr[code]}<div class=pid>{esc(line.parcel_id)}</div></div>"
            f"<div class=who>{who}</div><dl class=figs>{boxes}</dl>"
            f"<div class=addr>{esc(address)}</div><div class=rcpt>{esc(recipient)}</div>"
            "</article>"
        )


def _qr_svg(code: str) -> str:
    """The QR code of ``code`` as a compact inline SVG: one stroked line per run of dark modules
    (relative moves, as segno writes them), two modules of border (the label's own white).

    Error level M survives a smudge on a thermal print. The tests decode every code of a page
    from a screenshot.
    """
    symbol = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    dark = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128
    n = dark.shape[0]
    padded = np.zeros((n, n + 2), dtype=np.int8)
    padded[:, 1:-1] = dark
    flips = np.diff(padded, axis=1)
    rows, starts = np.nonzero(flips == 1)
    _, ends = np.nonzero(flips == -1)  # row-major like the starts: the same runs, in order
    parts: list[str] = []
    at: tuple[int, int] | None = None
    for y, x0, x1 in zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True):
        if at is None:
            parts.append(f"M{x0 + _QR_BORDER} {y + _QR_BORDER}.5h{x1 - x0}")
        else:
            parts.append(f"m{x0 - at[0]} {y - at[1]}h{x1 - x0}")
        at = (x1, y)
    size = n + 2 * _QR_BORDER
    return (f'<svg viewBox="0 0 {size} {size}" class="qrsvg"><path class="qrline" stroke="#000" '
            f'd="{"".join(parts)}"/></svg>')


_QR_BORDER = 2
_MARK = "\x00"

_PAGE_SIZE = {
    "a4": "@page { size: A4; margin: 4.5mm 0 3.5mm 0; }",
    "thermal": "@page { size: 100mm 150mm; margin: 0; }",
}

_CSS = """
* { box-sizing: border-box; }
body { margin: 0; color: #000; background: #d8d8d8;
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
.bar { padding: 8px 16px; background: #fff; border-bottom: 1px solid #aaa; }
.bar h1 { font-size: 20px; margin: 0 0 4px; }
.bar p { margin: 4px 0; font-size: 15px; }
.bar select, .bar button { font-size: 15px; }
main { padding: 12px 0; }
.label { position: relative; overflow: hidden; background: #fff; display: grid;
  break-inside: avoid; page-break-inside: avoid; }
.qr { grid-area: qr; text-align: center; }
.qrsvg { display: block; width: 100%; height: auto; shape-rendering: crispEdges; }
.pid { font-family: "DejaVu Sans Mono", monospace; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; }
.who { grid-area: who; font-weight: 700; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; }
.who .name { font-weight: 400; }
.figs { grid-area: figs; display: grid; grid-auto-columns: minmax(0, 1fr); grid-auto-flow: column;
  margin: 0; text-align: center; }
.figs div { border: 0.3mm solid #000; margin-right: -0.3mm; }
.figs dt { line-height: 1.2; white-space: nowrap; overflow: hidden; }
.figs dd { margin: 0; font-weight: 700; line-height: 1.05; }
.addr { grid-area: addr; overflow: hidden; display: -webkit-box; -webkit-box-orient: vertical;
  line-height: 1.2; overflow-wrap: anywhere; }
.rcpt { grid-area: rcpt; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }

/* A4: 3 x 8 labels of 70 x 36 mm, one sheet per page. */
.fmt-a4 .sheet { width: 210mm; margin: 0 auto 12px; display: grid;
  grid-template-columns: repeat(3, 70mm); grid-auto-rows: 36mm;
  break-after: page; page-break-after: always; }
.fmt-a4 .sheet:last-child { break-after: auto; page-break-after: auto; }
/* 4 mm in from the left: most printers cannot print the paper's outer 4 mm. */
.fmt-a4 .label { width: 70mm; height: 36mm; padding: 2.5mm 2.5mm 2mm 4mm; column-gap: 2mm;
  grid-template-columns: 26mm 1fr; grid-template-rows: auto auto 1fr auto;
  grid-template-areas: "qr who" "qr figs" "qr addr" "qr rcpt"; }
.fmt-a4 .pid { font-size: 2.4mm; }
.fmt-a4 .who { font-size: 3.4mm; line-height: 1.25; }
.fmt-a4 .figs { margin-top: 0.6mm; }
.fmt-a4 .figs dt { font-size: 2mm; }
.fmt-a4 .figs dd { font-size: 5.2mm; }
.fmt-a4 .addr { font-size: 2.6mm; margin-top: 0.8mm; -webkit-line-clamp: 3; }
.fmt-a4 .rcpt { font-size: 2.6mm; }

/* Thermal: one 100 x 150 mm label per page. */
.fmt-thermal .sheet { display: flex; flex-wrap: wrap; gap: 12px; justify-content: center; }
.fmt-thermal .label { width: 100mm; height: 150mm; padding: 5mm; row-gap: 2mm;
  grid-template-columns: 1fr; grid-template-rows: auto auto auto auto 1fr;
  grid-template-areas: "who" "figs" "qr" "addr" "rcpt";
  break-after: page; page-break-after: always; }
.fmt-thermal .sheet:last-child .label:last-child { break-after: auto; page-break-after: auto; }
.fmt-thermal .qr { width: 58mm; margin: 1mm auto 0; }
.fmt-thermal .pid { font-size: 4mm; }
.fmt-thermal .who { font-size: 7mm; }
.fmt-thermal .figs dt { font-size: 3.6mm; }
.fmt-thermal .figs dd { font-size: 13mm; }
.fmt-thermal .addr { font-size: 5mm; -webkit-line-clamp: 4; }
.fmt-thermal .rcpt { font-size: 5mm; }

@media screen { .label { outline: 1px dashed #999; outline-offset: -1px; } }
@media print {
  body { background: #fff; }
  .bar { display: none; }
  main { padding: 0; }
  .fmt-a4 .sheet { margin: 0; }
  .fmt-thermal .sheet { display: block; }
  .label { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""

# The print format: ?format=a4|thermal, or the <select>; it sets the body's class and @page.
_SCRIPT = """
(function () {
  var sizes = SIZES;
  var select = document.getElementById("format"), page = document.getElementById("page-size");
  function use(format) {
    if (!sizes.hasOwnProperty(format)) format = "a4";
    document.body.className = "fmt-" + format;
    page.textContent = sizes[format];
    select.value = format;
  }
  use(new URLSearchParams(location.search).get("format") || "a4");
  select.addEventListener("change", function () {
    use(select.value);
    try { history.replaceState(null, "", "?format=" + select.value); } catch (e) { /* file: */ }
  });
  document.getElementById("print").addEventListener("click", function () { window.print(); });
})();
""".replace("SIZES", json.dumps(_PAGE_SIZE))
