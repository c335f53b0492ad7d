"""Export the store's files, frames, candidates and detections as astropy tables.

Rows are read and written in chunks of ``chunk_rows`` (the store's keyset pages, a day of
files, one candidate's track at a time), so a year's range needs the memory of one chunk,
never of the whole table. Every format streams:

* ``csv``: the header row once, then each chunk's rows (astropy's CSV writer per chunk);
* ``ecsv``: astropy's ECSV header (column names, types, units, descriptions) once, then
  each chunk's data lines, written by astropy's ECSV writer with the header dropped (the
  header does not depend on the rows: strings are ``datatype: string``);
* ``votable``: the VOTable document up to ``<TABLEDATA>`` once (string FIELDs declared
  ``arraysize="*"`` so no chunk's width fixes them), each chunk's ``<TR>`` rows as astropy
  writes them, then the closing tags;
* ``json``: JSON Lines: a first line with the columns (name, datatype, unit, description),
  then one object per row. astropy has no JSON table reader: :func:`read_export` reads it
  (and applies the units to a plain CSV, which carries none).

Times are ISO 8601 UTC strings (``2025-06-10T12:00:00.000Z``); pixel columns carry
``u.pix``, SNR is dimensionless, missing numbers are NaN and missing text is empty.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import astropy.units as u
import numpy as np
from astropy.io import votable
from astropy.table import Column, Table

from comet_pipeline.domain import Detector
from comet_pipeline.store import LifecycleStore

KINDS = ("files", "frames", "candidates", "detections")
FORMATS = ("csv", "ecsv", "json", "votable")
#: Rows per chunk: the memory bound of an export (a few MB of Python objects).
CHUNK_ROWS = 5_000

Cell = str | float | int
Row = tuple[Cell, ...]


@dataclass(frozen=True)
class ColumnSpec:
    """One exported column: its name, kind of value, unit and what it means."""

    name: str
    kind: str  # "str", "float" or "int"
    unit: u.UnitBase | None
    description: str


def _time(name: str, what: str) -> ColumnSpec:
    return ColumnSpec(name, "str", None, f"{what}, ISO 8601 UTC")


_PIX = u.pix
_ONE = u.dimensionless_unscaled

SCHEMAS: dict[str, tuple[ColumnSpec, ...]] = {
    "files": (
        ColumnSpec("name", "str", None, "archive file name"),
        ColumnSpec("detector", "str", None, "c2 or c3"),
        _time("observed_at", "observation time"),
        _time("arrived_at", "arrival on the archive server (empty: unknown)"),
        ColumnSpec("state", "str", None, "lifecycle state"),
        ColumnSpec("exptime", "float", u.s, "exposure time"),
        ColumnSpec("naxis1", "int", _PIX, "image width"),
        ColumnSpec("naxis2", "int", _PIX, "image height"),
        ColumnSpec("attempts", "int", None, "tries of the current phase"),
        ColumnSpec("sha256", "str", None, "checksum of the raw file"),
        ColumnSpec("raw_path", "str", None, "raw FITS on disk"),
        ColumnSpec("skip_reason", "str", None, "why the file is SKIPPED"),
        ColumnSpec("last_error", "str", None, "the last failure"),
    ),
    "frames": (
        ColumnSpec("name", "str", None, "archive file name"),
        ColumnSpec("detector", "str", None, "c2 or c3"),
        _time("observed_at", "observation time"),
        ColumnSpec("background_kind", "str", None, "rolling, or a fallback (self, radial)"),
        ColumnSpec("background_frames", "int", None, "earlier frames in the background"),
        ColumnSpec("roll_deg", "float", u.deg, "CROTA1 of the header"),
        ColumnSpec("naxis1", "int", _PIX, "array width"),
        ColumnSpec("naxis2", "int", _PIX, "array height"),
        ColumnSpec("products", "str", None, "products on disk, space separated"),
        ColumnSpec("pruned", "str", None, "products retention removed, space separated"),
    ),
    "candidates": (
        ColumnSpec("id", "str", None, "stable candidate id"),
        ColumnSpec("detector", "str", None, "c2 or c3"),
        _time("first_seen_at", "first detection"),
        _time("last_seen_at", "last detection"),
        ColumnSpec("n_frames", "int", None, "frames on the track"),
        ColumnSpec("score", "float", _ONE, "hunter's score"),
        ColumnSpec("snr", "float", _ONE, "signal to noise ratio"),
        ColumnSpec("speed", "float", _PIX / u.h, "apparent speed"),
        ColumnSpec("direction", "float", u.deg, "direction of motion"),
        ColumnSpec("status", "str", None, "hunter's verdict"),
        ColumnSpec("known", "str", None, "known object it is (empty: none)"),
    ),
    "detections": (
        ColumnSpec("candidate_id", "str", None, "candidate the detection is on"),
        ColumnSpec("detector", "str", None, "c2 or c3"),
        ColumnSpec("file", "str", None, "archive file name of the frame"),
        _time("observed_at", "observation time"),
        ColumnSpec("x", "float", _PIX, "FITS array column (0-based)"),
        ColumnSpec("y", "float", _PIX, "FITS array row (0-based)"),
        ColumnSpec("flux", "float", None, "summed background-subtracted signal"),
        ColumnSpec("snr", "float", _ONE, "signal to noise ratio"),
    ),
}


@dataclass(frozen=True)
class ExportQuery:
    """What to export: one kind of row, a window of observation times, detectors."""

    kind: str
    since: datetime
    until: datetime
    detectors: tuple[Detector, ...] = tuple(Detector)

    def __post_init__(self) -> None:
        if self.kind not in SCHEMAS:
            raise ValueError(f"unknown export {self.kind!r}; one of {', '.join(KINDS)}")
        if self.since >= self.until:
            raise ValueError("since must be before until")


@dataclass(frozen=True)
class ExportResult:
    rows: int
    chunks: int
    elapsed_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else float("inf")


# -- rows -----------------------------------------------------------------------------------


def iso_utc(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _f(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _i(value: int | None) -> int:
    return -1 if value is None else int(value)


def _s(value: object) -> str:
    return "" if value is None else str(value)


def _days(since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    start = since
    while start < until:
        end = min(start + timedelta(days=1), until)
        yield start, end
        start = end


def _file_rows(store: LifecycleStore, q: ExportQuery, _chunk: int) -> Iterator[Row]:
    for detector in q.detectors:
        for start, end in _days(q.since, q.until):  # a day of files at a time
            for r in store.files_between(detector, start, end):
                yield (
                    r.name,
                    r.detector.value,
                    iso_utc(r.observed_at),
                    iso_utc(r.arrived_at),
                    r.state.value,
                    _f(r.exptime),
                    _i(r.naxis1),
                    _i(r.naxis2),
                    r.attempts,
                    _s(r.sha256),
                    _s(r.raw_path),
                    _s(r.skip_reason),
                    _s(r.last_error),
                )


def _frame_rows(store: LifecycleStore, q: ExportQuery, chunk: int) -> Iterator[Row]:
    for detector in q.detectors:
        after: tuple[datetime, str] | None = None
        while page := store.frames_page(detector, q.since, q.until, after=after, limit=chunk):
            for f in page:
                yield (
                    f.name,
                    f.detector.value,
                    iso_utc(f.observed_at),
                    _s(f.background_kind),
                    _i(f.background_frames),
                    _f(f.roll_deg),
                    _i(f.naxis1),
                    _i(f.naxis2),
                    " ".join(sorted(f.products)),
                    " ".join(sorted(f.pruned)),
                )
            after = (page[-1].observed_at, page[-1].name)


def _candidate_rows(store: LifecycleStore, q: ExportQuery, _chunk: int) -> Iterator[Row]:
    for detector in q.detectors:
        for c in store.candidates(detector, q.since, q.until):
            yield (
                c.id,
                c.detector,
                iso_utc(c.first_seen_at),
                iso_utc(c.last_seen_at),
                c.n_frames,
                _f(c.score),
                _f(c.snr),
                _f(c.speed_px_per_hour),
                _f(c.direction_deg),
                c.status.value,
                _s(c.known),
            )


def _detection_rows(store: LifecycleStore, q: ExportQuery, _chunk: int) -> Iterator[Row]:
    for detector in q.detectors:
        for c in store.candidates(detector, q.since, q.until):
            for d in store.detections_for(c.id):  # one track at a time
                if q.since <= d.observed_at < q.until:
                    yield (
                        c.id,
                        c.detector,
                        d.file,
                        iso_utc(d.observed_at),
                        d.x,
                        d.y,
                        _f(d.flux),
                        _f(d.snr),
                    )


_SOURCES: dict[str, Callable[[LifecycleStore, ExportQuery, int], Iterator[Row]]] = {
    "files": _file_rows,
    "frames": _frame_rows,
    "candidates": _candidate_rows,
    "detections": _detection_rows,
}


def chunks_of(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_DTYPES = {"str": str, "float": np.float64, "int": np.int64}


def to_table(kind: str, rows: Sequence[Row]) -> Table:
    """One chunk as an astropy table with the kind's units and descriptions."""
    specs = SCHEMAS[kind]
    columns = []
    for i, spec in enumerate(specs):
        values = [row[i] for row in rows]
        dtype: type | str = _DTYPES[spec.kind] if values or spec.kind != "str" else "U1"
        data: np.ndarray = np.array(values, dtype=dtype)
        columns.append(Column(data, name=spec.name, unit=spec.unit, description=spec.description))
    return Table(columns, meta={"comet_pipeline_export": kind})


