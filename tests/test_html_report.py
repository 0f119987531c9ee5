"""The HTML report in a real headless browser (Debian's chromium driven by selenium): it loads with no
console error and no network request, its filters hide and show items, and it fits a phone's width."""

from __future__ import annotations

import shutil

import pytest
from reporting import Audited, audited
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from readiness.reporters import REPORTERS, RenderOptions

PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Audited, str]:
    a = audited("insecure", tmp_path_factory.mktemp("html"))
    path = a.repo.parent / "report.html"
    path.write_text(REPORTERS["html"].render(a.report, a.gate, RenderOptions()), encoding="utf-8")
    return a, path.as_uri()


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "the Debian packages chromium and chromium-driver are needed (make system-deps)"
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": PHONE_WIDTH, "height": 844, "pixelRatio": 3.0}}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield drv
    finally:
        drv.quit()


def visible_items(browser, status: str | None = None) -> int:
    selector = f'li.item[data-status="{status}"]' if status else "li.item"
    return sum(1 for el in browser.find_elements(By.CSS_SELECTOR, selector) if el.is_displayed())


def test_page_loads_without_console_errors_or_network(page, browser):
    a, url = page
    browser.get(url)
    assert browser.find_element(By.ID, "gate").text.endswith(f"FAILED ({len(a.gate.failures)} items)")
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.item")) == len(a.report.verdicts)
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    # self-contained: the page fetched nothing beyond itself
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_status_and_severity_filters_hide_and_show_items(page, browser):
    a, url = page
    browser.get(url)
    failing = sum(1 for v in a.report.verdicts if v.status.value == "fail")
    assert failing and visible_items(browser, "fail") == failing
    box = browser.find_element(By.CSS_SELECTOR, 'input[name="status"][value="fail"]')
    box.click()
    assert visible_items(browser, "fail") == 0
    assert visible_items(browser) == len(a.report.verdicts) - failing
    shown = browser.find_element(By.ID, "shown").text
    assert shown == f"{len(a.report.verdicts) - failing} items shown"
    box.click()
    assert visible_items(browser, "fail") == failing
    low = sum(1 for v in a.report.verdicts if v.severity.value == "low")
    browser.find_element(By.CSS_SELECTOR, 'input[name="severity"][value="low"]').click()
    assert visible_items(browser) == len(a.report.verdicts) - low
    assert all(
        el.get_attribute("data-severity") != "low"
        for el in browser.find_elements(By.CSS_SELECTOR, "li.item")
        if el.is_displayed()
    )


def test_readable_at_phone_width_with_every_item_open(page, browser):
    _, url = page
    browser.get(url)
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    browser.execute_script("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
    # Measured against the phone's width, not innerWidth: a mobile browser widens its layout viewport
    # (and zooms out) to fit content that overflows.
    width = "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth)"
    assert browser.execute_script(width) == PHONE_WIDTH
    # the measurement sees overflow: a control element wider than the phone is detected
    wide = "var d = document.createElement('div'); d.style.cssText = 'width:900px;height:1em'; document.body.append(d)"
    browser.execute_script(wide)
    assert browser.execute_script(width) > PHONE_WIDTH
    item = browser.find_element(By.CSS_SELECTOR, 'li.item[data-status="fail"] .detail')
    assert item.is_displayed() and "Decided by" in item.text
