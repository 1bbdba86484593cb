"""The dashboard in a real headless Chromium (Debian's, through its chromedriver): the requests
page lists a request, its page draws the plan graph, a non-approver's Approve is refused, the
requester's starts it, and the page follows the run live (no reload). Screenshots of each page
are written under the test's temporary folder."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.events.conversation import ConfirmationRequested
from tests.dashboard.board import TOKENS, board

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test extra (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (`make test` installs them as root: apt-get install chromium chromium-driver)",
)


def _browser(profile: Path) -> Any:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # Without the background-networking flags Chromium waits on the network this machine does not have.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=options)


def _wait(driver: Any, condition: Callable[[Any], Any], timeout: float = 60) -> Any:
    """Poll the page (in the browser's thread) until `condition` holds."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _css(driver: Any, selector: str) -> list[Any]:
    return driver.find_elements("css selector", selector)


def _is_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, (path, len(data))
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_pages_graph_approval_rules_and_live_updates(tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with board(tmp_path, "browse", delay_s=2) as b:
        await b.w.ask("shared-lib: browse", lambda e: isinstance(e, ConfirmationRequested))
        [row] = b.dashboard.service.view.rows.values()
        driver = await asyncio.to_thread(_browser, tmp_path / "chromium-profile")
        try:
            await asyncio.to_thread(_as_carol, driver, b.url, row.request_id, shots)
            await asyncio.to_thread(_as_alice, driver, b.url, row.request_id, shots)
        finally:
            await asyncio.to_thread(driver.quit)
    for name in ("requests.png", "request-waiting.png", "request-done.png"):
        width, height = _is_png(shots / name)
        assert width >= 800 and height >= 600


def _as_carol(driver: Any, url: str, request_id: str, shots: Path) -> None:
    """A known web user who may not approve: she sees everything, her Approve is refused."""
    driver.get(f"{url}/login?token={TOKENS['slack:UCAROL']}")
    _wait(driver, lambda d: d.find_element("css selector", "body").get_attribute("data-loaded") == "1")
    rows = _wait(driver, lambda d: _css(d, f'#requests tr[data-id="{request_id}"]'))
    assert rows[0].get_attribute("data-status") == "awaiting_approval" and "shared-lib" in rows[0].text
    driver.save_screenshot(str(shots / "requests.png"))

    rows[0].find_element("css selector", "a").click()
    _wait(driver, lambda d: len(_css(d, "#graph svg g.node")) == 2)
    nodes = {n.get_attribute("data-key"): n.get_attribute("data-status") for n in _css(driver, "#graph svg g.node")}
    assert nodes == {"shared-lib/core": "pending", "shared-lib/docs": "pending"}, nodes
    [edge] = _css(driver, "#graph svg path.edge")
    assert (edge.get_attribute("data-from"), edge.get_attribute("data-to")) == ("shared-lib/core", "shared-lib/docs")
    assert "signed in as slack:UCAROL" in driver.find_element("id", "me").text
    driver.save_screenshot(str(shots / "request-waiting.png"))
    driver.find_element("id", "approve").click()
    outcome = _wait(driver, lambda d: d.find_element("id", "outcome").get_attribute("data-outcome") and d.find_element("id", "outcome"))
    assert outcome.get_attribute("data-outcome") == "confirmation.refused" and "Not accepted" in outcome.text, outcome.text
    assert driver.find_element("css selector", "body").get_attribute("data-status") == "awaiting_approval"


def _as_alice(driver: Any, url: str, request_id: str, shots: Path) -> None:
    """The requester: her Approve starts the run, which the open page follows without a reload."""
    driver.get(f"{url}/login?token={TOKENS['terminal:alice']}")
    driver.get(f"{url}/requests/{request_id}")
    _wait(driver, lambda d: d.find_element("css selector", "body").get_attribute("data-status") == "awaiting_approval")
    driver.execute_script("window.notReloaded = true")  # gone if the page were loaded again
    driver.find_element("id", "approve").click()
    _wait(driver, lambda d: d.find_element("id", "outcome").get_attribute("data-outcome") == "confirmation.given")
    # The first task runs for 2 s (scripted): the graph shows it running, then both done, live.
    _wait(driver, lambda d: _css(d, '#graph g.node[data-key="shared-lib/core"][data-status="running"]'))
    _wait(driver, lambda d: d.find_element("css selector", "body").get_attribute("data-status") == "completed")
    nodes = {n.get_attribute("data-key"): n.get_attribute("data-status") for n in _css(driver, "#graph svg g.node")}
    assert nodes == {"shared-lib/core": "succeeded", "shared-lib/docs": "succeeded"}, nodes
    assert driver.execute_script("return window.notReloaded") is True
    assert "core done" in driver.find_element("id", "tasks").text
    assert "approved by terminal:alice" in driver.find_element("id", "facts").text
    driver.save_screenshot(str(shots / "request-done.png"))
