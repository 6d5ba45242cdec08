"""Administration in the browser: enrollment uploads, single-record forms, providers' registry."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the administration pages."""
    from dispatcher.administration import provider_views, record_views, upload_views

    for module in (upload_views, record_views, provider_views):
        app.register_blueprint(module.bp)
