"""The console in Debian's headless Chromium (Selenium with the system chromedriver; nothing is
downloaded): sign in, filter, search, open the card call, see the redaction in the transcript
and on the waveform, seek the player from a turn, break-glass without and with a reason, and
find every step on the access log.

Set RECORDER_SCREENSHOT_DIR to keep the screenshots of the list and the call page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import access_log
from tests.integration.console_site import PASSWORDS, Site

pytestmark = pytest.mark.timeout(300)  # the first test of a site also records and transcribes calls

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 20


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(apt-get install -y chromium chromium-driver; .ci/run does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--mute-audio", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager is never asked to download anything.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition)


def _screenshot(driver: Any, name: str, tmp_path: Path) -> None:
    target = Path(os.environ.get("RECORDER_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(target / name))


def _filter(driver: Any, **fields: str) -> list[str]:
    """Fill the filter form, submit it, and return the call ids listed."""
    from selenium.webdriver.common.by import By

    for name in ("q", "agent", "tenant"):
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(fields.get(name, ""))
    _navigate(driver, driver.find_element(By.ID, "apply").click)
    return [row.get_attribute("data-id") for row in driver.find_elements(By.CSS_SELECTOR, "tr.call-row")]


def _navigate(driver: Any, action: Any) -> None:
    """Run ``action`` (a click that loads a page) and wait until the new page has loaded."""
    driver.execute_script("window.previousPage = true")
    action()
    _wait(driver, lambda d: d.execute_script(
        "return window.previousPage === undefined && document.readyState === 'complete'"))


def test_an_auditors_walk_through_the_console(site: Site, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    d.delete_all_cookies()
    start = len(access_log(site))

    # sign in through the form
    d.get(site.url + "/calls")
    assert d.current_url.endswith("/login")
    d.find_element(By.NAME, "username").send_keys("sam")
    d.find_element(By.NAME, "password").send_keys(PASSWORDS["sam"])
    _navigate(d, d.find_element(By.CSS_SELECTOR, "section.login button").click)
    assert d.current_url.endswith("/calls")
    listed = [r.get_attribute("data-id") for r in d.find_elements(By.CSS_SELECTOR, "tr.call-row")]
    assert set(listed) == {site.card_call, site.plain_call}
    _screenshot(d, "console-calls.png", tmp_path)

    # filter by tenant, then search the transcripts for "card"
    assert _filter(d, tenant="acme") == [site.card_call]
    assert _filter(d, tenant="globex") == [site.plain_call]
    found = _filter(d, q="card")
    assert site.card_call in found and "q=card" in d.current_url
    assert _filter(d, q="it is") == [site.card_call]  # only the card call's caller says both

    # open the call: the redacted transcript, and the span drawn on the waveform
    _navigate(d, d.find_element(By.CSS_SELECTOR, f'tr.call-row[data-id="{site.card_call}"] a.open').click)
    assert d.current_url.endswith(f"/calls/{site.card_call}")
    turns = d.find_elements(By.CSS_SELECTOR, "li.turn")
    card_turn = next(t for t in turns if "[CREDIT_CARD]" in t.text and "caller" in t.get_attribute("class"))
    assert "it is [CREDIT_CARD]" in card_turn.text
    _wait(d, lambda d: d.find_element(By.ID, "waveform").get_attribute("data-ready") == "1")
    drawn = d.find_elements(By.CSS_SELECTOR, '#waveform rect.redaction[data-type="CREDIT_CARD"]')
    spans = d.find_elements(By.CSS_SELECTOR, "li.span")
    assert len(drawn) == len(spans) == 2
    assert {float(r.get_attribute("data-start-ms")) for r in drawn} == \
        {float(s.get_attribute("data-start-ms")) for s in spans}
    assert all(r.is_displayed() and r.size["width"] > 0 for r in drawn)
    assert d.find_element(By.ID, "verify-result").text.startswith("verified")

    # clicking the turn seeks the player there
    target = float(card_turn.get_attribute("data-start-ms")) / 1000
    assert target > 1
    assert d.execute_script("return document.getElementById('player').currentTime") < target - 0.5
    card_turn.click()
    _wait(d, lambda d: d.execute_script("return document.getElementById('player').currentTime") >= target - 0.05)
    _screenshot(d, "console-call.png", tmp_path)

    # break-glass: refused without a reason, granted with one, and the original streams
    _navigate(d, d.find_element(By.CSS_SELECTOR, "#breakglass button").click)
    assert "needs a reason" in d.find_element(By.TAG_NAME, "body").text
    _navigate(d, d.back)
    reason = d.find_element(By.CSS_SELECTOR, "#breakglass input[name=reason]")
    reason.clear()
    reason.send_keys("chargeback dispute 1182")
    _navigate(d, d.find_element(By.CSS_SELECTOR, "#breakglass button").click)
    assert "/original/" in d.current_url
    assert d.find_element(By.ID, "reason").text == "chargeback dispute 1182"
    fetched = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('original').src).then(r => r.arrayBuffer().then("
        "b => done([r.status, r.headers.get('content-type'), b.byteLength])));")
    assert fetched[0] == 200 and fetched[1] == "audio/wav" and fetched[2] > 44

    # the usage page draws one bar per day the API reports
    d.get(site.url + "/usage")
    _wait(d, lambda d: d.find_element(By.ID, "chart").get_attribute("data-ready") == "1")
    bars = d.find_elements(By.CSS_SELECTOR, "#chart rect.tokens")
    days = {b.get_attribute("data-day") for b in bars}
    assert len(bars) == len(days) >= 1 and all(b.size["height"] > 0 for b in bars)
    tables = d.find_elements(By.CSS_SELECTOR, "section.grid table")
    assert "billing-bot" in tables[0].text and "acme" in tables[1].text

    # the other call: its barge-in cuts drawn on the agent lane, its tool call listed
    d.get(f"{site.url}/calls/{site.plain_call}")
    _wait(d, lambda d: d.find_element(By.ID, "waveform").get_attribute("data-ready") == "1")
    cut_at = [td for td in d.find_elements(By.CSS_SELECTOR, "td.cut-at") if td.text != "–"]
    cuts = d.find_elements(By.CSS_SELECTOR, "#waveform line.cut")
    assert len(cuts) == len(cut_at) >= 1
    assert "lookup_order" in d.find_element(By.TAG_NAME, "body").text

    # every step is on the access log, by the signed-in user, and the chain holds
    steps = [(e["action"], e["session_id"], e["reason"], (e["detail"] or {}).get("filters"))  # type: ignore[union-attr]
             for e in access_log(site)[start:] if e["actor"] == "sam"]
    expected = [
        ("console_login", None, None, None),
        ("console_calls", None, None, {}),
        ("console_calls", None, None, {"tenant": "acme"}),
        ("console_calls", None, None, {"tenant": "globex"}),
        ("console_calls", None, None, {"q": "card"}),
        ("console_calls", None, None, {"q": "it is"}),
        ("console_call", site.card_call, None, None),
        ("console_original_refused", site.card_call, None, None),
        ("console_original", site.card_call, "chargeback dispute 1182", None),
        ("export_original", site.card_call, "chargeback dispute 1182", None),
        ("console_usage", None, None, None),
    ]
    assert [s for s in steps if s[0] not in ("console_waveform", "console_audio", "console_call")] == \
        [s for s in expected if s[0] != "console_call"]
    assert ("console_call", site.card_call, None, None) in steps
    assert ("console_call", site.plain_call, None, None) in steps
    assert ("console_waveform", site.card_call, None, None) in steps
    assert ("console_audio", site.card_call, None, None) in steps
