"""``comet-pipeline recipes``: the processing presets, and a window ingested with one.

``recipes list [NAME...]`` prints each preset's imaging and hunting knobs, a star on every
value that differs from ``default`` (so a reader sees what picking it would change); the
hunting values are the effective ``HuntConfig`` ones, not only the overrides.
``recipes run NAME --hours N [--until T]`` ingests the window through the Dagster jobs
(as ``demo`` does) with that recipe on the pipeline resource, so every product of the run
records it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from datetime import datetime, timedelta

from comet_pipeline.cli.home import init_home
from comet_pipeline.cli.main import _positive_int, _time_arg
from comet_pipeline.cli.reports import demo_summary_text
from comet_pipeline.cli.runner import BeforePartitions, demo_instance, ingest_range
from comet_pipeline.defs.resources import pipeline_resource
from comet_pipeline.domain import utcnow
from comet_pipeline.hunting.config import HuntConfig, config_for
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG
from comet_pipeline.imaging.recipes import DEFAULT, RECIPES, HuntKnobs, Recipe, UnknownRecipe
from comet_pipeline.imaging.recipes import recipe as recipe_named
from comet_pipeline.ingest.windows import hour_floor
from comet_pipeline.settings import Settings
from comet_pipeline.store import open_store

NAME = "recipes"

Values = dict[str, str | int | float]


def _recipe_arg(text: str) -> str:
    try:
        return recipe_named(text).name
    except UnknownRecipe as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, help="the processing presets (recipes) and their knobs")
    recipes_sub = parser.add_subparsers(dest="recipes_command", required=True)
    listing = recipes_sub.add_parser("list", help="print the presets and their knobs")
    listing.add_argument("names", nargs="*", type=_recipe_arg, metavar="NAME", help="only these")
    ingest = recipes_sub.add_parser(
        "run", help="ingest the last N hours through Dagster with one recipe and summarise"
    )
    ingest.add_argument("name", type=_recipe_arg, metavar="NAME")
    ingest.add_argument("--hours", type=_positive_int, default=6)
    ingest.add_argument(
        "--until", type=_time_arg, default=None, help="end of the window (UTC; default now)"
    )


def hunting_values(config: HuntConfig) -> Values:
    """The HuntConfig knobs a recipe can set, as the hunt uses them."""
    return {f.name: getattr(config, f.name) for f in fields(HuntKnobs)}


def _knobs(values: Values, base: Values) -> str:
    def one(key: str, value: str | int | float) -> str:
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{key}={text}{'*' if value != base[key] else ''}"

    return " ".join(one(k, v) for k, v in values.items())


def describe(recipe: Recipe) -> list[str]:
    """The lines ``recipes list`` prints for one recipe."""
    hunting = _knobs(hunting_values(config_for(recipe)), hunting_values(DEFAULT_CONFIG))
    return [
        f"{recipe.name:<12} {recipe.summary}",
        f"  imaging  {_knobs(recipe.imaging.values(), DEFAULT.imaging.values())}",
        f"  hunting  {hunting}",
    ]


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.recipes_command == "run":
        return _run(settings, args.name, hours=args.hours, until=args.until or utcnow())
    lines: list[str] = []
    for name in args.names or RECIPES:
        lines += describe(RECIPES[name])
    lines += [
        "* differs from default. Per Dagster run: run config",
        "  ops: {processed_frames: {config: {recipe: NAME}}, comet_candidates: {...}}",
    ]
    print("\n".join(lines))
    return 0


def _run(settings: Settings, name: str, *, hours: int, until: datetime) -> int:
    end = hour_floor(until)
    start = end - timedelta(hours=hours)
    print(f"comet_pipeline: ingesting {start:%Y-%m-%d %H:%M} – {end:%H:%M} UT, recipe {name}")
    if init_home(settings) != 0:
        return 2
    started = time.perf_counter()
    try:
        outcomes = ingest_range(
            settings,
            start,
            end,
            instance=demo_instance(),
            pipeline=pipeline_resource(settings, recipe=name),
        )
    except BeforePartitions as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    store = open_store(settings)
    print(demo_summary_text(store, settings, start, end, elapsed_s=elapsed, runs_ok=outcomes))
    return 0 if all(outcomes) else 1
