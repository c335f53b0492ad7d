"""The Dagster layer: resources, partitions, assets, checks, sensors and schedules.

Thin by design: every asset body calls one service and turns its result into metadata.
"""
