"""Named processing presets ("recipes"): one name picks the imaging and the hunting knobs.

A recipe is data (frozen dataclasses), chosen per Dagster run (the ``recipe`` config of
``processed_frames`` and ``comet_candidates``) or by name on the command line
(``comet-pipeline recipes list`` shows them). The products a non-default recipe made say
so in their FITS headers (:meth:`Recipe.cards`: ``RECIPE`` and the imaging knob values);
the ``default`` recipe is today's behaviour exactly and adds no card, so its products stay
byte-identical to those made before recipes existed (an absent ``RECIPE`` means
``default``, for old and new files alike).

Imaging knobs are complete values (the defaults come from :mod:`.frame`, the one place
they live). Hunting knobs are overrides of ``hunting.config.HuntConfig`` (``None``: keep
its value), because imaging may not import hunting; ``HuntConfig.from_recipe`` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta

from astropy.io import fits

from comet_pipeline.imaging.frame import BACKGROUND_WINDOW, FALLBACK, HISTORY, MIN_HISTORY

#: The recipe every run uses unless told otherwise.
DEFAULT_RECIPE = "default"
#: FrameProcessor's running-difference gap before recipes (kept as the default's value).
MAX_GAP = timedelta(minutes=40)


@dataclass(frozen=True)
class ImagingKnobs:
    """What :class:`~comet_pipeline.imaging.pipeline.FrameProcessor` is built with."""

    history: int = HISTORY  # earlier frames in the rolling-median background
    min_history: int = MIN_HISTORY  # fewer earlier frames -> the fallback background
    max_gap: timedelta = MAX_GAP  # no running difference across a longer gap
    background_window: timedelta = BACKGROUND_WINDOW  # older earlier frames are not used
    fallback: str = FALLBACK  # "self" or "radial"

    def __post_init__(self) -> None:
        if self.fallback not in ("self", "radial"):
            raise ValueError(f"fallback must be 'self' or 'radial', not {self.fallback!r}")

    def values(self) -> dict[str, str | int | float]:
        """The knobs as printable values (timedelta in minutes / hours)."""
        return {
            "history": self.history,
            "min_history": self.min_history,
            "max_gap_min": self.max_gap / timedelta(minutes=1),
            "background_window_h": self.background_window / timedelta(hours=1),
            "fallback": self.fallback,
        }


@dataclass(frozen=True)
class HuntKnobs:
    """Overrides of ``HuntConfig`` (same names; ``None``: the hunter's own value)."""

    psf_sigma: float | None = None  # px, matched-filter PSF
    threshold: float | None = None  # matched-filter sigma of a per-frame detection
    seed_snr: float | None = None  # both ends of a seed pair need at least this
    min_frames: int | None = None  # detections a track needs
    max_gap_hours: float | None = None  # longest time between two detections of a track
    min_score: float | None = None  # candidates below are not reported

    def overrides(self) -> dict[str, float | int]:
        """The knobs this recipe sets (the ``None`` ones left out)."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}


@dataclass(frozen=True)
class Recipe:
    """A named preset: the imaging knobs, the hunting overrides, and why."""

    name: str
    summary: str  # one line for listings
    imaging: ImagingKnobs = field(default_factory=ImagingKnobs)
    hunting: HuntKnobs = field(default_factory=HuntKnobs)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_RECIPE

    def cards(self, imaging: ImagingKnobs | None = None) -> list[str]:
        """FITS card images recording this recipe on a product: its name and the imaging
        knobs used (``imaging``: the values actually used, when a caller changed some);
        none for ``default`` (its products are byte-identical to those made before)."""
        if self.is_default:
            return []
        k = imaging or self.imaging
        return [
            fits.Card("RECIPE", self.name, "processing preset (comet-pipeline recipes)").image,
            fits.Card("RCPHIST", k.history, "recipe: earlier frames in background").image,
            fits.Card("RCPMINH", k.min_history, "recipe: fewer -> fallback background").image,
            fits.Card(
                "RCPMAXGP", k.max_gap / timedelta(minutes=1), "[min] recipe: max difference gap"
            ).image,
            fits.Card(
                "RCPBGWIN",
                k.background_window / timedelta(hours=1),
                "[h] recipe: background window",
            ).image,
            fits.Card("RCPFALLB", k.fallback, "recipe: fallback background").image,
        ]


DEFAULT = Recipe(
    DEFAULT_RECIPE,
    "today's behaviour exactly: every knob at its built-in value",
)
"""Today's pipeline: the imaging defaults of :mod:`.frame` and an unchanged HuntConfig."""

FAINT_C3 = Recipe(
    "faint-c3",
    "deeper background and lower thresholds for faint, slow C3 comets",
    imaging=ImagingKnobs(
        history=20,  # median of 20 samples: ~1/sqrt(2) the background noise of 10
        min_history=5,
        background_window=timedelta(hours=10),  # C3's 12-min cadence: 20 frames need ~4-6 h
    ),
    hunting=HuntKnobs(
        psf_sigma=1.5,  # faint comets are diffuse comae rather than points
        threshold=3.0,
        seed_snr=4.0,
        min_frames=7,  # lower thresholds let more noise in: ask for longer tracks
    ),
)
"""For the faint end of C3 (the Kreutz family at magnitude ~8 and fainter): a longer,
deeper rolling background lowers the noise a faint comet has to beat, and the matched
filter is widened and its thresholds lowered to pick comae a point-source filter misses.
Longer tracks are required so the extra detections do not turn into spurious candidates.
A slow comet (< 1 px per frame in C3) sits in few of 20 samples, so the median does not
absorb it. Costs: twice the samples read per frame, a few more false candidates."""

FAST_C2 = Recipe(
    "fast-c2",
    "short background and gaps for quick C2 comets, results sooner",
    imaging=ImagingKnobs(
        history=6,
        min_history=2,  # a rolling background after two frames, not three
        max_gap=timedelta(minutes=25),  # C2's ~12-min cadence: one missed frame at most
        background_window=timedelta(hours=2),
    ),
    hunting=HuntKnobs(min_frames=4, max_gap_hours=0.5),
)
"""For fast C2 sungrazers (~70-110 px/h): they cross C2 in a few hours, so a short
background (6 frames within 2 h) follows the changing corona closely and starts a rolling
background sooner, at no risk of subtracting the comet (it moves many pixels a frame); the
running difference is only made across at most one missed frame. The hunter links tracks
of 4 detections with at most half an hour between them: a fast comet gives few frames in a
window and a longer gap would let unrelated sources link at these speeds."""

CLEAN_MOVIE = Recipe(
    "clean-movie",
    "smooth, flicker-free frames for playback; only strong candidates",
    imaging=ImagingKnobs(
        history=15,
        min_history=5,  # no early frames on a noisy self/radial background
        max_gap=timedelta(minutes=60),  # differences across a missed frame or two
        background_window=timedelta(hours=8),
    ),
    hunting=HuntKnobs(threshold=4.0, min_score=10.0),
)
"""For the animated playback and outreach: a 15-frame background changes little from one
frame to the next, so the movie does not flicker, and running differences span a gap of up
to an hour so short data gaps do not blank the difference movie. Hunting is made stricter
(higher detection threshold and score) so the candidate marks on a movie are few and sure."""

RECIPES: dict[str, Recipe] = {r.name: r for r in (DEFAULT, FAINT_C3, FAST_C2, CLEAN_MOVIE)}


class UnknownRecipe(ValueError):
    """A recipe name no preset has (a ValueError: settings and config validation say it)."""


def recipe(name: str | None) -> Recipe:
    """The recipe called ``name`` (``None`` or ``""``: ``default``); :class:`UnknownRecipe`
    naming the known ones else."""
    if not name:
        return DEFAULT
    try:
        return RECIPES[name]
    except KeyError:
        raise UnknownRecipe(f"no recipe {name!r}; known: {', '.join(RECIPES)}") from None
