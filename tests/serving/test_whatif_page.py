"""The what-if card and the revenue range and reasons of a result, in Chromium against `reelcast serve`."""

from __future__ import annotations

import json

import pytest
import test_serving_browser
from helpers.whatif_model import metadata_run
from test_serving_browser import DESKTOP, PHONE, SCREENSHOTS, overflowing, serving

pytestmark = pytest.mark.browser
# The page tests' headless Chromium, the same fixture.
browser = test_serving_browser.browser

PLOT = "A retired safecracker is pulled back for one last job: the vault of the casino that ruined her."
REVENUE = {
    "median_musd": 182.0,
    "dollars": "nominal",
    "intervals": {"50": [120.0, 260.0], "80": [70.0, 410.0], "95": [35.0, 700.0]},
    "p_at_least": {"threshold_musd": 150.0, "p": 0.58},
}
REASONS = [
    {"input": "budget", "value": "$120 M", "effect_classes": 1.1, "text": "budget $120 M: +1.1 classes"},
    {"input": "release", "value": "July", "effect_classes": -0.4, "text": "release in July: -0.4 classes"},
]


@pytest.fixture(scope="module")
def model(tiny_bert, tmp_path_factory):
    return metadata_run(tiny_bert, tmp_path_factory.getbasetemp())


def fill_film(page) -> None:
    page.fill("#title", "The Vault")
    page.fill("#description", PLOT)
    page.fill("#fact-budget", "60")
    page.fill("#fact-date", "2026-07-03")
    page.fill("#fact-runtime", "118")
    page.fill("#fact-genres", "Action, Thriller")
    page.fill("#fact-director", "Bo Kim")


def slide(page, value: int) -> None:
    """Move the slider as a hand does: the value changes and `input` fires (several times, debounced)."""
    page.evaluate(
        """(v) => { const s = document.getElementById('whatif-slider');
            for (const x of [Number(s.value) + 10, v - 10, v]) {
                s.value = x; s.dispatchEvent(new Event('input', {bubbles: true})); } }""",
        value,
    )


def test_move_the_budget_and_the_chart_follows(model, browser, tmp_path):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serving(model, tmp_path) as base:
        page = browser.new_page(viewport={"width": DESKTOP, "height": 900})
        requests = []
        page.on("request", lambda r: requests.append(r) if r.url.endswith("/whatif") else None)
        page.goto(base)
        expect(page.locator("#whatif")).to_be_hidden()  # nothing to vary before a prediction
        fill_film(page)
        page.click("#predict-btn")
        expect(page.locator("#result")).to_be_visible()
        # The model has a calibrated revenue range and TreeSHAP reasons: both are drawn from the answer.
        expect(page.locator("#revenue-box")).to_be_visible()
        expect(page.locator("#revenue-box")).to_contain_text("median")
        expect(page.locator("#reasons-box")).to_be_visible()

        card = page.locator("#whatif")
        expect(card).to_be_visible()
        options = page.locator("#whatif-field option")
        assert options.all_inner_texts() == ["Budget", "Release month", "Runtime", "Director"]
        readout = page.locator("#whatif-readout")
        expect(readout).to_contain_text("$60 M: ")
        expect(page.locator("#whatif-chart svg.curve")).to_have_attribute("data-points", "30")
        expect(page.locator("#whatif-chart .band")).to_have_count(8)
        marker_before = page.locator("#whatif-chart .marker").get_attribute("x1")
        before = readout.inner_text()
        asked = len(requests)

        slide(page, 250)
        expect(readout).to_contain_text("$250 M: ")
        expect(page.locator("#whatif-chart")).to_have_attribute("data-value", "250")
        assert float(page.locator("#whatif-chart .marker").get_attribute("x1")) > float(marker_before)
        assert readout.inner_text() != before
        page.wait_for_timeout(400)
        assert len(requests) - asked <= 1, "the slider's moves were not debounced into one request"
        body = json.loads(requests[-1].post_data)
        assert body["vary"] == [{"field": "budget_musd", "from": 10, "to": 300, "steps": 30}]
        assert body["metadata"]["director"] == "Bo Kim"
        page.screenshot(path=str(SCREENSHOTS / f"page_whatif_{DESKTOP}.png"), full_page=True)

        # The release month: a year of the film's own release, the season named.
        page.select_option("#whatif-field", "release_date")
        expect(page.locator("#whatif-chart svg.curve")).to_have_attribute("data-points", "12")
        expect(readout).to_contain_text("July (Jul · summer · July 4): ")
        slide(page, 12)
        expect(readout).to_contain_text("December (Dec · winter")

        # Another director's record against this film's.
        page.select_option("#whatif-field", "director")
        expect(page.locator("#whatif-note")).to_contain_text("Type another director")
        page.fill("#whatif-alt", "Di Fox")
        expect(page.locator("#whatif-chart .whatif-bar")).to_have_count(2)
        expect(page.locator("#whatif-chart .whatif-bar .name")).to_have_text(["Bo Kim", "Di Fox"])
        expect(readout).to_contain_text("Di Fox: ")

        page.select_option("#whatif-field", "budget_musd")
        expect(page.locator("#whatif-chart svg.curve")).to_have_attribute("data-points", "30")
        page.set_viewport_size({"width": PHONE, "height": 844})
        assert overflowing(page) == []
        page.locator("#whatif").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"page_whatif_{PHONE}.png"), full_page=True)


def test_the_revenue_range_and_reasons_are_drawn_from_the_response(model, browser, tmp_path):
    from playwright.sync_api import expect

    with serving(model, tmp_path) as base:
        page = browser.new_page(viewport={"width": PHONE, "height": 844})

        def with_decision_fields(route):
            answer = route.fetch()
            body = {**answer.json(), "revenue": REVENUE, "reasons": REASONS}
            route.fulfill(response=answer, body=json.dumps(body))

        page.route("**/predict", with_decision_fields)
        page.goto(base)
        fill_film(page)
        page.click("#predict-btn")
        expect(page.locator("#revenue-box")).to_be_visible()
        expect(page.locator("#revenue-median")).to_have_text("$182 M median")
        rows = page.locator("#revenue-intervals .interval")
        expect(rows).to_have_count(3)
        expect(rows.nth(1)).to_contain_text("80% likely")
        expect(rows.nth(1)).to_contain_text("$70 M – $410 M")
        expect(page.locator("#revenue-threshold")).to_have_text("58% chance of at least $150 M.")
        expect(page.locator("#reasons .reason")).to_have_count(2)
        expect(page.locator("#reasons .reason").first).to_contain_text("budget $120 M: +1.1 classes")
        expect(page.locator('#reasons .reason[data-input="release"] .fill')).to_have_class("fill negative")
        assert overflowing(page) == []
