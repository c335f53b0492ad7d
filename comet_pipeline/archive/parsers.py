"""Parsers for the archive's text formats: ``img_hdr.txt``, Apache listings, the DSN schedule.

Pure functions: text in, :class:`ParseResult` out. Real servers vary and sometimes serve a
broken line, so nothing here raises on content: a line that cannot be parsed is reported as
a :class:`ParseProblem` (1-based line number, reason, the line) and skipped.

A body may be up to the client's 20 MB cap and comes from a server we do not control, so
every parse is linear in the size of its input: no pattern is left free to rescan the rest
of a line or of the page from each of many start positions (see ``_HREF``, ``_TR`` and
:func:`_strip_tags`), a line over :data:`MAX_LINE_CHARS` is reported and skipped unread,
and a problem never carries more than :data:`MAX_SHOWN_CHARS` of the text it is about.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from urllib.parse import unquote

from comet_pipeline.archive.errors import RejectedName
from comet_pipeline.archive.layout import ARCHIVE_TZ, validate_file_name
from comet_pipeline.domain.models import ArchiveFile, Detector
from comet_pipeline.domain.text import bounded

T = TypeVar("T")

#: Longer lines are reported and skipped, never parsed. Far above any real line (an
#: ``img_hdr.txt`` line is ~120 characters, a listing row ~250, a whole day's listing
#: minified onto one line well under 1 MB), so it only ever cuts hostile input.
MAX_LINE_CHARS = 1 << 20
#: How much of a line (or of a reason quoting one) a problem keeps: a 19 MB junk line must
#: not travel on into logs and step results. A whole listing row (~210) still fits.
MAX_SHOWN_CHARS = 256


def _clip(text: str) -> str:
    return bounded(text, MAX_SHOWN_CHARS)


@dataclass(frozen=True)
class ParseProblem:
    """A line that was skipped, and why; ``reason`` and ``line`` are clipped on creation."""

    line_no: int  # 1-based
    reason: str
    line: str

    def __post_init__(self) -> None:
        # Bounded here, where every problem is built, so no call site can forget it.
        object.__setattr__(self, "reason", _clip(self.reason))
        object.__setattr__(self, "line", _clip(self.line))


#: Lines read of one page at most. A day's index or listing has a few hundred lines and the
#: schedule a few hundred rows; past this a page is junk, and reading on (every line a
#: Python step and perhaps a problem) would let a hostile page cost seconds and gigabytes.
MAX_LINES = 200_000


def _cap_lines(text: str, problems: list[ParseProblem]) -> str:
    """``text`` up to its MAX_LINES-th line break, with a problem saying what was left."""
    if text.count("\n") <= MAX_LINES:
        return text
    cut = -1
    for _ in range(MAX_LINES):
        cut = text.find("\n", cut + 1)
    problems.append(
        ParseProblem(
            MAX_LINES + 1,
            f"more than {MAX_LINES:,} lines ({text.count(chr(10)):,}): the rest was not read",
            "",
        )
    )
    return text[: cut + 1]


def _too_long(line_no: int, line: str, what: str = "line") -> ParseProblem:
    return ParseProblem(
        line_no, f"{what} too long ({len(line):,} characters, limit {MAX_LINE_CHARS:,})", line
    )


#: The line boundaries of ``str.splitlines`` (``\r\n`` counts as one).
_SPLITLINES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _needles(needle: str, breaks: str, flags: int = 0) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """``needle``, and ``needle`` or "a line over :data:`MAX_LINE_CHARS` starts here"."""
    long_line = f"(?<![^{breaks}])(?=[^{breaks}]{{{MAX_LINE_CHARS + 1}}})"
    return re.compile(needle, flags), re.compile(f"{needle}|{long_line}", flags)


def _lines_with(
    text: str, needles: tuple[re.Pattern[str], re.Pattern[str]], breaks: str = _SPLITLINES
) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of the lines holding a needle, or over MAX_LINE_CHARS.

    Lines are cut where ``breaks`` are (by default as ``str.splitlines`` cuts them). The
    lines in between are passed over by the regex engine and never visited in Python, so a
    hostile page of millions of short junk lines costs one C-level scan, not a Python loop
    per line. Line numbers are counted forward with ``str.count`` over the skipped text.
    """
    needle = needles[1] if len(text) > MAX_LINE_CHARS else needles[0]
    present = [c for c in breaks if c in text]
    if len(present) == 1:  # the usual case ("\n" only): one scan each way per line
        yield from _lines_split_by(text, needle, present[0])
        return
    line_break = re.compile(f"[{breaks}]")
    crlf = "\r" in present and "\n" in present
    line_no, counted_to, pos = 1, 0, 0
    while (hit := needle.search(text, pos)) is not None:
        at = hit.start()
        start = 0  # after the last break before the hit (there is none on the first line)
        for c in present:
            start = max(start, text.rfind(c, pos, at) + 1)
        for c in present:
            line_no += text.count(c, counted_to, start)
        if crlf:
            line_no -= text.count("\r\n", counted_to, start)
        counted_to = start
        after = line_break.search(text, at)
        pos = len(text) if after is None else after.start()
        yield line_no, text[start:pos]


