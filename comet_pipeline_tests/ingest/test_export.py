"""Exports round-trip: every kind in every format read back gives the same rows and units,
written in several chunks (the streaming path), from a real SQLite store."""

from __future__ import annotations

import io
import math
from datetime import timedelta
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from comet_pipeline.domain import CandidateRecord, CandidateStatus, DetectionRecord, Detector
from comet_pipeline.ingest.export import (
    FORMATS,
    KINDS,
    SCHEMAS,
    ExportQuery,
    export,
    export_rows,
    iso_utc,
    read_export,
)
from comet_pipeline_tests.shared import FILLED_NAMES, FILLED_TIMES, HOUR, NOW

SINCE, UNTIL = HOUR - timedelta(hours=1), HOUR + timedelta(hours=6)


@pytest.fixture
def export_store(filled_store):
    """The filled store plus a second candidate whose track has gaps (NaN flux and SNR), an
    odd ``known`` text (comma, quotes, spaces) and a detection outside the window."""
    filled_store.upsert_candidate(
        CandidateRecord(
            id="c3-20250610-0002",
            detector="c3",
            first_seen_at=FILLED_TIMES[1],
            last_seen_at=FILLED_TIMES[0],
            n_frames=3,
            score=None,
            snr=4.5,
            speed_px_per_hour=1.25,
            direction_deg=10.0,
            status=CandidateStatus.NEW,
            report_text=None,
            cutout_path=None,
            known='known: "Venus", bright',
        ),
        now=NOW,
    )
    track = [
        DetectionRecord(n, t, 100.5 + i, 200.25 - i, None if i == 1 else 42.0, 5.0 + i)
        for i, (n, t) in enumerate(zip(FILLED_NAMES, FILLED_TIMES, strict=True))
    ]
    filled_store.replace_detections("c3-20250610-0002", track)
    outside = DetectionRecord(FILLED_NAMES[2], UNTIL + timedelta(hours=1), 1.0, 2.0)
    filled_store.replace_detections("c3-20250610-0001", [*track[:2], outside])
    return filled_store


def _same_rows(a: Table, b: Table) -> None:
    assert a.colnames == b.colnames and len(a) == len(b)
    for name in a.colnames:
        left, right = _plain(a[name]), _plain(b[name])
        if left.dtype.kind == "f":
            np.testing.assert_array_equal(left, right)  # NaN == NaN here
        else:
            assert [str(v) for v in left] == [str(v) for v in right], name


def _plain(column) -> np.ndarray:
    """Masked cells as a reader makes them (VOTable masks NaN, CSV masks empty text) -> the
    values the export wrote: NaN for numbers, '' for text."""
    if getattr(column, "mask", None) is not None and np.any(column.mask):
        if column.dtype.kind == "f":
            return column.filled(math.nan).data
        return np.array(
            ["" if m else str(v) for v, m in zip(column.data, column.mask, strict=True)]
        )
    data = np.asarray(column)
    return data.astype(str) if data.dtype.kind in "OSU" else data


def _units(table: Table) -> dict[str, u.UnitBase | None]:
    return {n: table[n].unit for n in table.colnames}


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_round_trips_rows_and_units(export_store, tmp_path: Path, kind: str):
    query = ExportQuery(kind, SINCE, UNTIL, (Detector.C3,))
    tables = {}
    for fmt in FORMATS:
        path = tmp_path / f"{kind}.{fmt}"
        with path.open("w", encoding="utf-8", newline="") as out:
            result = export(export_store, query, fmt, out, chunk_rows=2)
        tables[fmt] = read_export(path, fmt, kind)
        assert result.rows == len(tables[fmt]) > 0
        assert result.chunks == math.ceil(result.rows / 2)
    reference = tables["ecsv"]  # astropy's own reader, types and units from the file
    expected_units = {s.name: s.unit for s in SCHEMAS[kind]}
    for fmt, table in tables.items():
        _same_rows(reference, table)
        for name, unit in _units(table).items():
            want = expected_units[name]
            assert (unit or u.dimensionless_unscaled) == (want or u.dimensionless_unscaled), (
                fmt,
                name,
            )
            if want is not None and want != u.dimensionless_unscaled:
                assert unit == want, (fmt, name)


def test_detections_carry_what_the_store_holds(export_store, tmp_path: Path):
    path = tmp_path / "d.ecsv"
    with path.open("w") as out:
        export(export_store, ExportQuery("detections", SINCE, UNTIL), "ecsv", out)
    table = Table.read(path, format="ascii.ecsv")
    assert len(table) == 5  # 3 + 2 in the window; the one outside it is left out
    assert table["x"].unit == u.pix and table["y"].unit == u.pix
    row = table[table["candidate_id"] == "c3-20250610-0002"][0]  # by time: the 2nd made
    assert row["observed_at"] == iso_utc(FILLED_TIMES[1]) and row["observed_at"].endswith("Z")
    assert math.isnan(row["flux"]) and row["x"] == 101.5
    cands = Table.read(_write(export_store, "candidates", "votable", tmp_path), format="votable")
    odd = cands[cands["id"] == "c3-20250610-0002"][0]
    assert odd["known"] == 'known: "Venus", bright' and cands["speed"].unit == u.pix / u.h


def _write(store, kind: str, fmt: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.{fmt}"
    with path.open("w") as out:
        export(store, ExportQuery(kind, SINCE, UNTIL), fmt, out)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_range_is_an_empty_well_formed_table(sqlite_store, tmp_path, fmt):
    path = tmp_path / f"empty.{fmt}"
    with path.open("w") as out:
        result = export(sqlite_store, ExportQuery("frames", SINCE, UNTIL), fmt, out)
    assert result.rows == 0
    table = read_export(path, fmt, "frames")
    assert len(table) == 0 and table.colnames == [s.name for s in SCHEMAS["frames"]]


def test_a_bad_query_is_refused():
    with pytest.raises(ValueError, match="unknown export"):
        ExportQuery("slots", SINCE, UNTIL)
    with pytest.raises(ValueError, match="before"):
        ExportQuery("files", UNTIL, SINCE)
    with pytest.raises(ValueError, match="format"):
        export_rows("files", [], "xlsx", io.StringIO())
