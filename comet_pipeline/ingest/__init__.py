"""Idempotent ingestion workflows over the lifecycle store and the archive client.

Plain Python, no Dagster: the same functions run under `dagster dev`, from the CLI and in
pytest. Each returns a small result record that the Dagster layer turns into metadata.
"""
