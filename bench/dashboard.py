"""The dashboard with 10,000 requests in the stream: how long its pages take, and how much memory
its projection holds (against the full request states the orchestrator's own view keeps).

The stream gets about 300,000 realistic events (`_stories.realistic_events`: about 10,000
requests, interleaved conversations), appended directly, as `cold_start.py` does. The dashboard
then starts on it (its projection folded from the whole stream) and each page is fetched over
HTTP on loopback, `ROUNDS` times: the requests page (its HTML, then the JSON it loads), a search,
one ended request (folded again from its own events) and `/metrics`. Where Debian's chromium and
its driver are installed, the two pages are also loaded in headless Chromium, timed from the
navigation to the page showing its data (`BROWSER_ROUNDS` each).

Run: `.venv/bin/python bench/dashboard.py` (a few minutes on 2 cores). Prints medians, never asserts.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import _common  # noqa: F401  (first: puts the checkout on sys.path)
import aiohttp
from _stories import realistic_events

from claude_tunnels.config.settings import DashboardSettings
from claude_tunnels.events.codec import EVENTS, encode
from claude_tunnels.events.ids import SystemClock
from claude_tunnels.projections import Projection, RequestsView
from claude_tunnels.projections.dashboard import DashboardView
from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, Layout, connect
from claude_tunnels.tunnels.dashboard.server import Dashboard
from claude_tunnels.tunnels.dashboard.service import StorePoster

EVENTS_COUNT = 300_000
ROUNDS = 21
BROWSER_ROUNDS = 7
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def browser_times(url: str, paths: dict[str, str], profile: Path) -> dict[str, list[float]]:
    """Seconds from `get` to `body[data-loaded]` for each page, in headless Chromium (blocking: run in a thread)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    times: dict[str, list[float]] = {}
    try:
        for _ in range(BROWSER_ROUNDS):
            for name, path in paths.items():
                start = time.perf_counter()
                driver.get(url + path)
                WebDriverWait(driver, 60, poll_frequency=0.005).until(
                    lambda d: d.execute_script("return document.body.dataset.loaded") == "1")
                times.setdefault(name, []).append(time.perf_counter() - start)
    finally:
        driver.quit()
    return times


def held(make: Callable[[], Projection], encoded: list[bytes]) -> tuple[float, Projection]:
    """MiB a fresh projection holds once the events are folded into it (tracemalloc), and the
    projection. Each event is decoded inside the measure and dropped after its fold, as a reader
    of the stream does: what the projection keeps of it is counted, the event itself is not."""
    gc.collect()
    tracemalloc.start()
    view = make()
    for seq, data in enumerate(encoded, start=1):
        view.apply(seq, EVENTS.decode(data))
    gc.collect()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return size / 2**20, view


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.1f} ms ({min(values) * 1000:,.1f}-{max(values) * 1000:,.1f})"


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    async with http.get(url) as response:
        body = await response.read()
        assert response.status == 200, (url, response.status)
    return time.perf_counter() - start, len(body)


async def main() -> None:
    began = time.perf_counter()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    events = realistic_events(EVENTS_COUNT)
    encoded = [encode(event) for event in events]
    board_mib, board = held(DashboardView, encoded)
    full_mib, full = held(lambda: RequestsView(None), encoded)
    del encoded
    assert isinstance(board, DashboardView) and isinstance(full, RequestsView)
    requests = len(board.rows)
    ended = next(row for row in reversed(board.rows.values()) if row.status == "completed")
    print(f"{EVENTS_COUNT:,} events, {requests:,} requests ({len(board.open)} open at the end)")
    print(f"memory: dashboard projection {board_mib:,.1f} MiB ({board_mib * 2**20 / requests:,.0f} B a request); "
          f"the requests view with every request in full {full_mib:,.1f} MiB")
    del full
    timings: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedNatsServer(Path(tmp) / "nats") as server:
            nc = await connect(server.connect_options("bench"))
            store = EventStore(nc, Layout(prefix="bench", stream="BENCH_DASHBOARD"))
            await store.ensure()
            await store.append_many(events)
            clock = SystemClock()
            start = time.perf_counter()
            async with Dashboard(DashboardSettings(bind="127.0.0.1:0"), store, StorePoster(store, clock), clock) as web:
                started = time.perf_counter() - start
                pages = {
                    "requests page (HTML)": "/",
                    "requests page data (200 newest rows)": "/api/requests",
                    "search ('shared', 200 rows)": "/api/requests?q=shared",
                    "filter (status executing)": "/api/requests?status=executing",
                    "one ended request (folded from its events)": f"/api/requests/{ended.request_id}",
                    "/metrics": "/metrics",
                }
                async with aiohttp.ClientSession() as http:
                    for _ in range(ROUNDS):
                        for name, path in pages.items():
                            elapsed, size = await fetch(http, web.url + path)
                            timings.setdefault(name, []).append(elapsed)
                            sizes[name] = size
                if CHROMIUM.exists() and DRIVER.exists():
                    browser = await asyncio.to_thread(browser_times, web.url, {
                        "requests page in Chromium (200 rows drawn)": "/",
                        "one ended request's page in Chromium (graph, tasks, timeline)": f"/requests/{ended.request_id}",
                    }, Path(tmp) / "chromium")
                    timings.update(browser)
            await nc.close()
    print(f"dashboard start (projection folded from the whole stream, site up): {started:.1f} s")
    print(f"pages over loopback HTTP, {ROUNDS} rounds, medians (min-max):")
    for name, values in timings.items():
        print(f"  {name}: {ms(values)}" + (f", {sizes[name]:,} bytes" if name in sizes else ""))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wall time {time.perf_counter() - began:.0f} s")
    print(
        f"SUMMARY dashboard: {requests:,} requests, list {statistics.median(timings['requests page data (200 newest rows)']) * 1000:.0f} ms, "
        f"one request {statistics.median(timings['one ended request (folded from its events)']) * 1000:.0f} ms, "
        f"projection {board_mib:.0f} MiB (full states {full_mib:.0f} MiB)"
    )


if __name__ == "__main__":
    asyncio.run(main())