# -- writers --------------------------------------------------------------------------------


class _Writer:
    def __init__(self, out: IO[str], kind: str) -> None:
        self.out, self.kind = out, kind

    def start(self, first: Table) -> None: ...

    def chunk(self, table: Table) -> None: ...

    def finish(self) -> None: ...


class _CsvWriter(_Writer):
    def start(self, first: Table) -> None:
        self.out.write(",".join(first.colnames) + "\n")

    def chunk(self, table: Table) -> None:
        buf = io.StringIO()
        table.write(buf, format="ascii.csv")
        self.out.write(buf.getvalue().split("\n", 1)[1])  # the header was written once


class _EcsvWriter(_Writer):
    def start(self, first: Table) -> None:
        buf = io.StringIO()
        first[:0].write(buf, format="ascii.ecsv")
        self.out.write(buf.getvalue())  # header lines and the column-name line

    def chunk(self, table: Table) -> None:
        buf = io.StringIO()
        table.write(buf, format="ascii.ecsv")
        lines = buf.getvalue().splitlines(keepends=True)
        body = next(i for i, line in enumerate(lines) if not line.startswith("#")) + 1
        self.out.write("".join(lines[body:]))


def _votable_xml(table: Table) -> str:
    doc = votable.from_table(table)
    for field in doc.get_first_table().fields:
        if field.datatype in ("char", "unicodeChar"):
            field.arraysize = "*"  # no chunk's longest string may fix the width
    buf = io.BytesIO()
    doc.to_xml(buf)
    return buf.getvalue().decode("utf-8")


