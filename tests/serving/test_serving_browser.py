"""The web page in a real headless Chromium against `reelcast serve` running as its own process."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers import screenshot_dir, shared_path, tiny_config

from reelcast.data.classes import CLASS_NAMES

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = screenshot_dir()
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
AVATAR_PLOT = (
    "In the 22nd century, a paraplegic Marine is dispatched to the moon Pandora on a unique mission, "
    "but becomes torn between following orders and protecting an alien civilization."
)
# The page's label of each request field of /model's metadata_fields (the date gives the year too).
PAGE_LABELS = {
    "budget_musd": "Budget",
    "release_date": "Release date",
    "year": "Release date",
    "runtime": "Runtime",
    "language": "Original language",
    "genres": "Genres",
    "director": "Director",
    "cast": "Cast",
    "companies": "Studio",
    "countries": "Countries",
    "collection": "Franchise",
    "keywords": "Keywords",
}
# Styles every single-line input of a group shares, and the textarea with them except its height.
SHARED_STYLE = [
    "height",
    "font-size",
    "font-family",
    "border-top-width",
    "border-top-color",
    "border-top-left-radius",
    "padding-left",
    "background-color",
]
PHONE, DESKTOP = 390, 1280

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


@contextlib.contextmanager
def serving(model: Path, tmp_path: Path):
    """A running `reelcast serve` on a free loopback port; stopped (and waited for) afterwards."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        serve_command(model, port),
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
def server(tiny_run, tmp_path):
    """The text-only tiny model (saved without a training run's results) behind `reelcast serve`."""
    with serving(tiny_run, tmp_path) as base:
        yield base


@pytest.fixture(scope="module")
def tmdb_run(tiny_bert, tmp_path_factory) -> Path:
    """A split folder of `reelcast train` on 400 TMDB-5000 films: plot + metadata + people, with results."""
    import pandas as pd

    from reelcast.experiment import run_train

    films = pd.read_csv(shared_path("data", "tmdb_5000", "tmdb_5000_movies.csv"))
    root = tmp_path_factory.mktemp("tmdb_run")
    films[films["revenue"] > 0].sample(400, random_state=0).to_csv(root / "films.csv", index=False)
    cfg = tiny_config(tiny_bert, root / "cache")
    # Directors and cast joined from IMDB-5000, as a studio's own records would give them.
    cfg.data.people = str(shared_path("data", "imdb_5000_movie_metadata", "movie_metadata.csv"))
    cfg.eval.ablation, cfg.eval.permutation_repeats = False, 1
    cfg.ensemble.seeds, cfg.ensemble.threads = 1, 1
    summary = run_train(cfg, root / "films.csv", root / "run", progress=False)
    return next(iter(summary.split_dirs.values()))


@pytest.fixture()
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser):
    return browser.new_page(viewport={"width": DESKTOP, "height": 900})


def styles(page, selector: str) -> list[dict[str, str]]:
    """The SHARED_STYLE values of every visible element matching `selector`, with its id."""
    return page.evaluate(
        """([sel, props]) => [...document.querySelectorAll(sel)]
            .filter((e) => e.offsetParent !== null)
            .map((e) => {
                const cs = getComputedStyle(e);
                return Object.fromEntries([["id", e.id], ...props.map((p) => [p, cs.getPropertyValue(p)])]);
            })""",
        [selector, SHARED_STYLE],
    )


def assert_one_style(rows: list[dict[str, str]], skip: tuple[str, ...] = ()) -> None:
    """Every element of a group has the first one's computed style (names the one that differs)."""
    assert rows, "no visible inputs in the group"
    first = rows[0]
    for row in rows[1:]:
        for prop in SHARED_STYLE:
            if prop not in skip:
                why = f"#{row['id']} {prop} {row[prop]} != #{first['id']} {first[prop]}"
                assert row[prop] == first[prop], why


