"""Clock times and user text: parsing ``HH:MM`` once at the edge, formatting it back, escaping.

Every page (maps, report, sort sheets, benchmark pages) escapes user text with :func:`esc`, and
every table and page prints times with :func:`hhmm` / :func:`hhmmss`, so a rule changes in one
place.
"""

from __future__ import annotations

import html
import re

__all__ = ["N_", "esc", "hhmm", "hhmmss", "mask_phone", "parse_time_s"]

# Latest clock time accepted: overnight work up to the next day's midnight.
_MAX_HOURS = 48

_TIME_RE = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}[ T])?(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?$"
)


def parse_time_s(text: str) -> int:
    """Return seconds from midnight for ``HH:MM[:SS]`` (an ISO date in front is ignored).

    Raises
    ------
    ValueError
        Not a time of day, with what is allowed.
    """
    match = _TIME_RE.match(str(text).strip())
    if not match:
        raise ValueError("not a time of day; allowed: HH:MM, HH:MM:SS or YYYY-MM-DD HH:MM")
    h, m, s = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    total = h * 3600 + m * 60 + s
    if m > 59 or s > 59 or total > _MAX_HOURS * 3600:
        raise ValueError(f"minutes and seconds 0-59, up to {_MAX_HOURS}:00")
    return total


def hhmm(seconds: int) -> str:
    """Format seconds from midnight as HH:MM (hours may pass 24 for overnight work)."""
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def hhmmss(seconds: int) -> str:
    """Format seconds from midnight as HH:MM:SS (hours may pass 24 for overnight work)."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def esc(text: object) -> str:
    """Return ``text`` escaped for HTML text and attribute values (quotes included)."""
    return html.escape(str(text), quote=True)


def N_(message: str) -> str:  # noqa: N802 - the gettext name extractors know
    """Mark ``message`` for the catalogue (:mod:`courier.i18n`) without translating it here:
    for texts defined once at import time (reason codes) and translated where they are shown."""
    return message


def mask_phone(phone: str) -> str:
    """Return ``phone`` with its middle digits hidden: ``13812345678`` -> ``138****5678``."""
    p = "".join(phone.split())
    if len(p) >= 8:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    if len(p) > 2:
        return "*" * (len(p) - 2) + p[-2:]
    return "*" * len(p)