_TD_OPEN, _TD_CLOSE = "<TABLEDATA>", "</TABLEDATA>"


class _VotableWriter(_Writer):
    def start(self, first: Table) -> None:
        if not len(first):  # no rows: the whole (empty) document at once
            self.out.write(_votable_xml(first))
            self.tail = ""
            return
        xml = _votable_xml(first[:1])
        head, rest = xml.split(_TD_OPEN, 1)
        self.tail = _TD_CLOSE + rest.split(_TD_CLOSE, 1)[1]
        self.out.write(head + _TD_OPEN + "\n")

    def chunk(self, table: Table) -> None:
        xml = _votable_xml(table)
        body = xml.split(_TD_OPEN, 1)[1].split(_TD_CLOSE, 1)[0].strip()
        self.out.write("     " + body + "\n")

    def finish(self) -> None:
        if self.tail:
            self.out.write("    " + self.tail)


class _JsonWriter(_Writer):
    def start(self, first: Table) -> None:  # noqa: ARG002  the columns come from the schema
        header = {"table": self.kind, "columns": [_column_meta(s) for s in SCHEMAS[self.kind]]}
        self.out.write(json.dumps(header) + "\n")

    def chunk(self, table: Table) -> None:
        names = table.colnames
        for row in zip(*(table[n].tolist() for n in names), strict=True):
            obj = {
                n: (None if isinstance(v, float) and math.isnan(v) else v)
                for n, v in zip(names, row, strict=True)
            }
            self.out.write(json.dumps(obj) + "\n")


