"""The console in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver (nothing is downloaded). Each page is saved as a screenshot under
``test-artifacts/console/``; with TRADEFSM_UPDATE_SCREENSHOTS=1 into ``docs/images/`` too,
for docs/console.md."""

from __future__ import annotations

import os
import shutil
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from fsm.clock import FixedClock
from fsm.console.app import Console
from tests.conftest import TRADING_DAY
from tests.console.conftest import LATER, Killed, Runs, console_for
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
DOC_IMAGES = ROOT / "docs" / "images"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@contextmanager
def _served(console: Console) -> Iterator[str]:
    """``console`` served over HTTP on a free port of 127.0.0.1, as `tradefsm console` does."""
    port = free_port()
    config = uvicorn.Config(console.app(), host="127.0.0.1", port=port, log_level="warning")
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
def console_url(runs: Runs) -> Iterator[str]:
    with _served(console_for(runs.url)) as url:
        yield url


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
    _shot(driver, "runs", for_docs=False)
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
    assert _smallest_label_px(diagram.get_attribute("src"), shown) >= 9
    assert page <= driver.execute_script("return window.innerWidth")  # type: ignore[attr-defined]
    assert frame < shown  # the frame scrolls, not the page
    assert "intact" in driver.find_element(By.ID, "verification").text  # type: ignore[attr-defined]
    _shot(driver, "run", for_docs=False)


def _smallest_label_px(url: str, shown_width: float) -> float:
    """The smallest text of the SVG at ``url`` in CSS pixels, drawn ``shown_width`` wide."""
    svg = ET.fromstring(urllib.request.urlopen(url, timeout=30).read())  # our console
    view_width = float(svg.attrib["viewBox"].split()[2])
    sizes = [float(t.attrib["font-size"]) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    return min(sizes) * shown_width / view_width


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
    _shot(browser, name, for_docs=False)


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
        _shot(phone, f"phone-{name}", for_docs=False)


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


DESKTOP = (1366, 900)
SIZES = {"desktop": (DESKTOP, False), "phone": (PHONE, True)}


def _documented(runs: Runs) -> list[tuple[str, str]]:
    """Every page, as docs/console.md shows it."""
    return [("/", "runs"), (f"/runs/{runs.refused.run_id}", "run"),
            ("/approvals", "approvals"), ("/refused", "refused"),
            (f"/time-in-state?since={TRADING_DAY.date()}", "time-in-state"),
            ("/verify?go=1", "verify")]  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
def test_every_page_at_desktop_and_phone_size_fits_and_is_pictured(
    browser: object, console_url: str, runs: Runs, size: str
) -> None:
    """Each page at 1366×900 and as a 390×844 phone, every collapsed part opened (the ledger
    rows' hashes included): no horizontal page overflow; the screenshots of docs/console.md."""
    (width, height), mobile = SIZES[size]
    browser.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    try:
        for path, name in _documented(runs):
            browser.get(console_url + path)  # type: ignore[attr-defined]
            inner, scroll = browser.execute_script(  # type: ignore[attr-defined]
                "document.querySelectorAll('details').forEach(d => d.open = true);"
                "return [window.innerWidth, document.documentElement.scrollWidth]"
            )
            assert inner == width
            assert scroll <= inner, f"{path}: {scroll} px wide on a {inner} px screen"
            browser.execute_script(  # type: ignore[attr-defined]
                "document.querySelectorAll('details').forEach(d => d.open = false)"
            )
            _shot(browser, name if size == "desktop" else f"phone-{name}")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]


def test_a_resumed_run_s_page_fits_a_phone_and_opens_at_a_row(
    browser: object, killed: Killed
) -> None:
    """The handover, the attempt with no end, the hashes opened, the order events: the page
    of a killed and resumed run fits a phone, and ``#seq-N`` opens it at that row."""
    from selenium.webdriver.common.by import By

    console = console_for(killed.url, clock=FixedClock(TRADING_DAY + LATER))
    with _served(console) as url:
        browser.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
        )
        try:
            browser.get(f"{url}/runs/{killed.resumed.run_id}#seq-5")  # type: ignore[attr-defined]
            row = browser.find_element(By.ID, "seq-5")  # type: ignore[attr-defined]
            top = browser.execute_script(  # type: ignore[attr-defined]
                "return arguments[0].getBoundingClientRect().top", row
            )
            assert -1 <= top < PHONE[1]  # scrolled to the row (to a fraction of a pixel)
            assert browser.find_element(By.ID, "handover-2").is_displayed()  # type: ignore[attr-defined]
            inner, scroll = browser.execute_script(  # type: ignore[attr-defined]
                "document.querySelectorAll('details').forEach(d => d.open = true);"
                "return [window.innerWidth, document.documentElement.scrollWidth]"
            )
            assert scroll <= inner
            _shot(browser, "phone-run-resumed", for_docs=False)
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]