def _lines_split_by(text: str, needle: re.Pattern[str], brk: str) -> Iterator[tuple[int, str]]:
    """:func:`_lines_with` for a text whose only line break is ``brk``: less work per line."""
    line_no, counted_to, pos = 1, 0, 0
    while (hit := needle.search(text, pos)) is not None:
        at = hit.start()
        start = text.rfind(brk, pos, at) + 1
        line_no += text.count(brk, counted_to, start)
        counted_to = start
        pos = text.find(brk, at)
        if pos < 0:
            pos = len(text)
        yield line_no, text[start:pos]


@dataclass
class ParseResult(Generic[T]):
    items: list[T] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class ListingEntry:
    """One ``.fts`` row of a directory listing: when the file arrived on the ground."""

    name: str
    modified_at: datetime  # aware UTC


@dataclass(frozen=True)
class SchedulePass:
    """One DSN pass from the schedule page (begin/end of track, UTC)."""

    bot: datetime
    eot: datetime
    antenna: str
    raw: str


# --------------------------------------------------------------------------- img_hdr.txt

_MIN_FIELDS = 12


def _parse_obs_time(day_text: str, time_text: str) -> datetime:
    """``YYYY/MM/DD`` (or ``YYYY-MM-DD``) + ``HH:MM:SS[.fff]`` -> aware UTC."""
    m = re.fullmatch(r"(\d{4})[/-](\d{2})[/-](\d{2})", day_text)
    if not m:
        raise ValueError(f"bad date {day_text!r}")
    t = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?", time_text)
    if not t:
        raise ValueError(f"bad time {time_text!r}")
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
        micro = round(float(t[4]) * 1_000_000) if t[4] else 0
        base = datetime.combine(d, time(int(t[1]), int(t[2]), int(t[3])), tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"bad date/time {day_text} {time_text}: {exc}") from None
    return base + timedelta(microseconds=micro)


def _parse_detector(text: str) -> Detector:
    try:
        return Detector(text.lower())
    except ValueError:
        raise ValueError(f"unknown detector {text!r}") from None


# Columns of the IDL format (a12,2x,a12,2x,a8,2x,a3,f8.1,4i7,2x,a6,2x,a6,2x,a8,...):
# filter, polarizer and program, used when a line is laid out exactly that way because
# their values may hold blanks (a polarizer '+60 Deg' would split into two fields).
_NUMERIC_END = 77
_TEXT_COLUMNS = ((79, 85), (87, 93), (95, 103))


