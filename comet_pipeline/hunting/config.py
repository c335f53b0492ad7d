"""Hunting knobs in one frozen place, with per-detector motion limits.

Speeds are px/hour in the FITS array frame, using real observation times (the cadence
jitters and frames go missing, so "px per frame" would lie).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from comet_pipeline.imaging.recipes import Recipe


@dataclass(frozen=True)
class DetectorParams:
    min_speed: float  # px/h, slowest comet we link
    max_speed: float  # px/h, fastest
    typical_speed: tuple[float, float]  # px/h, range of sungrazers in this camera (scoring)
    min_rel_speed: float  # px/h, a track must differ from the star drift by at least this
    link_radius: float  # px, search radius around the predicted position
    max_drift_rate: float  # px/h, bound of the star-drift vote
    drift_tolerance: float  # px/h, votes this near the ephemeris refine it; farther: disagree
    zero_exclusion: float  # px/h, slower votes (things that stand still) never count


C3_PARAMS = DetectorParams(
    min_speed=2.5,  # 0.5 px per 12 min
    max_speed=25.0,  # 5 px per 12 min
    typical_speed=(4.0, 16.0),  # Kreutz in C3: ~1-3 px per frame
    min_rel_speed=2.0,
    link_radius=2.0,
    max_drift_rate=8.0,  # stars ~2.5 px/h
    drift_tolerance=0.3,  # ~12 % of the drift; 1 px of error over the 1 h star window is 1 px/h
    zero_exclusion=1.0,
)
C2_PARAMS = DetectorParams(
    min_speed=10.0,
    # a Kreutz comet reaches ~420 km/s at C2's occulter (2.2 R_sun): ~175 px/h if it all
    # lay across the line of sight; the simulator's orbits give 40-160 px/h
    max_speed=200.0,
    typical_speed=(40.0, 140.0),  # Kreutz 40-160 px/h (entry to occulter), Marsden ~80
    min_rel_speed=5.0,
    link_radius=2.5,
    max_drift_rate=25.0,  # stars ~12.5 px/h
    drift_tolerance=1.0,  # ~8 % of the drift
    zero_exclusion=4.0,
)


@dataclass(frozen=True)
class HuntConfig:
    psf_sigma: float = 1.2  # px, Gaussian PSF of the matched filter
    threshold: float = 3.5  # matched-filter sigma for a per-frame detection
    seed_snr: float = 4.5  # both ends of a seed pair need at least this
    max_sharpness: float = 4.5  # peak pixel / matched response; above = cosmic ray
    # valid pixels required around a peak: 0, because a comet riding the pylon edge is half
    # masked, and what rings at the occulter and pylon edges stands still (static masks)
    edge_margin: int = 0
    min_roundness: float = 0.3  # curvature ratio at the peak; below = ridge
    min_contrast: float = 0.4  # fall-off at 3 px in the flattest direction; below = ridge/blob
    min_frames: int = 5
    max_miss: int = 1  # consecutive frames without a detection inside a track
    max_gap_hours: float = 0.75  # longest time between two detections of one track
    stitch_gap_hours: float = 2.0  # track pieces this far apart may be joined
    star_radius: float = 1.0  # px, a source at (position + drift dt) in a neighbour is a star
    star_window_hours: float = 1.0  # neighbours used for the star test
    max_rms: float = 1.2  # px, rms residual of the quadratic fit
    min_score: float = 8.0  # candidates below are not reported (tuned on seeds 1-3)
    # sources at the same pixel in most frames of the window (hot pixels, rings, knots)
    static_radius: float = 1.5  # px
    static_fraction: float = 0.5  # of the window's frames
    static_min_frames: int = 8  # a slow C3 comet stays ~7 frames within 1.5 px
    # particle storms: a frame with far more sources than the window's median
    storm_factor: float = 1.6  # more than this x the window's median count is a storm frame
    storm_min_sources: int = 400  # ... and more than this many sources
    storm_keep: float = 1.3  # a storm frame keeps this x the median count, most PSF-like first
    max_sources_per_frame: int = 4000  # hard bound on per-frame work, same ranking
    c2: DetectorParams = field(default_factory=lambda: C2_PARAMS)
    c3: DetectorParams = field(default_factory=lambda: C3_PARAMS)

    def params(self, detector: str) -> DetectorParams:
        return self.c2 if str(detector).lower() == "c2" else self.c3


def config_for(recipe: Recipe, base: HuntConfig | None = None) -> HuntConfig:
    """``base`` (the hunter's defaults) with the recipe's hunting knobs applied; the
    ``default`` recipe sets none, so it gives ``base`` itself (same values, same hunt)."""
    base = base if base is not None else HuntConfig()
    k = recipe.hunting
    if not k.overrides():
        return base
    return replace(
        base,
        psf_sigma=base.psf_sigma if k.psf_sigma is None else k.psf_sigma,
        threshold=base.threshold if k.threshold is None else k.threshold,
        seed_snr=base.seed_snr if k.seed_snr is None else k.seed_snr,
        min_frames=base.min_frames if k.min_frames is None else k.min_frames,
        max_gap_hours=base.max_gap_hours if k.max_gap_hours is None else k.max_gap_hours,
        min_score=base.min_score if k.min_score is None else k.min_score,
    )
