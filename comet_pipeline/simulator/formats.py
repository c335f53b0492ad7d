"""Writers for the archive's text formats, byte for byte as the real servers publish them.

* ``img_hdr.txt``: the IDL fixed format
  ``(a12,2x,a12,2x,a8,2x,a3,f8.1,4i7,2x,a6,2x,a6,2x,a8,f11.4,i6)``. The published example
  line (LASCO_FORMATS.md) shows the date and detector right-justified in their fields and
  the polarizer and program left-justified (their FITS string values keep trailing blanks);
  :func:`img_hdr_line` reproduces that example exactly and a test pins it.
* the Apache 2.4 ``mod_autoindex`` "Index of" page (HTMLTable layout, times in the server's
  local time, US Eastern, sizes as ``apr_strfsize`` prints them);
* the SOHO 14-day DSN schedule page (``<pre>`` block, one row per pass).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from comet_pipeline.archive.layout import ARCHIVE_TZ
from comet_pipeline.simulator.operations import SimObservation, SimPass

# --------------------------------------------------------------------------- img_hdr.txt


def _right(value: str, width: int) -> str:
    """Fortran ``Aw`` output: right-justified, truncated to the leftmost ``width`` chars."""
    return value[:width].rjust(width)


def _left(value: str, width: int) -> str:
    return value[:width].ljust(width)


def img_hdr_line(obs: SimObservation, *, name: str | None = None) -> str:
    """One ``img_hdr.txt`` line (no newline). ``name`` overrides the file name verbatim."""
    t = obs.observed_at
    return "".join(
        [
            name if name is not None else _right(obs.name, 12),
            "  ",
            _right(t.strftime("%Y/%m/%d"), 12),
            "  ",
            _right(t.strftime("%H:%M:%S"), 8),
            "  ",
            _right(obs.detector.label, 3),
            f"{obs.exptime:8.1f}",
            f"{obs.naxis1:7d}{obs.naxis2:7d}{obs.p1col:7d}{obs.p1row:7d}",
            "  ",
            _left(obs.filter, 6),
            "  ",
            _left(obs.polarizer, 6),
            "  ",
            _left(obs.program, 8),
            f"{0.0:11.4f}",
            f"{obs.os_num:6d}",
        ]
    )


def img_hdr_text(observations: Iterable[SimObservation]) -> str:
    """The whole index; rows in the order given (the archive appends as files arrive)."""
    return "".join(img_hdr_line(o) + "\n" for o in observations)


# --------------------------------------------------------------------------- Apache listing


def apache_size(size: int) -> str:
    """``apr_strfsize``: the 4-character size Apache's autoindex prints (``2.0M``, `` 11K``)."""
    if size < 0:
        return "  - "
    if size < 973:
        return f"{size:3d} "
    units = "KMGTPE"
    unit = 0
    while True:
        remain = size & 1023
        size >>= 10
        if size >= 973:
            unit += 1
            continue
        if size < 9 or (size == 9 and remain < 973):
            remain = (remain * 5 + 256) // 512
            if remain >= 10:
                size += 1
                remain = 0
            return f"{size}.{remain}{units[unit]}"
        if remain >= 512:
            size += 1
        return f"{size:3d}{units[unit]}"


def eastern(when: datetime) -> str:
    """A UTC time as the server's local wall clock, ``YYYY-MM-DD HH:MM`` (minute truncated)."""
    return when.astimezone(ARCHIVE_TZ).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class ListingEntry:
    name: str
    modified_at: datetime  # UTC
    size: int
    icon: str = "unknown"
    alt: str = "[   ]"


def listing_html(directory: str, entries: Sequence[ListingEntry]) -> str:
    """An Apache 2.4 "Index of" page for ``directory`` (URL path, with trailing slash)."""
    title = directory.rstrip("/") or "/"
    parent = directory.rstrip("/").rsplit("/", 1)[0] + "/"
    rows = [
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">',
        "<html>",
        " <head>",
        f"  <title>Index of {html.escape(title)}</title>",
        " </head>",
        " <body>",
        f"<h1>Index of {html.escape(title)}</h1>",
        "  <table>",
        '   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>'
        '<th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
        '<th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>',
        '   <tr><th colspan="5"><hr></th></tr>',
        '<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
        f'<td><a href="{html.escape(parent)}">Parent Directory</a></td><td>&nbsp;</td>'
        '<td align="right">  - </td><td>&nbsp;</td></tr>',
    ]
    for e in sorted(entries, key=lambda e: e.name):
        shown = e.name if len(e.name) <= 23 else e.name[:20] + "..&gt;"
        rows.append(
            f'<tr><td valign="top"><img src="/icons/{e.icon}.gif" alt="{e.alt}"></td>'
            f'<td><a href="{html.escape(e.name, quote=True)}">{html.escape(shown)}</a></td>'
            f'<td align="right">{eastern(e.modified_at)}  </td>'
            f'<td align="right">{apache_size(e.size)}</td><td>&nbsp;</td></tr>'
        )
    rows += ['   <tr><th colspan="5"><hr></th></tr>', "</table>", "</body></html>"]
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------- DSN schedule


def schedule_row(p: SimPass) -> str:
    """``47  327  MON  2026-11-23  04:35 - 08:30  D24`` (EOT <= BOT means the next day)."""
    b = p.bot.astimezone(UTC)
    e = p.eot.astimezone(UTC)
    week = int(b.strftime("%W"))
    return (
        f"{week:2d}  {b.timetuple().tm_yday:03d}  {b.strftime('%a').upper()}  "
        f"{b.strftime('%Y-%m-%d')}  {b.strftime('%H:%M')} - {e.strftime('%H:%M')}  {p.antenna}"
    )


def schedule_html(passes: Sequence[SimPass], generated_at: datetime, first_day: date) -> str:
    """The SOHO 14-day DSN schedule page, with the headers and notes around the rows."""
    last_day = first_day + timedelta(days=13)
    lines = [
        "<html>",
        "<head>",
        "<title>SOHO 14-Day DSN Schedule</title>",
        "</head>",
        '<body bgcolor="#FFFFFF">',
        "<h2>SOHO 14-Day DSN Schedule</h2>",
        f"<p>Schedule for {first_day.isoformat()} through {last_day.isoformat()}."
        f" Generated {generated_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M')} UT.</p>",
        "<p>All times are UT. BOT/EOT = beginning/end of track. An EOT earlier than",
        "the BOT is on the following day.</p>",
        "<pre>",
        "",
        " WK  DOY  DAY     DATE       BOT     EOT   ANTENNA",
        " --  ---  ---  ----------  -------------  -------",
    ]
    day = None
    for p in sorted(passes, key=lambda p: p.bot):
        if day is not None and p.bot.date() != day:
            lines.append("")
        day = p.bot.date()
        lines.append(schedule_row(p))
    lines += [
        "",
        "*** Times subject to change; check with the SOHO MOC (x6-1650) for updates. ***",
        "</pre>",
        '<p><a href="/operations/schedule/">Previous schedules</a> |',
        '<a href="/operations/">SOHO Operations</a></p>',
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"