def _text_fields(line: str, fields: list[str]) -> tuple[str, str, str]:
    """(filter, polarizer, program): fixed columns on a canonical line, else fields 10-12."""
    canonical = (
        len(line) >= _TEXT_COLUMNS[-1][1]
        and all(line[a - 2 : a] == "  " for a, _ in _TEXT_COLUMNS)
        and line[:_NUMERIC_END].split() == fields[:9]
    )
    if canonical:
        texts = tuple(line[a:b].strip() for a, b in _TEXT_COLUMNS)
        if all(texts):
            return texts  # type: ignore[return-value]
    return fields[9], fields[10], fields[11]


def _img_hdr_line(line: str, detector: Detector | None) -> ArchiveFile:
    fields = line.split()
    if len(fields) < _MIN_FIELDS:
        raise ValueError(f"{len(fields)} fields, expected at least {_MIN_FIELDS}")
    try:
        name = validate_file_name(fields[0])
    except RejectedName as exc:
        raise ValueError(exc.reason) from None
    observed_at = _parse_obs_time(fields[1], fields[2])
    det = _parse_detector(fields[3])
    if detector is not None and det != detector:
        raise ValueError(f"detector {det.label} in a {Detector(detector).label} index")
    if name[0] != det.telescope_digit:
        raise ValueError(f"name {name} does not start with {det.telescope_digit} for {det.label}")
    try:
        exptime = float(fields[4])
        naxis1, naxis2, _p1col, _p1row = (int(v) for v in fields[5:9])
    except ValueError:
        raise ValueError(f"bad number in {' '.join(fields[4:9])!r}") from None
    if not exptime >= 0.0 or exptime > 1e5:  # also rejects NaN
        raise ValueError(f"implausible exposure time {fields[4]}")
    if naxis1 <= 0 or naxis2 <= 0 or naxis1 > 8192 or naxis2 > 8192:
        raise ValueError(f"implausible image size {naxis1}x{naxis2}")
    filter_, polarizer, program = _text_fields(line, fields)
    return ArchiveFile(
        name=name,
        detector=det,
        observed_at=observed_at,
        exptime=exptime,
        naxis1=naxis1,
        naxis2=naxis2,
        filter=filter_,
        polarizer=polarizer,
        program=program,
    )


def parse_img_hdr(text: str, *, detector: Detector | None = None) -> ParseResult[ArchiveFile]:
    """Parse an ``img_hdr.txt`` index (level 0.5 or level 1).

    Fields are split on white space. Fields 1–12 (name, date, time, detector, exposure,
    NAXIS1/2, P1COL/P1ROW, filter, polarizer, program) are common to both levels and are all
    an :class:`ArchiveFile` needs; whatever follows (FP_WL_UP + OS_NUM in level 0.5,
    COMPRSSN + CROTA + NMISSING in level 1) is ignored, so both variants parse alike. A
    line laid out exactly in the IDL columns takes filter, polarizer and program from their
    columns instead, so values with blanks (``+60 Deg``) survive. If ``detector`` is given,
    lines for the other detector are reported, not returned.
    Blank lines and ``#`` comments are skipped silently; lines over :data:`MAX_LINE_CHARS`
    are reported unread.
    """
    result: ParseResult[ArchiveFile] = ParseResult()
    text = _cap_lines(text, result.problems)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE_CHARS:
            result.problems.append(_too_long(line_no, line))
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            result.items.append(_img_hdr_line(line.rstrip("\r\n"), detector))
        except ValueError as exc:
            result.problems.append(ParseProblem(line_no, str(exc), line))
    return result


# --------------------------------------------------------------------------- listing