def overflowing(page) -> list[str]:
    """Elements reaching past the right edge of the window, and the page's horizontal scroll, if any."""
    return page.evaluate(
        """() => {
            const w = document.documentElement.clientWidth;
            const out = [...document.querySelectorAll('body *')]
                .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().right > w + 0.5)
                .filter((e) => !e.closest('.visually-hidden'))
                .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
            const sw = document.documentElement.scrollWidth;
            if (sw > w) out.push(`scrollWidth ${sw} > ${w}`);
            return out;
        }"""
    )


def missing_names(page) -> set[str]:
    """The field names the missing-field notice lists."""
    text = page.locator("#missing-notice").inner_text()
    return {label for label in set(PAGE_LABELS.values()) if label in text or label.lower() in text}


def test_predict_from_the_web_page(server, page):
    from playwright.sync_api import expect

    page.goto(server)
    expect(page.locator("#model-summary")).to_have_text("Reads the plot")
    expect(page.locator("#trailer-note")).to_contain_text("trained without trailers: it reads the plot alone")
    # No metadata box for a model that reads none, and the missing test results said in a sentence.
    expect(page.locator("#facts")).to_be_hidden()
    expect(page.locator("#accuracy")).to_contain_text("No evaluation_results.json beside this model")
    expect(page.locator("#reads")).to_contain_text("Trailer: not read")
    expect(page.locator("#class-table tbody tr")).to_have_count(8)

    # Without a plot the page says so and asks nothing of the server.
    page.click("#predict-btn")
    expect(page.locator("#error")).to_contain_text("Plot")
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
    expect(page.locator("#contributions")).to_contain_text("Plot")
    expect(page.locator("#not-given-box")).to_be_hidden()
    expect(page.locator("#warnings")).to_contain_text("the trailer was not used")
    expect(page.locator("#predict-btn")).to_be_enabled()
    assert page.evaluate("window.__wasDisabled") is True
    assert page.locator("#error").is_hidden()

    # An API error (a text file posing as a trailer) is shown as the server's message.
    page.set_input_files(
        "#trailer-file",
        {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"not a video at all\n" * 10},
    )
    expect(page.locator("#trailer-url")).to_be_disabled()
    page.click("#predict-btn")
    expect(page.locator("#error")).to_contain_text("notes.mp4: not a video file PyAV can read")
    expect(page.locator("#predict-btn")).to_be_enabled()


