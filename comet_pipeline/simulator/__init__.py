"""The embedded simulated LASCO archive (``sim://``): operations, sky, formats and serving.

Same config and seed, same bytes: every day, file and pixel is a pure function of the
:class:`SimConfig` and the date, whatever else was computed before. Sky profiles
(:mod:`~comet_pipeline.simulator.profiles`) are named configs.

The names below are imported lazily (PEP 562), so settings can check a ``sim://`` URL's
profile without loading the renderer (numpy, astropy).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comet_pipeline.simulator.archive import CometFrame, CometTruth, SimArchive
    from comet_pipeline.simulator.config import SimConfig
    from comet_pipeline.simulator.faults import HOSTILE_NAMES, Faults
    from comet_pipeline.simulator.operations import SimObservation, SimPass
    from comet_pipeline.simulator.profiles import PROFILES, profile_config, profile_names

_WHERE = {
    "CometFrame": "archive",
    "CometTruth": "archive",
    "SimArchive": "archive",
    "SimConfig": "config",
    "HOSTILE_NAMES": "faults",
    "Faults": "faults",
    "SimObservation": "operations",
    "SimPass": "operations",
    "PROFILES": "profiles",
    "profile_config": "profiles",
    "profile_names": "profiles",
}

__all__ = [
    "HOSTILE_NAMES",
    "PROFILES",
    "CometFrame",
    "CometTruth",
    "Faults",
    "SimArchive",
    "SimConfig",
    "SimObservation",
    "SimPass",
    "profile_config",
    "profile_names",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401  PEP 562: a class or a function, by name
    """Import a public name's module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
