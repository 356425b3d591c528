"""A real server process and a real browser (STYLE.md, tests/e2e; issue 4 §5).

`opendmp serve --demo` runs on a free loopback port with its own temporary home (SQLite,
files, keys, the demo data loaded at start); Playwright drives Debian's Chromium
(`/usr/bin/chromium`, headless). Without Chromium the browser tests are skipped with the
reason, except when CI=true, where they fail. Every page visited through `Browse.visit` or
`Browse.check` is checked with axe-core (WCAG 2.1 A/AA rules: no serious or critical
violation) and any console error (a CSP violation, a missing file) fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("OPENDMP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = os.environ.get("OPENDMP_SCREENSHOTS", "")  # a folder: the README's pictures


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One `opendmp serve --demo` process and its base URL."""

    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def start_server(
    home: Path, extra_env: dict[str, str] | None = None, *, port: int | None = None
) -> Server:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    executable = Path(sys.executable).parent / "opendmp"
    command = [str(executable), "serve", "--demo", "--home", str(home), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDMP_")}
    env |= {"OPENDMP_LOG_FORMAT": "console"} | (extra_env or {})
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(url, home, process, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"the server did not start: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh demo server per test module: the modules' changes never meet."""
    running = start_server(tmp_path_factory.mktemp("home"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"Chromium is not installed at {CHROMIUM} (make browser installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Browse:
    """One person's browser tab on the server, with the checks every page gets."""

    page: Any
    server: Server
    errors: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    def on_console(self, message: Any) -> None:
        """CSP violations and script errors; a page answered 4xx on purpose is no error."""
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def on_response(self, response: Any) -> None:
        """Every style sheet, script, image or frame the pages load must exist."""
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} {response.url}")

    def visit(self, path: str) -> Any:
        self.page.bring_to_front()
        response = self.page.goto(self.server.url + path, wait_until="domcontentloaded")
        self.check()
        return response

    def check(self, name: str = "") -> None:
        """axe-core on the page as it is now; and a screenshot for the docs when asked."""
        violations = self.page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
            " resultTypes: ['violations'], iframes: false})).violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))",
            AXE_TAGS,
        )
        assert not violations, (
            f"WCAG 2.1 AA violations on {self.page.url}:\n{json.dumps(violations, indent=1)}"
        )
        self.checked.add(self.page.url.split("?")[0])
        if name and SCREENSHOTS:
            folder = Path(SCREENSHOTS)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.png"
            self.page.screenshot(path=str(path))
            if shutil.which("pngquant"):  # docs/screenshots stay small (Debian's pngquant)
                subprocess.run(
                    [
                        "pngquant",
                        "--force",
                        "--skip-if-larger",
                        "--quality",
                        "65-90",
                        "--output",
                        str(path),
                        str(path),
                    ],
                    check=False,
                )

    def click(self, selector: str) -> None:
        """Activate a link or a submit button with the keyboard (focus, Enter), as a person
        without a mouse does, and wait for the page it leads to."""
        self.page.bring_to_front()
        target = self.page.locator(selector).first
        with self.page.expect_navigation(wait_until="domcontentloaded"):
            target.focus()
            self.page.keyboard.press("Enter")
        self.check()

    def sign_in(self, side: str, who: str, mode: str = "normal") -> None:
        """The OIDC sign-in as a person does it: the portal, the demo issuer's page, back."""
        self.visit(f"/{side}/")
        self.page.check(f"#who-{who}")
        if mode != "normal":
            self.page.check(f"#mode-{mode.replace('_', '-')}")
        self.click("button[type=submit]:has-text('Se connecter'), button:has-text('Sign in')")

    def sign_out(self) -> None:
        self.click("button:has-text('Se déconnecter'), button:has-text('Sign out')")

    def text(self, selector: str = "main") -> str:
        return str(self.page.inner_text(selector))


class Tabs:
    """Browser tabs of several people at once (each its own context: its own cookies)."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.browser, self.server = browser, server
        self.opened: list[tuple[Any, Browse]] = []

    def open(self, lang: str = "fr") -> Browse:
        context = self.browser.new_context(
            locale="fr-FR" if lang == "fr" else "en-GB",
            viewport={"width": 1000, "height": 800},
            accept_downloads=True,
        )
        context.add_init_script(path=str(AXE))  # injected by the browser, not the page (CSP)
        page = context.new_page()
        page.set_default_timeout(15_000)
        tab = Browse(page, self.server)
        page.on("console", tab.on_console)
        page.on("response", tab.on_response)
        page.on("pageerror", lambda error: tab.errors.append(str(error)))
        page.on("dialog", lambda dialog: dialog.accept())
        self.opened.append((context, tab))
        return tab

    def close(self) -> list[str]:
        errors = [error for _, tab in self.opened for error in tab.errors]
        for context, _ in self.opened:
            context.close()
        return errors


@pytest.fixture
def tabs(browser: Any, server: Server) -> Iterator[Tabs]:
    opened = Tabs(browser, server)
    yield opened
    errors = opened.close()
    assert not errors, f"console errors (CSP, missing files, scripts): {errors}"


@pytest.fixture
def browse(tabs: Tabs) -> Browse:
    return tabs.open()
