"""The console in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver (nothing is downloaded). Each page is saved as a screenshot under
``test-artifacts/console/``; with TRADEFSM_UPDATE_SCREENSHOTS=1 into ``docs/images/`` too,
for docs/console.md."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.conftest import TRADING_DAY
from tests.console.conftest import Runs, console_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
DOC_IMAGES = ROOT / "docs" / "images"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def console_url(runs: Runs) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(console_for(runs.url).app(), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium and chromedriver are required in CI (make installs them)")
        pytest.skip("no chromium/chromedriver here: `make test` installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _shot(driver: object, name: str, *, for_docs: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]
    if for_docs and os.environ.get("TRADEFSM_UPDATE_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / f"{name}.png", DOC_IMAGES / f"console-{name}.png")


def test_from_the_runs_list_to_a_run_and_its_ledger(
    browser: object, console_url: str, runs: Runs
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(console_url + "/")  # type: ignore[attr-defined]
    assert "Runs" in driver.title  # type: ignore[attr-defined]
    _shot(driver, "runs")
    link = driver.find_element(By.LINK_TEXT, runs.done.run_id[:12])  # type: ignore[attr-defined]
    link.click()
    ledger = driver.find_element(By.ID, "ledger")  # type: ignore[attr-defined]
    assert ledger.is_displayed()
    assert "prices_sane" in ledger.text
    diagram = driver.find_element(By.ID, "diagram")  # type: ignore[attr-defined]
    drawn = WebDriverWait(driver, 30).until(  # the SVG is drawn by Graphviz on request
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", diagram
        )
    )
    assert drawn
    assert drawn > 100
    shown, frame, page = driver.execute_script(  # type: ignore[attr-defined]
        "return [arguments[0].getBoundingClientRect().width, arguments[1].clientWidth,"
        " document.documentElement.scrollWidth]",
        diagram,
        driver.find_element(By.ID, "drawing"),  # type: ignore[attr-defined]
    )
    assert abs(shown - drawn) < 1  # its own size, not shrunk to the page: labels stay legible
    assert page <= driver.execute_script("return window.innerWidth")  # type: ignore[attr-defined]
    assert frame < shown  # the frame scrolls, not the page
    assert "intact" in driver.find_element(By.ID, "verification").text  # type: ignore[attr-defined]
    _shot(driver, "run")


@pytest.mark.parametrize(
    ("path", "name", "expect"),
    [("/approvals", "approvals", "Waiting for approval"),
     ("/refused", "refused", "max_orders"),
     (f"/time-in-state?since={TRADING_DAY.date()}", "time-in-state", "executing"),
     ("/verify?go=1", "verify", "TAMPERED")],
)  # fmt: skip
def test_each_page_renders(
    browser: object, console_url: str, path: str, name: str, expect: str
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console_url + path)  # type: ignore[attr-defined]
    body = browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert expect in body
    _shot(browser, name)


PHONE = (390, 844)


@pytest.fixture
def phone(browser: object) -> Iterator[object]:
    """The browser as a 390×844 phone: a mobile viewport, which lays pages out 980 px wide
    unless they carry a viewport meta tag."""
    width, height = PHONE
    browser.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
    )
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]


def _pages(runs: Runs) -> list[tuple[str, str]]:
    return [("/", "runs"), (f"/runs/{runs.done.run_id}", "run"),
            (f"/runs/{runs.refused.run_id}", "run-refused"),
            (f"/runs/{runs.cancelled.run_id}", "run-cancelled"), ("/approvals", "approvals"),
            ("/refused", "refused"),
            (f"/time-in-state?since={TRADING_DAY.date()}", "time-in-state"),
            ("/verify?go=1", "verify"), ("/?q=no-such-run", "search-none"),
            ("/?since=garbage", "bad-filter"), ("/nowhere", "not-found"),
            ("/login", "login")]  # fmt: skip


def test_no_page_overflows_a_phone_screen(phone: object, console_url: str, runs: Runs) -> None:
    for path, name in _pages(runs):
        phone.get(console_url + path)  # type: ignore[attr-defined]
        inner, scroll = phone.execute_script(  # type: ignore[attr-defined]
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert inner == PHONE[0], f"{path}: laid out {inner} px wide (no viewport meta?)"
        assert scroll <= inner, f"{path}: {scroll} px wide on a {inner} px screen"
        _shot(phone, f"phone-{name}", for_docs=name in ("runs", "run"))


def test_the_search_box_finds_a_run_by_prefix_and_by_correlation_id(
    browser: object, console_url: str, runs: Runs
) -> None:
    from selenium.webdriver.common.by import By

    for text, run in ((runs.refused.run_id[:9], runs.refused),
                      (runs.waiting.correlation_id, runs.waiting)):  # fmt: skip
        browser.get(console_url + "/time-in-state")  # type: ignore[attr-defined]
        box = browser.find_element(By.CSS_SELECTOR, "form.search input[name=q]")  # type: ignore[attr-defined]
        box.send_keys(text)
        box.submit()
        heading = browser.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]
        assert run.run_id in heading


def test_the_current_page_is_marked_and_the_footer_says_where_from(
    browser: object, console_url: str
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console_url + "/refused")  # type: ignore[attr-defined]
    current = browser.find_elements(By.CSS_SELECTOR, "nav a[aria-current=page]")  # type: ignore[attr-defined]
    assert [a.text for a in current] == ["Refused transitions"]
    footer = browser.find_element(By.ID, "provenance").text  # type: ignore[attr-defined]
    assert "runs.db" in footer
    assert "tradefsm " in footer
    assert "rendered" in footer
