"""Knobs of the simulated archive. Frozen: a config plus a seed fully determines every byte."""

from __future__ import annotations

from dataclasses import dataclass

from comet_pipeline.simulator.faults import Faults


@dataclass(frozen=True)
class SimConfig:
    """Operations, sky and fault settings of :class:`~comet_pipeline.simulator.SimArchive`.

    Rates are per day and per detector unless stated otherwise. Render toggles (``noise``,
    ``stars`` ...) exist so tests can isolate one layer on the real rendering path.
    """

    seed: int = 0
    # --- operations
    cadence_s: float = 720.0  # synoptic cadence (~12 min)
    jitter_s: float = 45.0  # uniform jitter added to each slot time
    drop_probability: float = 0.03  # a single synoptic slot is not taken
    gap_probability: float = 0.35  # chance of one longer gap (1-3 h) in a day
    non_synoptic_fraction: float = 0.05  # extra 512x512 binned or polarized images per slot
    duplicate_fraction: float = 0.02  # observations re-served later under a new file number
    passes_per_day: tuple[int, int] = (3, 5)  # DSN passes (inclusive range)
    pass_hours: tuple[float, float] = (1.0, 4.0)  # pass length range
    realtime_latency_min: tuple[float, float] = (
        2.0,
        8.0,
    )  # during a pass: end of exposure->arrival
    playback_fraction: float = 0.6  # stored images are played back over this part of the next pass
    # --- the two level-0.5 trees (days counted back from the simulator clock's date)
    nrt_days: int = 30  # the near-real-time tree holds days less than this many days old
    longterm_lag_days: int = 14  # the long-term tree holds days at least this many days old
    # --- sky
    comets_per_day: float = 0.5  # Kreutz comets entering each detector per day (Poisson mean)
    c2_fast_comets_per_day: float = 0.15  # Marsden/Kracht-like C2-only comets per day
    kreutz_spread_deg: float = 3.0  # Kreutz members' node, incl, peri: +- this about the mean
    kreutz_q_spread: float = 0.2  # ... and perihelion distance within a factor 1 +- this
    comet_snr_range: tuple[float, float] = (2.5, 40.0)  # peak SNR at entry, log-uniform
    cme_per_day: float = 0.4
    missing_block_probability: float = 0.04  # per frame: some 32x32 blocks of zeros
    cosmic_rays_per_s: float = 8.0  # hits per second of exposure (C3; C2 gets 40 %)
    roll_deg: float = 0.0  # spacecraft roll (CROTA): the instrument rolls, the sky does not
    # --- sky profile knobs (defaults reproduce the nominal sky byte for byte)
    profile: str = "nominal"  # name of the sky profile this config came from (display only)
    star_density_scale: tuple[float, float] = (1.0, 1.0)  # (C2, C3) x the optics' star density
    streamer_scale: float = 1.0  # x the streamers' brightness above the pole level
    noise_scale: float = 1.0  # x the photon + read noise sigma
    # --- detector effects (fixed in array coordinates; see detector_effects.py)
    hot_pixels: int = 0  # hot pixels per detector (plus hot_pixels // 40 static 2x2/PSF knots)
    warm_columns: int = 0  # column segments with a constant dark-current excess
    static_ring_amp: float = 0.0  # occulter / field-stop rings, x the local corona
    storms_per_day: float = 0.0  # particle-storm episodes per day (both detectors)
    storm_peak_factor: float = 50.0  # typical peak cosmic-ray rate multiplier of a storm
    # --- render toggles (tests isolate layers on the real path with these)
    noise: bool = True
    stars: bool = True
    corona: bool = True
    cosmic_rays: bool = True
    artefacts: bool = True  # missing blocks, CMEs, planets
    comets: bool = True
    planets: bool = True  # where astropy's built-in ephemeris puts them
    # --- faults applied by both the sim:// adapter and the HTTP server (None = none)
    faults: Faults | None = None