# An ``<a`` tag with no ``href=value`` before its ``>`` is consumed whole by the second
# branch (no group set), so the search goes on after that ``>`` instead of retrying from
# every later ``<a `` in it, each of which would fail the same way: on a line of ``<a <a <a``
# without a ``>`` that retrying was quadratic. The first branch is the original pattern, so
# the links found are the same.
_HREF = re.compile(r"""<a\s(?:[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))|[^>]*)""", re.I)
_TAG = re.compile(r"<[^>]*>")
# Only a line with ``href = v`` (v: not a blank, not ``>``) can hold a link _HREF finds.
_LINK_LINES = _needles(rf"href[^\S{_SPLITLINES}]*=[^\S{_SPLITLINES}]*[^\s>]", _SPLITLINES, re.I)
_ISO_STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})\s+(\d{2}):(\d{2})(?::(\d{2}))?")
_APACHE_STAMP = re.compile(r"(\d{2})-([A-Za-z]{3})-(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


def eastern_to_utc(local: datetime) -> datetime:
    """Convert a naive archive wall-clock time (US Eastern) to aware UTC.

    Where the wall clock is ambiguous we take the LATER of the two possible UTC readings, so
    an arrival time computed here is never earlier than the true one (an arrival before
    its observation would be nonsense; a latency that looks up to an hour long is harmless).
    The two DST edges (tested):

    * fall back (e.g. 2024-11-03 01:00–01:59 happens twice): ``fold=1``, the second
      occurrence, i.e. EST (UTC−5), so 01:30 -> 06:30 UTC. A listing with minute
      resolution cannot tell the two apart.
    * spring forward (e.g. 2024-03-10 02:00–02:59 does not exist): read with the offset in
      force before the jump, EST (UTC−5), so 02:30 -> 07:30 UTC (= 03:30 EDT), again the
      later reading. Accepted, not reported: a server whose clock shows it is only wrong
      about DST, not about time.
    """
    naive = local.replace(tzinfo=None)
    readings = (naive.replace(tzinfo=ARCHIVE_TZ, fold=f).astimezone(UTC) for f in (0, 1))
    return max(readings)


def _listing_time(text: str) -> datetime | None:
    if m := _ISO_STAMP.search(text):
        y, mo, d, hh, mi = (int(m[i]) for i in range(1, 6))
    elif (m := _APACHE_STAMP.search(text)) and m[2].lower() in _MONTHS:
        y, mo, d, hh, mi = int(m[3]), _MONTHS[m[2].lower()], int(m[1]), int(m[4]), int(m[5])
    else:
        return None
    try:
        # naive on purpose: eastern_to_utc reads it as the archive's US Eastern wall clock
        return eastern_to_utc(datetime(y, mo, d, hh, mi, int(m[6] or 0)))  # noqa: DTZ001
    except ValueError:
        return None


def _strip_tags(text: str) -> str:
    """``_TAG.sub(" ", text)`` in linear time.

    A ``<`` with no ``>`` anywhere after it cannot start a tag, but the regex would look for
    one to the end of the text from each such ``<`` (quadratic on ``<<<<``); so only the
    text up to the last ``>`` is handed to it, where every ``<`` finds its ``>``.
    """
    end = text.rfind(">") + 1
    return _TAG.sub(" ", text[:end]) + text[end:] if end else text


def _link_path(value: str) -> str:
    """An href value decoded: entities, then query and fragment cut off, then %-escapes.

    The decoders are skipped when there is nothing to decode (they would return the value
    unchanged): a hostile line can hold a million links, each costs its Python time.
    """
    if "&" in value:
        value = html_lib.unescape(value)
    path = value.partition("?")[0].partition("#")[0]
    return unquote(path) if "%" in path else path


def parse_listing(html: str) -> ParseResult[ListingEntry]:
    """Parse an Apache "Index of" page into ``.fts`` entries with UTC modification times.

    Handles the table layout (``<td align="right">2024-01-01 01:23  </td>``) and the older
    ``<pre>`` layout (``01-Jan-2024 01:23``). Links that are not ``.fts`` (parent directory,
    sort links, ``img_hdr.txt``) are ignored; ``.fts`` links with a bad name (``../x.fts``,
    absolute, percent-encoded tricks) or without a time are reported. Names keep their case
    (``32088304.FTS`` stays so: the URL is built from it); the suffix test ignores case.
    Lines over :data:`MAX_LINE_CHARS` are reported unread.
    """
    result: ParseResult[ListingEntry] = ParseResult()
    html = _cap_lines(html, result.problems)
    for line_no, line in _lines_with(html, _LINK_LINES):
        if len(line) > MAX_LINE_CHARS:
            result.problems.append(_too_long(line_no, line))
            continue
        # a match with no group set is an <a> without a link; a link has just one group set
        links = [m for m in _HREF.finditer(line) if m.lastindex is not None]
        for i, m in enumerate(links):
            href = _link_path(m[m.lastindex or 0])
            if href.rstrip()[-4:].lower() != ".fts":
                continue
            try:
                name = validate_file_name(href)
            except RejectedName as exc:
                result.problems.append(
                    ParseProblem(line_no, exc.reason + f": {_clip(href)!r}", line)
                )
                continue
            end = links[i + 1].start() if i + 1 < len(links) else len(line)
            tail = html_lib.unescape(_strip_tags(line[m.end() : end]))
            modified = _listing_time(tail)
            if modified is None:
                result.problems.append(ParseProblem(line_no, f"no valid time for {name}", line))
                continue
            result.items.append(ListingEntry(name=name, modified_at=modified))
    return result


# --------------------------------------------------------------------------- schedule

_ROW = re.compile(
    r"""^\s*(?P<week>\d{1,2})\s+(?P<doy>\d{1,3})\s+(?P<wday>[A-Za-z]{3})\s+
    (?:(?P<date>\d{4}[-/]\d{2}[-/]\d{2})\s+)?
    (?P<bot>\d{1,2}:?\d{2})\s*-\s*(?P<eot>\d{1,2}:?\d{2})\s+
    (?P<ant>[A-Za-z][A-Za-z0-9-]*)(?:\s|$)""",
    re.X,
)
# A line that mentions a time range or a date is trying to be a row: report it if it fails.
_ROWISH = re.compile(r"\d{1,2}:?\d{2}\s*-\s*\d{1,2}:?\d{2}|\d{4}-\d{2}-\d{2}")
# A ``<tr`` with no ``</tr>`` after it takes the rest of the page into group 1 (and ends the
# search) instead of failing: the regex would otherwise look for a ``</tr>`` to the end of
# the page from that ``<tr`` and again from every later one (quadratic on ``<tr><tr>``).
# Every later ``<tr`` would fail too, so the rows found are the same.
_TR = re.compile(r"<tr\b(?:.*?</tr\s*>|(.*))", re.I | re.S)
_BREAKS = re.compile(r"<(?:br|/p|p|/div|/li)\b[^>]*>", re.I)
# Only a line with a digit can become a row or a reported one (both start with \d); ``&#``
# because a character reference can decode to a digit (``&#xaea;`` is Gujarati four).
_DIGIT_LINES = _needles(r"\d|&#", "\n")


def _hhmm(text: str) -> tuple[int, int]:
    digits = text.replace(":", "")
    hh, mm = int(digits[:-2]), int(digits[-2:])
    if not (0 <= hh <= 24 and 0 <= mm <= 59) or (hh == 24 and mm != 0):
        raise ValueError(f"bad time {text!r}")
    return hh, mm


def _schedule_row(m: re.Match[str], year_hint: int | None, raw: str) -> SchedulePass:
    doy = int(m["doy"])
    if m["date"]:
        y, mo, d = (int(v) for v in re.split(r"[-/]", m["date"]))
        try:
            day = date(y, mo, d)
        except ValueError:
            raise ValueError(f"bad date {m['date']!r}") from None
        if day.timetuple().tm_yday != doy:
            raise ValueError(f"day of year {doy} does not match {day.isoformat()}")
    elif year_hint is not None:
        if not 1 <= doy <= (366 if date(year_hint, 12, 31).timetuple().tm_yday == 366 else 365):
            raise ValueError(f"bad day of year {doy}")
        day = date(year_hint, 1, 1) + timedelta(days=doy - 1)
    else:
        raise ValueError("row has no date and no year_hint was given")
    (bh, bm), (eh, em) = _hhmm(m["bot"]), _hhmm(m["eot"])
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    bot = midnight + timedelta(hours=bh, minutes=bm)
    eot = midnight + timedelta(hours=eh, minutes=em)
    if eot <= bot:  # crosses midnight: EOT is on the next day
        eot += timedelta(days=1)
    return SchedulePass(bot=bot, eot=eot, antenna=m["ant"].upper(), raw=raw)


def _split_breaks(line: str) -> list[str]:
    """``_BREAKS.split(line)`` in linear time: only up to the last ``>`` (cf. _strip_tags)."""
    end = line.rfind(">") + 1
    if not end:
        return [line]
    pieces = _BREAKS.split(line[:end])
    pieces[-1] += line[end:]
    return pieces


def _logical_lines(html: str, problems: list[ParseProblem]) -> Iterator[tuple[int, str]]:
    """Yield (1-based page line, tag-free text): one per ``<tr>`` row, else one per line.

    Lines without a digit cannot become a row and are skipped unread; rows and lines over
    :data:`MAX_LINE_CHARS` go to ``problems`` instead, unread. Line numbers are counted
    forward as the page is walked (one pass over the newlines).
    """
    counted_to, line_no = 0, 1

    def line_at(pos: int) -> int:
        nonlocal counted_to, line_no
        line_no += html.count("\n", counted_to, pos)
        counted_to = pos
        return line_no

    def plain(start: int, end: int) -> Iterator[tuple[int, str]]:
        first = line_at(start)
        for n, line in _lines_with(html[start:end], _DIGIT_LINES, "\n"):
            if len(line) > MAX_LINE_CHARS:
                problems.append(_too_long(first + n - 1, line))
                continue
            for piece in _split_breaks(line):
                yield first + n - 1, _untag(piece)

    pos = 0
    for row in _TR.finditer(html):
        if row.group(1) is not None:  # a <tr> never closed: the rest is plain text
            break
        yield from plain(pos, row.start())
        at = line_at(row.start())
        if row.end() - row.start() > MAX_LINE_CHARS:
            problems.append(_too_long(at, row.group(0), "row"))
        else:
            yield at, _untag(row.group(0))
        pos = row.end()
    yield from plain(pos, len(html))


def _untag(text: str) -> str:
    return html_lib.unescape(_strip_tags(text)).replace("\xa0", " ")


def parse_schedule(html: str, *, year_hint: int | None = None) -> ParseResult[SchedulePass]:
    """Parse the DSN schedule page into passes (aware UTC, sorted by BOT).

    A row is ``week doy weekday date BOT - EOT antenna`` (``04:35-08:30`` and ``0435`` are
    accepted, ``/`` dates too); EOT <= BOT means EOT is on the next day. Rows laid out as
    table cells are joined first; other tags, blank lines and headers are ignored. Rows
    without a date use ``year_hint`` + day of year. A line that looks like a row (has a
    date or a time range) but does not parse is reported, with the page line it starts on.
    Lines and rows over :data:`MAX_LINE_CHARS` are reported unread.
    """
    result: ParseResult[SchedulePass] = ParseResult()
    html = _cap_lines(html, result.problems)
    for line_no, line in _logical_lines(html, result.problems):
        raw = " ".join(line.split())
        if not raw:
            continue
        m = _ROW.match(raw)
        if m is None:
            if _ROWISH.search(raw) and re.match(r"\d", raw):
                result.problems.append(ParseProblem(line_no, "unrecognised schedule row", raw))
            continue
        try:
            result.items.append(_schedule_row(m, year_hint, raw))
        except ValueError as exc:
            result.problems.append(ParseProblem(line_no, str(exc), raw))
    result.items.sort(key=lambda p: p.bot)
    return result