def test_a_film_with_and_without_metadata_at_desktop_and_phone_width(tmdb_run, browser, tmp_path):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serving(tmdb_run, tmp_path) as base:
        info = httpx.get(f"{base}/model").json()
        reads = {PAGE_LABELS[f] for f in info["metadata_fields"]}
        assert {"Budget", "Release date", "Genres", "Keywords", "Studio", "Director", "Cast"} <= reads
        page = browser.new_page(viewport={"width": DESKTOP, "height": 900})
        page.goto(base)

        # Before any prediction the right half says what the model reads, learned from and scores.
        expect(page.locator("#model-summary")).to_contain_text(f"Reads the plot and {len(reads)} facts")
        expect(page.locator("#trailer-note")).to_contain_text(
            "trained without trailers: it reads the plot and the facts known before release"
        )
        expect(page.locator("#trained-on")).to_contain_text("280 films to learn from")
        years = info["evaluation"]["years"]["train"]
        first, last = years["first"], years["last"]
        expect(page.locator("#trained-on")).to_contain_text(f"released from {first} to {last}")
        expect(page.locator("#class-table tbody tr")).to_have_count(8)
        expect(page.locator("#class-table tbody tr").last).to_contain_text("or more")
        acc = info["evaluation"]["test"]["accuracy"]
        row = page.locator('.metric[data-metric="accuracy"]')
        shown = [float(x) for x in re.findall(r"[\d.]+", row.inner_text())]
        assert shown == pytest.approx([100 * acc[k] for k in ("point", "low", "high")], abs=0.51)
        expect(page.locator("#accuracy-note")).to_contain_text("40 test films")
        expect(page.locator("#result")).to_be_hidden()
        page.click("#model-details summary")
        expect(page.locator("#details-list")).to_contain_text(info["encoder_ids"]["text"])
        page.click("#model-details summary")
        # The encoder id and API words stay under "model details", not in the header or the boxes.
        assert "tabular" not in page.locator("header").inner_text()
        assert info["encoder_ids"]["text"] not in page.locator("header").inner_text()

        # One design: every single-line input of a group has the same computed height and style.
        assert_one_style(styles(page, "#facts input, #facts select"))
        # The file input's button sits at its left edge, so only its padding differs.
        assert_one_style(styles(page, "#trailer-box input"), skip=("padding-left",))
        assert_one_style(styles(page, "#title, #facts input, #facts select, #trailer-url"))
        assert_one_style(styles(page, "#title, #description"), skip=("height",))
        box = page.evaluate(
            "(ids) => ids.map((id) => { const s = getComputedStyle(document.getElementById(id));"
            " return [s.borderTopStyle, s.borderTopWidth, s.borderTopColor, s.borderTopLeftRadius,"
            " s.backgroundColor]; })",
            ["facts", "trailer-box"],
        )
        assert box[0] == box[1], f"the facts box {box[0]} and the trailer box {box[1]} differ"
        assert missing_names(page) == reads
        page.screenshot(path=str(SCREENSHOTS / f"page_empty_{DESKTOP}.png"), full_page=True)

        # Without metadata: the prediction rests on the plot, and says which facts it did not get.
        page.fill("#title", "Avatar")
        page.fill("#description", AVATAR_PLOT)
        page.click("#predict-btn")
        expect(page.locator("#result")).to_be_visible()
        assert page.locator("#predicted-class").inner_text().strip() in CLASS_NAMES
        expect(page.locator('.contrib[data-input="tabular"]')).to_contain_text("not given")
        not_given = page.locator("#not-given").inner_text()
        assert all(label in not_given for label in reads)

        # With metadata: the notice names exactly the empty fields the model reads.
        page.fill("#fact-budget", "237")
        page.fill("#fact-date", "2009-12-10")
        page.fill("#fact-runtime", "162")
        page.select_option("#fact-language", "en")
        page.fill("#fact-genres", "Action, Adventure, Fantasy, Science Fiction")
        page.fill("#fact-companies", "Twentieth Century Fox Film Corporation, Lightstorm Entertainment")
        filled = {"Budget", "Release date", "Runtime", "Original language", "Genres", "Studio"}
        expect(page.locator("#missing-notice")).to_be_visible()
        assert missing_names(page) == reads - filled
        page.click("#predict-btn")
        expect(page.locator('.contrib[data-input="tabular"] .badge')).to_have_count(0)
        expect(page.locator("#not-given")).to_contain_text("Keywords")
        assert "Budget" not in page.locator("#not-given").inner_text()
        expect(page.locator("#result-title")).to_contain_text("Avatar")
        assert_one_style(styles(page, "#facts input, #facts select"))
        page.screenshot(path=str(SCREENSHOTS / f"page_filled_{DESKTOP}.png"), full_page=True)

        # At a phone's width nothing reaches past the window's right edge, empty or filled.
        page.set_viewport_size({"width": PHONE, "height": 844})
        assert overflowing(page) == []
        assert_one_style(styles(page, "#facts input, #facts select"))
        page.screenshot(path=str(SCREENSHOTS / f"page_filled_{PHONE}.png"), full_page=True)
        phone = browser.new_page(viewport={"width": PHONE, "height": 844})
        phone.goto(base)
        expect(phone.locator(".metric")).to_have_count(4)
        assert overflowing(phone) == []
        phone.screenshot(path=str(SCREENSHOTS / f"page_empty_{PHONE}.png"), full_page=True)
