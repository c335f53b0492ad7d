"""Recipes at the imaging layer: the knobs a recipe sets are the ones the processor uses
and writes into every FITS product; ``default`` changes no byte of any product."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from comet_pipeline.hunting.config import HuntConfig, config_for
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PRODUCTS
from comet_pipeline.imaging.products.registry import FITS
from comet_pipeline.imaging.recipes import (
    CLEAN_MOVIE,
    DEFAULT,
    FAINT_C3,
    FAST_C2,
    RECIPES,
    ImagingKnobs,
    UnknownRecipe,
    recipe,
)
from comet_pipeline_tests.imaging.helpers import product_path
from comet_pipeline_tests.imaging.test_pipeline import Run, _process

FRAMES = 4  # enough for a rolling background (3 earlier) and running differences


def _run(proc: FrameProcessor) -> list:
    run, history = Run(seed=3), []
    for k in range(FRAMES):
        frame, _ = _process(proc, run, k, history)
        history.append(frame)
    return history


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_default_recipe_leaves_every_product_byte_identical(tmp_path):
    # what a processor was before recipes: the old signature's defaults, spelled out
    before = FrameProcessor(
        tmp_path / "before",
        history=10,
        min_history=3,
        max_gap=timedelta(minutes=40),
        background_window=timedelta(hours=6),
        fallback="self",
    )
    _run(before)
    _run(FrameProcessor(tmp_path / "implicit"))
    _run(FrameProcessor(tmp_path / "default", recipe=DEFAULT))
    want = _digests(tmp_path / "before")
    assert len(want) >= FRAMES * len(PRODUCTS)  # every product, differences included
    assert _digests(tmp_path / "implicit") == want
    assert _digests(tmp_path / "default") == want
    for path in (tmp_path / "default").rglob("*.fits*"):
        assert "RECIPE" not in read_image(path)[1]  # nothing recorded, nothing changed


def test_a_recipes_knobs_are_used_and_written_into_every_fits_product(tmp_path):
    proc = FrameProcessor(tmp_path, recipe=FAINT_C3)
    assert (proc.history, proc.min_history, proc.background_window) == (20, 5, timedelta(hours=10))
    frames = _run(proc)
    # min_history 5: four frames never get a rolling background (default: from the 4th)
    assert [f.background_kind for f in frames] == ["self"] * FRAMES
    fits_products = [s.name for s in PRODUCTS if s.content_type == FITS]
    seen = 0
    for frame in frames:
        for name in fits_products:
            path = frame.path(name)
            if path is None:
                continue
            header = read_image(Path(path))[1]
            assert header["RECIPE"] == "faint-c3"
            assert (header["RCPHIST"], header["RCPMINH"]) == (20, 5)
            assert header["RCPMAXGP"] == 40.0 and header["RCPBGWIN"] == 10.0
            assert header["RCPFALLB"] == "self"
            seen += 1
    assert seen == FRAMES * len(fits_products)


def test_a_knob_passed_beside_a_recipe_wins_and_the_header_says_so(tmp_path):
    proc = FrameProcessor(tmp_path, recipe=FAST_C2, history=8)
    assert proc.history == 8 and proc.max_gap == timedelta(minutes=25)
    assert proc.like().knobs == proc.knobs and proc.like().recipe is FAST_C2
    frame, _ = _process(proc, Run(), 0, [])
    header = read_image(product_path(frame, "calibrated"))[1]
    assert header["RECIPE"] == "fast-c2"
    assert header["RCPHIST"] == 8 and header["RCPMAXGP"] == 25.0


def test_the_default_recipe_is_todays_hunt_and_the_others_change_it():
    assert config_for(DEFAULT) == DEFAULT_CONFIG == HuntConfig()
    assert DEFAULT.imaging == ImagingKnobs()
    assert config_for(FAINT_C3).threshold == 3.0 and config_for(FAINT_C3).min_frames == 7
    assert config_for(FAST_C2).max_gap_hours == 0.5
    assert config_for(CLEAN_MOVIE).min_score == 10.0
    for r in RECIPES.values():  # every preset but default changes something of both layers
        changed = r.imaging != DEFAULT.imaging, config_for(r) != DEFAULT_CONFIG
        assert changed == ((False, False) if r.is_default else (True, True)), r.name


def test_recipe_names():
    assert set(RECIPES) == {"default", "faint-c3", "fast-c2", "clean-movie"}
    assert recipe(None) is DEFAULT and recipe("") is DEFAULT and recipe("fast-c2") is FAST_C2
    with pytest.raises(UnknownRecipe, match="known: default, faint-c3"):
        recipe("faint")
    with pytest.raises(ValueError, match="fallback"):
        ImagingKnobs(fallback="flat")
