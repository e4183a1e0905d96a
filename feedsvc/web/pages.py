"""Pages for people: the directory of feeds."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from . import get_service

bp = Blueprint("pages", __name__)


@bp.get("/")
def directory() -> str:
    service = get_service(current_app)
    counts = service.store.counts()
    scopes = service.catalog.scopes()
    return render_template(
        "directory.html",
        all_news=[s for s in scopes if s.kind == "all"],
        sections=[s for s in scopes if s.kind == "section"],
        districts=[s for s in scopes if s.kind == "district"],
        counts=counts,
    )
