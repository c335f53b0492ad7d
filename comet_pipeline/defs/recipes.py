"""Which processing recipe a run uses: the assets' ``recipe`` run config, else the
pipeline resource's (the deployment's choice, ``default`` unless set).

Run config, e.g. for the ``ingest_hour`` job or a UI launch::

    ops:
      processed_frames: {config: {recipe: faint-c3}}
      comet_candidates: {config: {recipe: faint-c3}}
"""

from __future__ import annotations

from dagster import Config, Failure
from pydantic import Field, field_validator

from comet_pipeline.defs.resources import PipelineResource
from comet_pipeline.imaging.recipes import RECIPES, Recipe, UnknownRecipe, recipe


class RecipeConfig(Config):
    """Run config of the assets a recipe changes (processed_frames, comet_candidates)."""

    recipe: str = Field(
        default="",
        description=(
            f"processing preset: {', '.join(RECIPES)}; empty: the pipeline resource's recipe"
        ),
    )

    @field_validator("recipe")
    @classmethod
    def _known(cls, name: str) -> str:
        recipe(name)  # UnknownRecipe (a ValueError) when the run starts, not after an hour
        return name


def chosen_recipe(config: RecipeConfig, pipeline: PipelineResource) -> Recipe:
    """The run's recipe; an unknown name fails the step at once (a retry cannot help)."""
    try:
        return recipe(config.recipe or pipeline.recipe)
    except UnknownRecipe as err:
        raise Failure(description=str(err), allow_retries=False) from err
