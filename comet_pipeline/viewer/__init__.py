"""The hunter's viewer: a front door beside ``cli/``, serving the store and the products.

``build_app`` makes the FastAPI application (JSON API under ``/api``, product files under
``/products``); ``server`` binds and runs it on uvicorn (``comet-pipeline serve``). It reads
the store through ``LifecycleStore`` only: the engine is chosen by whoever builds the app.
"""

from comet_pipeline.viewer.app import StoreOpener, build_app

__all__ = ["StoreOpener", "build_app"]
