"""The web page in a real headless Chromium against `reelcast serve` running as its own process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reelcast.data.classes import CLASS_NAMES

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "predict_page.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PLOT = (
    "A retired safecracker is pulled back for one last job: emptying the vault of the casino that "
    "ruined her family, with a crew of amateurs and a week to plan it."
)

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(model: Path, port: int) -> list[str]:
    """`reelcast serve ...` through the installed console script (or the module when it is not on PATH)."""
    script = Path(sys.executable).with_name("reelcast")
    exe = (
        [str(script)]
        if script.exists()
        else (
            [shutil.which("reelcast")] if shutil.which("reelcast") else [sys.executable, "-m", "reelcast.cli"]
        )
    )
    return [*exe, "serve", "--model", str(model), "--host", "127.0.0.1", "--port", str(port), "-q"]


@pytest.fixture()
def server(tiny_run, tmp_path):
    """A running `reelcast serve` on a free loopback port; stopped (and waited for) afterwards."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        serve_command(tiny_run, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core CI machine starts torch slowly
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"reelcast serve exited with {proc.returncode}:\n{log.read()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).json().get("model_loaded"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("reelcast serve did not answer /health within 180 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture()
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1200, "height": 900})
            yield pg
        finally:
            browser.close()


def test_predict_from_the_web_page(server, page):
    from playwright.sync_api import expect

    page.goto(server)
    expect(page.locator("#model-info")).to_contain_text("Model inputs: text")
    expect(page.locator("#trailer-note")).to_contain_text("reads only the plot description")

    # Without a plot the page says so and asks nothing of the server.
    page.click("#predict-btn")
    expect(page.locator("#error")).to_contain_text("description")
    expect(page.locator("#result")).to_be_hidden()

    # Record whether the button was ever disabled while the request ran (it is quick on a tiny model).
    page.evaluate("""() => {
        const b = document.getElementById('predict-btn');
        window.__wasDisabled = false;
        new MutationObserver(() => { if (b.disabled) window.__wasDisabled = true; })
            .observe(b, {attributes: true});
    }""")
    page.fill("#title", "The Vault")
    page.fill("#description", PLOT)
    page.fill("#trailer-url", "not a link")
    page.click("#predict-btn")

    predicted = page.locator("#predicted-class")
    expect(page.locator("#result")).to_be_visible()
    expect(predicted).not_to_have_text("—")
    assert predicted.inner_text().strip() in CLASS_NAMES
    bars = page.locator("#prob-chart .bar")
    expect(bars).to_have_count(8)
    rows = page.locator("#prob-chart .chart-row")
    labels = [rows.nth(i).locator(".name").inner_text() for i in range(8)]
    assert labels == CLASS_NAMES
    percentages = [float(rows.nth(i).locator(".pct").inner_text().rstrip("%")) for i in range(8)]
    assert sum(percentages) == pytest.approx(100, abs=0.5)
    expect(page.locator("#prob-chart .chart-row.top .name")).to_have_text(predicted.inner_text().strip())
    expect(page.locator("#contributions")).to_contain_text("text")
    expect(page.locator("#warnings")).to_contain_text("the trailer was not used")
    expect(page.locator("#predict-btn")).to_be_enabled()
    assert page.evaluate("window.__wasDisabled") is True
    assert page.locator("#error").is_hidden()

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    print(f"screenshot: {SCREENSHOT}")

    # An API error (a text file posing as a trailer) is shown as the server's message.
    page.set_input_files(
        "#trailer-file",
        {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"not a video at all\n" * 10},
    )
    expect(page.locator("#trailer-url")).to_be_disabled()
    page.click("#predict-btn")
    expect(page.locator("#error")).to_contain_text("notes.mp4: not a video file PyAV can read")
    expect(page.locator("#predict-btn")).to_be_enabled()
