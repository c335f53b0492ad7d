from datetime import UTC, datetime, timedelta

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import build_candidate
from comet_pipeline.hunting.model import Detection
from comet_pipeline.hunting.persist import candidate_from_rows, candidate_row, detection_rows


def test_rows_round_trip_keeps_id_and_track():
    t0 = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
    dets = [
        Detection(
            f"3200000{i}.fts", t0 + timedelta(minutes=12 * i), 600 - 2 * i, 200 + 4 * i, 50, 7
        )
        for i in range(6)
    ]
    cand = build_candidate("c3", dets, sun=(516.9, 532.6), config=HuntConfig())
    row = candidate_row(cand, cutout_path="/tmp/x.png")
    rows = detection_rows(cand)
    assert row.id == cand.id and row.n_frames == 6 and row.first_seen_at == t0
    assert (row.report_text or "").startswith("Candidate: C3-")
    assert [r.file for r in rows] == [d.name for d in dets]
    assert rows[2].x == 596.0 and rows[2].y == 208.0
    back = candidate_from_rows(row, rows, sun=(516.9, 532.6))
    assert back.id == cand.id
    assert back.detections == cand.detections
    assert abs(back.score - cand.score) < 1e-9
