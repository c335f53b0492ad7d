from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from comet_pipeline.archive.synoptic import synoptic_reason
from comet_pipeline.domain.models import ArchiveFile, Detector

C2 = ArchiveFile(
    name="22932721.fts",
    detector=Detector.C2,
    observed_at=datetime(2024, 1, 1, tzinfo=UTC),
    exptime=25.1,
    naxis1=1024,
    naxis2=1024,
    filter="Orange",
    polarizer="Clear",
    program="Normal",
)
C3 = replace(C2, name="32088304.fts", detector=Detector.C3, filter="Clear")


def test_nominal_images_are_synoptic() -> None:
    assert synoptic_reason(C2) is None
    assert synoptic_reason(C3) is None
    assert synoptic_reason(replace(C2, filter="ORANGE", program="normal")) is None


@pytest.mark.parametrize(
    ("f", "reason"),
    [
        (replace(C2, naxis1=512, naxis2=512), "512x512 binned image"),
        (replace(C3, naxis1=1024, naxis2=512), "1024x512 image, not 1024x1024"),
        (replace(C2, program="Dark"), "program 'Dark' not Normal"),
        (replace(C2, filter="Blue"), "filter Blue/Clear not nominal Orange/Clear for C2"),
        (replace(C2, filter="Clear"), "filter Clear/Clear not nominal Orange/Clear for C2"),
        (replace(C3, filter="Orange"), "filter Orange/Clear not nominal Clear/Clear for C3"),
        (replace(C3, polarizer="+60 deg"), "filter Clear/+60 deg not nominal Clear/Clear for C3"),
    ],
)
def test_non_synoptic_reasons(f: ArchiveFile, reason: str) -> None:
    assert synoptic_reason(f) == reason
