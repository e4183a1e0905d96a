"""The Flask app: blueprints for feeds, pages and operations, wired in one place."""

from __future__ import annotations

from flask import Flask

from ..service import Service
from ..settings import Settings, load_settings

EXTENSION_KEY = "feedsvc"


def get_service(app: Flask) -> Service:
    service: Service = app.extensions[EXTENSION_KEY]
    return service


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined,unused-ignore]
    service = Service(settings)
    service.store.init()
    app.extensions[EXTENSION_KEY] = service

    from . import feeds, ops, pages, security

    app.register_blueprint(feeds.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(ops.bp)
    security.init_app(app)
    return app
