from __future__ import annotations

from flask import Flask

from feedsvc import create_app
from feedsvc.settings import Settings
from feedsvc.web import get_service


def test_create_app_uses_given_settings(settings: Settings) -> None:
    app = create_app(settings)
    assert isinstance(app, Flask)
    assert get_service(app).settings is settings


def test_create_app_reads_feedsvc_config(monkeypatch, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.path is not None
    monkeypatch.setenv("FEEDSVC_CONFIG", str(settings.path))
    app = create_app()
    assert get_service(app).settings.path == settings.path


def test_empty_store_serves_valid_empty_feeds(app: Flask) -> None:
    client = app.test_client()
    for ext in ("xml", "atom", "json"):
        resp = client.get(f"/feeds/kim-boi.{ext}")
        assert resp.status_code == 200, ext
    assert client.get("/feeds/kim-boi.json").json["items"] == []  # type: ignore[index]


def test_unknown_slug_is_404_and_bad_limit_is_400(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/feeds/ha-noi.xml").status_code == 404
    assert client.get("/feeds/chinh-tri.html").status_code == 404
    resp = client.get("/feeds/chinh-tri.xml?limit=ten")
    assert resp.status_code == 400
    assert b"limit must be an integer" in resp.data
    assert client.get("/feeds/chinh-tri.xml?limit=0").status_code == 200
    assert client.get("/feeds/chinh-tri.xml?limit=100000").status_code == 200


def test_directory_lists_every_feed(app: Flask) -> None:
    html = app.test_client().get("/").get_data(as_text=True)
    for scope in get_service(app).catalog.scopes():
        assert f"/feeds/{scope.slug}.xml" in html
        assert f"/feeds/{scope.slug}.atom" in html
    assert 'lang="vi"' in html
