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


def _shot(driver: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]
    if os.environ.get("TRADEFSM_UPDATE_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / f"{name}.png", DOC_IMAGES / f"console-{name}.png")


def test_from_the_runs_list_to_a_run_and_its_ledger(
    browser: object, console_url: str, runs: Runs
) -> None:
    from selenium.webdriver.common.by import By

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
    drawn = driver.execute_script(  # type: ignore[attr-defined]
        "return arguments[0].complete && arguments[0].naturalWidth", diagram
    )
    assert drawn
    assert drawn > 100
    assert "intact" in driver.find_element(By.ID, "verification").text  # type: ignore[attr-defined]
    _shot(driver, "run")


@pytest.mark.parametrize(
    ("path", "name", "expect"),
    [("/approvals", "approvals", "Waiting for approval"),
     ("/refused", "refused", "max_orders"),
     ("/time-in-state", "time-in-state", "executing"),
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
