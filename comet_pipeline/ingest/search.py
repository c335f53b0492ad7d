"""Archive search: what the archive holds per day, read from the indexes, nothing downloaded.

A hunter planning a historical import wants to know first how many images each day has
(and how many of them are synoptic) without fetching gigabytes of FITS: one ``img_hdr.txt``
per day and detector answers that. Each day is read from the tree that serves it
(:func:`~comet_pipeline.archive.layout.tree_for_day`), as discovery does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.layout import ArchiveTree, tree_for_day
from comet_pipeline.archive.synoptic import synoptic_reason
from comet_pipeline.domain import Detector
from comet_pipeline.ingest.windows import days_covering


@dataclass(frozen=True)
class DayCount:
    """One day and detector of the archive: images observed in the window, by kind."""

    day: date
    detector: Detector
    tree: ArchiveTree
    synoptic: int
    other: int  # binned, polarized, calibration... (not part of the synoptic movie)
    problems: int  # index lines that could not be read

    @property
    def total(self) -> int:
        return self.synoptic + self.other


def search_archive(
    client: ArchiveClient,
    detector: Detector,
    since: datetime,
    until: datetime,
    *,
    now: datetime,
) -> list[DayCount]:
    """Per-day counts of the images observed in [since, until), from each day's index.

    A day whose folder does not exist (yet, or any more in the tree that serves it) counts
    zero. Archive errors propagate: a search that silently skipped a day would misreport it.
    """
    detector = Detector(detector)
    out: list[DayCount] = []
    for day in days_covering(since, until):
        tree = tree_for_day(day, now)
        index = client.fetch_index(day, detector, tree=tree)
        entries = [
            e for e in index.items if e.detector == detector and since <= e.observed_at < until
        ]
        synoptic = sum(1 for e in entries if synoptic_reason(e) is None)
        out.append(
            DayCount(
                day=day,
                detector=detector,
                tree=tree,
                synoptic=synoptic,
                other=len(entries) - synoptic,
                problems=len(index.problems),
            )
        )
    return out
