"""Operations: /healthz."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from ..exceptions import StoreError
from . import get_service

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    service = get_service(current_app)
    try:
        counts = service.store.counts()
    except StoreError as e:
        resp = jsonify({"status": "error", "error": str(e)})
        resp.status_code = 503
        return resp
    return jsonify({"status": "ok", "articles": counts.get("tin-moi-nhat", 0)})
