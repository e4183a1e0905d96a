"""The pages in a real browser: headless Chromium (Debian's) driven by Playwright.

What a newcomer does: opens the directory and its links, opens a feed's preview, and (as a
commune portal would) pastes the widget snippets into a page on another origin. On a phone-
sized and a desktop-sized screen, with no console errors. Screenshots go to tests/artifacts/.

The browser never reaches the network: the article thumbnails (on the paper's image server)
are answered with a placeholder picture, anything else outside with a 404.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask

from feedsvc.settings import Settings
from feedsvc.web import get_service

from .browser import (
    ARTIFACTS,
    CHROMIUM,
    DESKTOP,
    LAUNCH_ARGS,
    PHONE,
    chromium_missing_reason,
    demo_app,
    host_site,
    keep_off_network,
)
from .conftest import LiveServer

pytestmark = pytest.mark.browser

PUBLIC = "https://rss.example.vn"
SIZES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = chromium_missing_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Playwright gives every launch a new empty profile (its own --user-data-dir).
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Flask]]:
    app = demo_app(tmp_path_factory.mktemp("browser"), public_url=PUBLIC)
    with LiveServer(app) as server:
        yield server, app


@dataclass
class Session:
    """One browser context: its page and what went wrong in it."""

    page: Any
    context: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_no_errors(self) -> None:
        assert not self.errors, "\n".join(self.errors)


@contextmanager
def session(
    browser: Any, size: str, allowed: list[str], **context_options: Any
) -> Iterator[Session]:
    context = browser.new_context(viewport=SIZES[size], locale="vi-VN", **context_options)
    outside = keep_off_network(context, allowed)
    page = context.new_page()
    s = Session(page, context, outside=outside)

    def on_console(msg: Any) -> None:
        if msg.type in ("error", "assert"):
            s.errors.append(f"console {msg.type}: {msg.text} ({msg.location.get('url')})")

    def on_response(resp: Any) -> None:
        if resp.status >= 400 and any(resp.url.startswith(a) for a in allowed):
            s.errors.append(f"HTTP {resp.status}: {resp.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: s.errors.append(f"page error: {e}"))
    page.on("response", on_response)
    try:
        yield s
    finally:
        context.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def scroll_through(page: Any) -> None:
    """Bring every lazy iframe and picture into view once, so screenshots show them."""
    height = page.evaluate("document.documentElement.scrollHeight")
    step = page.viewport_size["height"]
    for y in range(0, height + step, step):
        page.evaluate(f"window.scrollTo(0, {y})")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_load_state("networkidle")


def page_html(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return lxml.html.fromstring(resp.read().decode("utf-8"))


# -- the directory ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_browser_directory_renders_and_its_links_work(
    browser: Any, served: tuple[LiveServer, Flask], size: str
) -> None:
    server, app = served
    scopes = get_service(app).catalog.scopes()
    with session(browser, size, [server.url]) as s:
        page = s.page
        page.goto(server.url + "/", wait_until="networkidle")
        expect(page.locator("h1")).to_have_text("Nguồn tin RSS của Báo Hòa Bình")
        expect(page.locator("li.feed")).to_have_count(len(scopes))
        # site.js ran: the copy buttons are shown; every field has a label.
        expect(page.locator("li.feed button[data-copy]").first).to_be_visible()
        unlabelled = page.evaluate(
            """Array.from(document.querySelectorAll('input:not([type=hidden]), select'))
                 .filter(el => el.labels.length === 0).map(el => el.id || el.name)"""
        )
        assert unlabelled == []
        # Every link to this service answers.
        hrefs = page.evaluate("Array.from(document.links, a => a.href)")
        own = sorted({h.split("#", 1)[0] for h in hrefs if h.startswith(server.url)})
        assert len(own) > 3 * len(scopes)
        for href in own:
            assert s.context.request.get(href).status == 200, href
        # Both widget previews show headlines.
        page.locator("#gan-tin").scroll_into_view_if_needed()
        preview = page.frame_locator(".demo-iframe iframe")
        expect(preview.locator("li a")).to_have_count(5)
        expect(page.locator(".demo-script li.feedsvc-item")).to_have_count(5)
        scroll_through(page)
        s.screenshot(f"directory-{size}")
        # Follow a link as a reader would.
        page.get_by_role("link", name="Mai Châu", exact=True).click()
        page.wait_for_url(server.url + "/feeds/mai-chau")
        expect(page.locator("h1")).to_have_text("Mai Châu")
        s.assert_no_errors()


def test_browser_copy_button_copies_the_feed_address(
    browser: Any, served: tuple[LiveServer, Flask]
) -> None:
    server, _ = served
    options = {"permissions": ["clipboard-read", "clipboard-write"]}
    with session(browser, "desktop", [server.url], **options) as s:
        page = s.page
        page.goto(server.url + "/", wait_until="networkidle")
        button = page.get_by_role("button", name="Sao chép địa chỉ RSS: Kim Bôi")
        button.click()
        expect(button).to_have_text("Đã chép ✓")
        assert page.evaluate("navigator.clipboard.readText()") == f"{PUBLIC}/feeds/kim-boi.xml"
        expect(page.locator("#copy-status")).to_have_text("Đã chép vào bộ nhớ tạm.")
        page.get_by_role("button", name="Sao chép mã").first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith(f'<iframe src="{PUBLIC}/embed/tin-moi-nhat"')
        s.assert_no_errors()


def test_browser_directory_works_without_javascript(
    browser: Any, served: tuple[LiveServer, Flask]
) -> None:
    server, _ = served
    with session(browser, "phone", [server.url], java_script_enabled=False) as s:
        page = s.page
        page.goto(server.url + "/", wait_until="networkidle")
        # No copy buttons, but the addresses are there to select.
        expect(page.locator("button[data-copy]").first).to_be_hidden()
        field = page.get_by_label("Địa chỉ RSS của nguồn Mai Châu")
        expect(field).to_have_value(f"{PUBLIC}/feeds/mai-chau.xml")
        # The script widget's fallback is a plain link to the feed.
        fallback = page.locator(".demo-script [data-feedsvc] > a")
        expect(fallback).to_have_attribute("href", "/feeds/tin-moi-nhat")
        # The widget form still builds the snippets.
        page.select_option("#w-feed", "kim-boi")
        page.get_by_role("button", name="Cập nhật đoạn mã").click()
        page.wait_for_load_state("networkidle")
        expect(page.locator("#ma-iframe")).to_contain_text(f"{PUBLIC}/embed/kim-boi")
        s.assert_no_errors()


def test_browser_keyboard_focus_is_visible(browser: Any, served: tuple[LiveServer, Flask]) -> None:
    server, _ = served
    with session(browser, "desktop", [server.url]) as s:
        page = s.page
        page.goto(server.url + "/", wait_until="networkidle")
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """(() => { const el = document.activeElement, r = el.getBoundingClientRect();
                 return {text: el.textContent, top: r.top,
                         outline: getComputedStyle(el).outlineStyle}; })()"""
        )
        assert focused["text"] == "Bỏ qua, đến nội dung chính" and focused["top"] >= 0
        assert focused["outline"] != "none"
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        s.assert_no_errors()


# -- a feed's preview ------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_browser_preview_shows_headlines_and_subscribe_links(
    browser: Any, served: tuple[LiveServer, Flask], size: str
) -> None:
    server, app = served
    service = get_service(app)
    articles = service.store.latest(service.catalog.lookup("mai-chau"), 30)
    with session(browser, size, [server.url]) as s:
        page = s.page
        page.goto(server.url + "/feeds/mai-chau", wait_until="networkidle")
        titles = page.locator("ol.articles h3").all_inner_texts()
        assert titles == [a.title for a in articles]
        feeds = page.locator('head link[rel="alternate"]')
        expect(feeds).to_have_count(3)
        for ext, name in (("xml", "RSS"), ("atom", "Atom"), ("json", "JSON")):
            link = page.locator(".subscribe").get_by_role("link", name=name, exact=True)
            assert s.context.request.get(server.url + link.get_attribute("href")).ok, ext
        scroll_through(page)
        s.screenshot(f"preview-mai-chau-{size}")
        s.assert_no_errors()


# -- the widgets on somebody else's page -----------------------------------------------------

HOST_PAGE = """<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng thông tin điện tử xã Vạn Mai</title>
<style>
  body {{ margin: 0; font-family: Georgia, serif; background: #eef3ee; color: #222; }}
  header {{ background: #1f6f43; color: #fff; padding: 16px 20px; }}
  header h1 {{ margin: 0; font-size: 22px; }}
  main {{ display: grid; gap: 20px; padding: 20px; max-width: 1100px; margin: 0 auto;
          grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }}
  section {{ background: #fff; border-radius: 8px; padding: 14px 16px; }}
  h2 {{ margin: 0 0 10px; font-size: 18px; color: #1f6f43; }}
</style>
</head>
<body>
<header><h1>Cổng thông tin điện tử xã Vạn Mai</h1></header>
<main>
<section><h2>Thông báo của xã</h2><p>Lịch tiếp công dân tháng này: thứ Hai và thứ Năm.</p></section>
<section id="khung"><h2>Tin Báo Hòa Bình (khung nhúng)</h2>
{iframe}
</section>
<section id="script"><h2>Tin Mai Châu (đoạn mã)</h2>
{script}
</section>
</main>
</body>
</html>
"""


def snippets(server: LiveServer, query: str) -> tuple[str, str]:
    """The two snippets exactly as the directory shows them, pointed at the test server."""
    doc = page_html(f"{server.url}/?{query}")
    iframe = doc.get_element_by_id("ma-iframe").text_content()
    script = doc.get_element_by_id("ma-script").text_content()
    return iframe.replace(PUBLIC, server.url), script.replace(PUBLIC, server.url)


@pytest.mark.parametrize("size", SIZES)
def test_browser_host_page_on_another_origin_embeds_both_widgets(
    browser: Any, served: tuple[LiveServer, Flask], size: str
) -> None:
    server, app = served
    service = get_service(app)
    iframe, _ = snippets(server, "feed=tin-moi-nhat&n=5&thumbs=1&theme=dark")
    _, script = snippets(server, "feed=mai-chau&n=5&thumbs=1")
    expected_all = service.store.latest(service.catalog.lookup("tin-moi-nhat"), 5)
    expected_mc = service.store.latest(service.catalog.lookup("mai-chau"), 5)
    pages = {
        "/": HOST_PAGE.format(iframe=iframe, script=script),
        "/no-widget": HOST_PAGE.format(iframe=iframe, script=script.split("<script")[0]),
    }
    with host_site(pages) as host, session(browser, size, [server.url, host]) as s:
        assert host.split(":")[-1] != server.url.split(":")[-1]
        page = s.page
        page.goto(host + "/no-widget", wait_until="networkidle")
        globals_before = set(page.evaluate("Object.getOwnPropertyNames(window)"))

        page.goto(host + "/", wait_until="networkidle")
        page.locator("#khung iframe").scroll_into_view_if_needed()
        framed = page.frame_locator("#khung iframe")
        expect(framed.locator("li a")).to_have_count(len(expected_all))
        assert framed.locator("li a").all_inner_texts() == [a.title for a in expected_all]
        expect(framed.locator("body.dark")).to_have_count(1)

        page.locator("#script").scroll_into_view_if_needed()
        widget = page.locator('#script [data-feedsvc="mai-chau"]')
        expect(widget).to_have_attribute("data-feedsvc-state", "ready")
        links = widget.locator("li a")
        assert links.all_inner_texts() == [a.title for a in expected_mc]
        assert widget.locator("img.feedsvc-thumb").count() == sum(1 for a in expected_mc if a.image)
        assert widget.locator("time").first.inner_text() == (
            expected_mc[0].published.astimezone(_vietnam()).strftime("%d/%m/%Y %H:%M")
        )
        for a in [*framed.locator("li a").all(), *links.all()]:
            assert a.get_attribute("href").startswith(("http://", "https://"))
            assert a.get_attribute("target") == "_blank"
            assert a.get_attribute("rel") == "noopener"

        # The script left nothing behind in the host page's globals.
        globals_after = set(page.evaluate("Object.getOwnPropertyNames(window)"))
        assert globals_after - globals_before == set()

        scroll_through(page)
        s.screenshot(f"host-page-{size}")

        # The links work: each opens the article in a new tab.
        with s.context.expect_page() as opened:
            framed.locator("li a").first.click()
        assert opened.value.url == expected_all[0].url
        opened.value.close()
        with s.context.expect_page() as opened:
            links.first.click()
        assert opened.value.url == expected_mc[0].url
        opened.value.close()
        s.assert_no_errors()
        assert all("baohoabinh.com.vn" in u for u in s.outside), s.outside


def _vietnam() -> Any:
    from feedsvc.render import VIETNAM

    return VIETNAM


@pytest.mark.parametrize("size", SIZES)
def test_browser_widget_iframe_alone(
    browser: Any, served: tuple[LiveServer, Flask], size: str
) -> None:
    server, _ = served
    with session(browser, size, [server.url]) as s:
        for theme in ("light", "dark"):
            s.page.goto(
                f"{server.url}/embed/tin-moi-nhat?n=6&thumbs=1&theme={theme}",
                wait_until="networkidle",
            )
            expect(s.page.locator("li")).to_have_count(6)
            s.screenshot(f"embed-{theme}-{size}")
        s.assert_no_errors()


def test_browser_script_widget_shows_hostile_text_as_text(
    browser: Any, make_settings: Callable[..., Settings]
) -> None:
    from feedsvc import create_app

    from .test_pages import hostile_article

    app = create_app(make_settings())
    now = datetime.now(UTC) - timedelta(hours=1)
    get_service(app).store.save(hostile_article(now), now=now)
    with LiveServer(app) as server:
        snippet = (
            '<div data-feedsvc="chinh-tri" data-thumbs="1">tin</div>'
            f'<script src="{server.url}/embed.js" async></script>'
        )
        page_source = f"<!DOCTYPE html><html lang='vi'><body>{snippet}</body></html>"
        with (
            host_site({"/": page_source}) as host,
            session(browser, "phone", [server.url, host]) as s,
        ):
            dialogs: list[str] = []
            s.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            s.page.goto(host + "/", wait_until="networkidle")
            widget = s.page.locator("[data-feedsvc]")
            expect(widget).to_have_attribute("data-feedsvc-state", "ready")
            item = widget.locator("li").first
            expect(item).to_contain_text('<img src=x onerror="alert(1)"> Tin & "lạ"')
            assert item.locator("a").count() == 0  # a javascript: URL is no link
            assert item.locator("img").count() == 0  # neither the title's nor the image's
            assert dialogs == []
            s.assert_no_errors()
