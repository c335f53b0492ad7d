"""The embedded simulated LASCO archive (``sim://``): operations, sky, formats and serving.

Same config and seed, same bytes: every day, file and pixel is a pure function of the
:class:`SimConfig` and the date, whatever else was computed before.
"""

from comet_pipeline.archive.sim.archive import CometFrame, CometTruth, SimArchive
from comet_pipeline.archive.sim.config import SimConfig
from comet_pipeline.archive.sim.faults import HOSTILE_NAMES, Faults
from comet_pipeline.archive.sim.operations import SimObservation, SimPass

__all__ = [
    "HOSTILE_NAMES",
    "CometFrame",
    "CometTruth",
    "Faults",
    "SimArchive",
    "SimConfig",
    "SimObservation",
    "SimPass",
]
