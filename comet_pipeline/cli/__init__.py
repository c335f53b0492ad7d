"""The front doors: the ``comet-pipeline`` command, the demo, the status/frames reports and
the in-process job runner (which loads ``definitions.py``, so it sits above it)."""

from comet_pipeline.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
