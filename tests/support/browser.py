"""Headless Chromium (Debian's chromium and chromium-driver) for tests of what a person sees in a report.

One browser per JavaScript mode; pages open by file:// URL as a mail attachment would. The flags keep
Chromium off the network (no component updates, no sync, no background requests) and out of the
user's profile (a fresh --user-data-dir). JavaScript off is the content setting a managed browser
uses (``profile.managed_default_content_settings.javascript: 2``): the page's scripts never run,
while the test still reads the DOM through DevTools.
"""

from __future__ import annotations

import base64
import contextlib
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--window-size=1280,900")
BLOCK_JAVASCRIPT = {"profile.managed_default_content_settings.javascript": 2}


class BrowserMissing(RuntimeError):
    """Chromium or ChromeDriver is not installed: ``.ci/run`` (make setup) installs both."""


@dataclass
class Browser:
    driver: Any  # selenium.webdriver.Chrome
    javascript: bool
    current: str | None = None

    def open(self, path: Path) -> None:
        """Load a page by file:// URL (once: the tests only read it, so a loaded page is reused)."""
        url = path.resolve().as_uri()
        if url != self.current:
            self.driver.get(url)
            self.current = url

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def script(self, body: str, *args: object) -> Any:
        """Run ``body`` through DevTools (it runs with the page's JavaScript off too); one round trip."""
        return self.driver.execute_script(body, *args)

    def text(self, css: str) -> str:
        """The rendered text of the first element matching ``css`` (as a person would copy it)."""
        found = self.texts(css)
        assert found, f"expected an element {css!r} on the page; observed none"
        return found[0]

    def texts(self, css: str) -> list[str]:
        return [str(t) for t in self.script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim());", css)]

    def table(self, css: str) -> list[list[str]]:
        """The rendered rows of a table (header and data cells), as the eye reads them."""
        return [[str(c) for c in row] for row in self.script(
            "return [...document.querySelectorAll(arguments[0] + ' tr')]"
            ".map(r => [...r.querySelectorAll('th, td')].map(c => c.innerText.trim()));", css)]

    def attributes(self, css: str, *names: str) -> list[dict[str, str | None]]:
        """Chosen attributes of every element matching ``css``."""
        return list(self.script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(e => Object.fromEntries(arguments[1].map(n => [n, e.getAttribute(n)])));", css, list(names)))

    @property
    def title(self) -> str:
        return str(self.driver.title)

    def media(self, kind: str) -> None:
        """Lay the page out for ``print`` or ``screen`` (DevTools media emulation)."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": kind})

    def layout(self, css: str, *props: str) -> list[dict[str, object]]:
        """Computed style properties of every element matching ``css``, and whether it hides part of its
        content (scrolls or cuts: its content is taller or wider than its box)."""
        return list(self.script(
            "return [...document.querySelectorAll(arguments[0])].map(e => {"
            "  const s = getComputedStyle(e);"
            "  const box = Object.fromEntries(arguments[1].map(p => [p, s.getPropertyValue(p)]));"
            "  box.clipped = e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1;"
            "  box.shown = e.getClientRects().length > 0; return box; });", css, list(props)))

    def screenshot(self, path: Path, css: str | None = None) -> Path:
        """A PNG of the whole page, or of one element at full height (beyond the window)."""
        params: dict[str, object] = {"format": "png", "captureBeyondViewport": True}
        if css is not None:
            rect = self.driver.execute_script(
                "const r = arguments[0].getBoundingClientRect();"
                "return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];", self.find(css))
            x, y, width, height = (float(v) for v in rect)
            params["clip"] = {"x": max(0.0, x - 8), "y": 0.0, "width": math.ceil(width + 16),
                              "height": math.ceil(y + height + 8), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextlib.contextmanager
def chromium(*, javascript: bool) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile, quit (and its profile removed) afterwards."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise BrowserMissing(f"expected {', '.join(missing)} (Debian's chromium and chromium-driver); "
                             "observed they are not installed; cause: make setup (.ci/run) was not run")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="wcp-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        if not javascript:
            options.add_experimental_option("prefs", BLOCK_JAVASCRIPT)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            yield Browser(driver, javascript)
        finally:
            driver.quit()
