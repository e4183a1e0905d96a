"""Security headers on every response, decided in one place.

Every HTML page gets a Content-Security-Policy that allows only our own scripts, styles and
frames (no inline script: page behaviour lives in /static/*.js). Images may come from any
http(s) host because article thumbnails live on the paper's image server. Pages may be framed
only by ourselves, except the headline widget under /embed/, which exists to be framed by any
site and sets its own policy (``EMBED_PREFIX``). Views that need a different policy set the
header themselves; this hook only fills in what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, request

EMBED_PREFIX = "/embed/"
REFERRER_POLICY = "strict-origin-when-cross-origin"

PAGE_POLICY: Mapping[str, str] = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' https: http: data:",
    "connect-src": "'self'",
    "frame-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}


def csp(overrides: Mapping[str, str] | None = None) -> str:
    """The page policy as a header value, with some directives replaced (or dropped if empty)."""
    policy = dict(PAGE_POLICY)
    policy.update(overrides or {})
    return "; ".join(f"{k} {v}" for k, v in policy.items() if v)


def embed_csp(style_hash: str) -> str:
    """The widget: no script at all, one hashed inline stylesheet, framable by anyone."""
    return csp(
        {
            "script-src": "'none'",
            "style-src": f"'{style_hash}'",
            "connect-src": "'none'",
            "frame-src": "'none'",
            "form-action": "'none'",
            "frame-ancestors": "*",
        }
    )


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if response.mimetype == "text/html":
        framable = request.path.startswith(EMBED_PREFIX)
        if framable:
            headers.setdefault("Content-Security-Policy", csp({"frame-ancestors": "*"}))
        else:
            headers.setdefault("Content-Security-Policy", csp())
            # For browsers that predate frame-ancestors.
            headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
