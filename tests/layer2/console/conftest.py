"""A real browser (Debian's chromium, driven by Playwright: nothing downloads a browser) against a real
gunicorn over the seeded test plant, with the console's files collected and compressed as in production."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from command_center.local_browser import CHROMIUM_ARGS, INSTALL_HINT, chromium_path, collect_static
from command_center.local_server import LocalServer, start_local_server

PASSWORD = "console-test-password"


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """The console's files collected once for the session."""
    root = tmp_path_factory.mktemp("static")
    collect_static(root)
    return root


@pytest.fixture(scope="module")
def console_server(plant_conninfo, static_root, tmp_path_factory):
    """A 2-worker gunicorn serving the console, with users `ana` (operator) and `sam` (staff)."""
    server = start_local_server(
        timeseries_url=plant_conninfo, state_dir=tmp_path_factory.mktemp("console-state"), workers=2,
        STATIC_ROOT=str(static_root),
    )  # fmt: skip
    server.create_user("ana", "--role", "operator", password=PASSWORD)
    server.create_user("sam", "--staff", password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if (path := chromium_path()) is None:
        pytest.fail(INSTALL_HINT)  # not a skip: CI must run these (./run.sh test installs chromium)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """What a page did that a test checks at the end: errors it logged, requests that left the machine."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    responses: list = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside


@pytest.fixture
def open_console(browser, console_server: LocalServer):
    """``open(user, viewport=(w, h), init_script=None)``: a fresh browser context signed in as ``user`` on the
    console page; returns (page, watched)."""
    contexts = []
    here = urlsplit(console_server.base_url).netloc

    def open_page(user: str, viewport=(1366, 768), init_script: str | None = None, sign_in: bool = True):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        watched = Watched()

        def guard(route):
            if urlsplit(route.request.url).netloc == here or route.request.url.startswith("data:"):
                route.continue_()
            else:
                watched.outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: watched.responses.append(r))
        page.goto(console_server.base_url + "/")
        if sign_in:
            sign_in_as(page, user)
        return page, watched

    yield open_page
    for context in contexts:
        context.close()


def sign_in_as(page, user: str) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready]")  # the console's script has run


def ask(page, question: str) -> object:
    """Types ``question``, sends it with Enter, and returns the answer card once its widgets are drawn."""
    before = page.locator(".answer[data-render-ms]").count()
    page.get_by_role("textbox", name="Question").fill(question)
    page.get_by_role("textbox", name="Question").press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.answer[data-render-ms]').length > {before}")
    return page.locator(".answer[data-render-ms]").nth(before)
