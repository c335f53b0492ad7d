"""The daily ``featured_targets`` asset, materialised on a real store in a temp home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import materialize

from comet_pipeline.defs.assets.featured import featured_targets
from comet_pipeline.defs.resources import pipeline_resource, store_resource
from comet_pipeline.domain import Slot
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.shared import NOW

DAY = datetime(2025, 6, 20, tzinfo=UTC)  # Jupiter in C3


def test_featured_targets_reports_planets_corridors_and_keyholes(settings, instance):
    settings.home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.layout.lifecycle_db)
    store.upsert_slots([Slot(DAY + timedelta(hours=6), DAY + timedelta(hours=18), "DSS-14")], NOW)
    store.close()
    result = materialize(
        [featured_targets],
        resources={"store": store_resource(settings), "pipeline": pipeline_resource(settings)},
        partition_key=f"{DAY:%Y-%m-%d}",
        instance=instance,
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("featured_targets")
    md = mat.metadata
    assert "| C3 | jupiter | 00:00 | 23:00 | 24 |" in md["planets"].value
    assert "| Kreutz | C2 |" in md["corridors"].value
    assert md["no_pass_hours"].value == 12.0
    assert "| no pass | 00:00 | 06:00 |" in md["keyholes"].value
    assert md["c3/kreutz_well_placed"].value is True
    assert (settings.layout.products_dir / "featured" / "20250620.json").is_file()
