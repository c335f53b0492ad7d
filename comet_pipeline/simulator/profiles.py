"""Named sky profiles: skies that vary what the comet hunter depends on, each seeded.

A profile is a set of :class:`~comet_pipeline.simulator.config.SimConfig` overrides;
``profile_config("storm", seed=3)`` is the config of that sky. The hunter is tuned on some
profiles and evaluated on all; ``hostile`` combines several stresses and is meant to stay
held out (never used for tuning).

Star counts quoted below are *detectable* stars: inside the occulter / field-stop annulus
with a transmitted peak of at least ``Optics.star_min_rate`` (nominal: C2 ~180, C3 ~1170).

The ``sim://`` archive URL can name a profile: ``sim://lasco`` is ``nominal`` and
``sim://lasco-<profile>`` (e.g. ``sim://lasco-rolled``) another one; the client appends
paths as usual (``sim://lasco-rolled/250101/c2/img_hdr.txt``). See :func:`profile_from_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from comet_pipeline.simulator.config import SimConfig

ARCHIVE_HOST = "lasco"  # sim://lasco[-<profile>]/...


@dataclass(frozen=True)
class SkyProfile:
    """One named sky: what it stresses (``doc``) and the SimConfig fields it sets."""

    name: str
    doc: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def config(self, seed: int = 0, **overrides: Any) -> SimConfig:  # noqa: ANN401  SimConfig fields of many types
        """The profile's SimConfig for ``seed``; ``overrides`` win over the profile's values."""
        return SimConfig(**{"seed": seed, "profile": self.name, **self.overrides, **overrides})


def _profile(name: str, doc: str, **overrides: Any) -> SkyProfile:  # noqa: ANN401  SimConfig fields
    return SkyProfile(name, doc, MappingProxyType(overrides))


_STORM = dict(storms_per_day=1.5, storm_peak_factor=50.0)
_DEFECTS = dict(hot_pixels=300, warm_columns=4, static_ring_amp=0.4)

PROFILES: Mapping[str, SkyProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            _profile("nominal", "Today's defaults: the sky the pipeline was developed on."),
            _profile(
                "sparse",
                "Few stars (C2 ~20, C3 ~200) and strong, flickering rings at the occulter and "
                "field-stop edges: star-based registration has little to hold on to and ring "
                "residuals dominate the background-subtracted frame.",
                star_density_scale=(0.11, 0.17),
                static_ring_amp=1.0,
            ),
            _profile(
                "dense",
                "Many stars (C2 ~400, C3 ~3000): crowding, confusion with the comet, star "
                "removal and false tracks from chance alignments of residuals.",
                star_density_scale=(2.2, 2.55),
            ),
            _profile(
                "rolled",
                "Spacecraft rolled 180 deg: the sky (stars, comets, streamers) turns in the "
                "array, the instrument (occulter, pylon) does not; tests every place that "
                "assumes north up or a fixed drift direction.",
                roll_deg=180.0,
            ),
            _profile(
                "storm",
                "Particle storms: one or two episodes a day of a few hours in which the "
                "cosmic-ray rate ramps to ~30-100x normal (thousands of hits per frame): "
                "cosmic-ray rejection and false-alarm control.",
                **_STORM,
            ),
            _profile(
                "defects",
                "Detector defects fixed in the array: a few hundred hot pixels, static 2x2 and "
                "PSF-like knots, warm column segments, moderate rings: static sources that "
                "are not stars and must not become tracks.",
                **_DEFECTS,
            ),
            _profile(
                "active",
                "An active Sun: several CMEs a day and bright streamers: a bright, fast-"
                "changing background that the rolling background cannot follow.",
                cme_per_day=4.0,
                streamer_scale=2.5,
            ),
            _profile(
                "noisy",
                "About 2x the noise, larger cadence jitter and more dropped frames and gaps: "
                "faint comets near the threshold, irregular frame spacing.",
                noise_scale=2.0,
                jitter_s=180.0,
                drop_probability=0.12,
                gap_probability=0.9,
            ),
            _profile(
                "hostile",
                "Held out, never for tuning: rolled 180 + storms + defects + dense C2.",
                roll_deg=180.0,
                star_density_scale=(2.2, 1.0),
                **_STORM,
                **_DEFECTS,
            ),
        )
    }
)


def profile_names() -> list[str]:
    """The valid profile names, in the order they are documented."""
    return list(PROFILES)


def get_profile(name: str) -> SkyProfile:
    """The profile called ``name``; ValueError naming the valid ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(PROFILES)
        raise ValueError(f"unknown sky profile {name!r}; valid profiles: {valid}") from None


def profile_config(name: str, seed: int = 0, **overrides: Any) -> SimConfig:  # noqa: ANN401  SimConfig fields
    """SimConfig of profile ``name`` for ``seed``; ``overrides`` (SimConfig fields) win."""
    unknown = set(overrides) - {f.name for f in fields(SimConfig)}
    if unknown:
        raise TypeError(f"not SimConfig fields: {', '.join(sorted(unknown))}")
    return get_profile(name).config(seed, **overrides)


def profile_from_url(url: str) -> str | None:
    """The profile a ``sim://`` archive URL names, or None if it is no ``sim://lasco`` URL.

    ``sim://lasco/...`` is ``nominal``, ``sim://lasco-NAME/...`` is profile ``NAME``. An
    unknown name raises ValueError listing the valid ones (settings turn it into a
    SettingsError before anything runs).
    """
    parts = urlsplit(url)
    if parts.scheme != "sim":
        return None
    host = parts.netloc.lower()
    if host == ARCHIVE_HOST:
        return "nominal"
    prefix = ARCHIVE_HOST + "-"
    if not host.startswith(prefix):
        return None
    return get_profile(host[len(prefix) :]).name


def archive_url_for(profile: str) -> str:
    """The ``sim://`` archive URL of ``profile`` (``sim://lasco`` for nominal)."""
    name = get_profile(profile).name
    return f"sim://{ARCHIVE_HOST}" if name == "nominal" else f"sim://{ARCHIVE_HOST}-{name}"