def _column_meta(spec: ColumnSpec) -> dict[str, str | None]:
    return {
        "name": spec.name,
        "datatype": spec.kind,
        "unit": None if spec.unit is None else spec.unit.to_string(),
        "description": spec.description,
    }


_WRITERS: dict[str, type[_Writer]] = {
    "csv": _CsvWriter,
    "ecsv": _EcsvWriter,
    "votable": _VotableWriter,
    "json": _JsonWriter,
}


def export_rows(
    kind: str, rows: Iterable[Row], fmt: str, out: IO[str], *, chunk_rows: int = CHUNK_ROWS
) -> ExportResult:
    """Write ``rows`` of ``kind`` to ``out`` in ``fmt``, ``chunk_rows`` at a time."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    started = time.perf_counter()
    writer = _WRITERS[fmt](out, kind)
    count = chunks = 0
    for batch in chunks_of(rows, chunk_rows):
        table = to_table(kind, batch)
        if chunks == 0:
            writer.start(table)
        writer.chunk(table)
        count += len(batch)
        chunks += 1
    if chunks == 0:  # an empty range still gives a well-formed, empty table
        writer.start(to_table(kind, []))
    writer.finish()
    return ExportResult(count, chunks, time.perf_counter() - started)


def query_rows(
    store: LifecycleStore, query: ExportQuery, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Row]:
    """The rows of ``query``, read from the store a chunk at a time (no writer)."""
    return _SOURCES[query.kind](store, query, chunk_rows)


def export(
    store: LifecycleStore,
    query: ExportQuery,
    fmt: str,
    out: IO[str],
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> ExportResult:
    """Stream ``query``'s rows from the store to ``out`` as a ``fmt`` table."""
    rows = query_rows(store, query, chunk_rows)
    return export_rows(query.kind, rows, fmt, out, chunk_rows=chunk_rows)


# -- reading back ---------------------------------------------------------------------------


def read_export(path: Path, fmt: str, kind: str) -> Table:
    """An export read back as a table with its units: astropy's readers for ECSV and VOTable;
    CSV (no units in the file) gets the kind's units; JSON Lines is parsed here."""
    if fmt == "ecsv":
        return Table.read(path, format="ascii.ecsv")
    if fmt == "votable":
        return Table.read(path, format="votable")
    if fmt == "csv":
        table = Table.read(path, format="ascii.csv")
        for spec in SCHEMAS[kind]:
            if spec.unit is not None:
                table[spec.name].unit = spec.unit
        return table
    if fmt == "json":
        with path.open(encoding="utf-8") as f:
            header = json.loads(f.readline())
            records = [json.loads(line) for line in f if line.strip()]
        columns = []
        for meta in header["columns"]:
            values = [r[meta["name"]] for r in records]
            if meta["datatype"] == "float":
                values = [math.nan if v is None else v for v in values]
            dtype = _DTYPES[meta["datatype"]]
            columns.append(
                Column(
                    np.array(values, dtype=dtype) if values else np.array([], dtype=dtype),
                    name=meta["name"],
                    unit=meta["unit"],
                    description=meta["description"],
                )
            )
        return Table(columns)
    raise ValueError(f"unknown format {fmt!r}")
