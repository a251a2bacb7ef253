#!/usr/bin/env python3
"""Real-browser test of the served dashboard (Debian chromium + chromium-driver, Selenium).

    scripts/browser-test.py http://127.0.0.1:PORT/ [--devices 6] [--timeout 20] [--artifacts DIR]

Expects a hub with at least --devices simulated devices online and no auth (scripts/browser-test.sh starts one).
Loads the page, waits for the live connection, the device list and drawn, growing charts; changes the rate,
selects a device, then checks the phone width. Saves dashboard.png and dashboard-phone.png in --artifacts
(default .build/artifacts). Prints one PASS/FAIL line per check; exits 1 if any failed.
"""
import argparse
import base64
import os
import re
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# State of every chart, read in the page: which have a dygraphs canvas, how many points, newest timestamp.
CHARTS_JS = """
return [...document.querySelectorAll('.chart')].map((chart) => ({
  sub: chart.dataset.sub,
  drawn: chart.querySelector('canvas') !== null,
  points: Number(chart.dataset.points || 0),
  lastTs: Number(chart.dataset.lastTs || 0),
}));
"""
OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
return {
  width,
  page: document.documentElement.scrollWidth,
  body: document.body.scrollWidth,
  widest: Math.max(0, ...[...document.querySelectorAll('.panel, .side section, .controls, .topbar')]
    .map((element) => element.getBoundingClientRect().right)),
};
"""


class Checks:
    def __init__(self):
        self.failed = []

    def record(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}: {name}{f' ({detail})' if detail else ''}", flush=True)
        if not ok:
            self.failed.append(name)
        return ok


def wait_for(predicate, timeout, interval=0.25):
    """Polls `predicate` until it returns something truthy or `timeout` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def start_browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def save_screenshot(driver, path):
    """The whole page (not only the viewport), at most 4000 px tall; the viewport if that is not possible."""
    try:
        # Captured beyond the viewport the page is laid out without a scrollbar: the window's full inner width.
        width, height = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollHeight]")
        clip = {"x": 0, "y": 0, "width": width, "height": min(height, 4000), "scale": 1}
        shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                      {"format": "png", "captureBeyondViewport": True, "clip": clip})
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
    except (WebDriverException, KeyError, ValueError):
        driver.save_screenshot(path)
    print(f"screenshot: {path}", flush=True)


def text_of(driver, selector):
    elements = driver.find_elements(By.CSS_SELECTOR, selector)
    return elements[0].text if elements else ""


def online_devices(driver):
    return driver.find_elements(By.CSS_SELECTOR, '#devices tbody tr[data-device][data-state="online"]')


def check_connection(driver, checks, args):
    live = wait_for(lambda: "live" in text_of(driver, "#conn-state"), args.timeout)
    return checks.record("connection is live", live, f"#conn-state says {text_of(driver, '#conn-state')!r}")


def check_page(driver, checks, args):
    rows = wait_for(lambda: len(online_devices(driver)) >= args.devices, args.timeout)
    count = len(online_devices(driver))
    checks.record(f"at least {args.devices} devices listed online", rows, f"{count} online rows")

    drawn = wait_for(lambda: [c for c in driver.execute_script(CHARTS_JS) if c["drawn"] and c["points"] > 0],
                     args.timeout)
    charts = driver.execute_script(CHARTS_JS)
    checks.record("a chart is drawn by dygraphs", drawn,
                  f"{sum(c['drawn'] for c in charts)} of {len(charts)} charts have a canvas")

    before = {c["sub"]: (c["lastTs"], c["points"]) for c in charts}

    def grown():
        return [c["sub"] for c in driver.execute_script(CHARTS_JS)
                if c["drawn"] and (c["lastTs"], c["points"]) > before.get(c["sub"], (0, 0))]

    growing = wait_for(grown, args.timeout)
    checks.record("chart data grows", growing, f"grew: {', '.join(growing) if growing else 'none'}")

    latest = driver.find_elements(By.CSS_SELECTOR, "#latest tbody tr[data-series]")
    checks.record("latest-value table has rows", len(latest) > 0, f"{len(latest)} series")

    missing = driver.find_elements(By.CSS_SELECTOR, "#vendor-missing")
    checks.record("dygraphs loaded (#vendor-missing hidden)", not any(m.is_displayed() for m in missing))

    coalesced = text_of(driver, "#coalesced")
    batches = text_of(driver, "#batches")
    match = re.fullmatch(r"batches: (\d+)", batches)
    shown = bool(re.fullmatch(r"coalesced: \d+", coalesced)) and bool(match) and int(match[1]) > 0
    checks.record("counters shown", shown, f"{batches!r}, {coalesced!r}")


def check_rate_change(driver, checks, args):
    Select(driver.find_element(By.ID, "rate")).select_by_value("250")
    panels = len(driver.find_elements(By.CSS_SELECTOR, ".panel"))
    acked = wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, '.panel[data-rate-ms="250"]')) == panels,
                     args.timeout)
    changed = len(driver.find_elements(By.CSS_SELECTOR, '.panel[data-rate-ms="250"]'))
    checks.record("rate change acknowledged for every panel", acked and panels > 0, f"{changed} of {panels}")


def check_device_select(driver, checks, args):
    rows = online_devices(driver)
    if not rows:
        checks.record("selecting a device charts its series", False, "no device rows")
        return
    device = rows[0].get_attribute("data-device")
    rows[0].find_element(By.CSS_SELECTOR, "button").click()
    selector = driver.find_element(By.ID, "selector").get_attribute("value")
    checks.record("clicking a device fills the selector", selector == f"{device}/*", f"selector {selector!r}")
    custom = wait_for(lambda: [c for c in driver.execute_script(CHARTS_JS)
                               if c["sub"] == "custom" and c["drawn"] and c["points"] > 0], args.timeout)
    checks.record("selecting a device charts its series", custom, f"custom panel for {device}")


def check_phone(driver, checks, path):
    driver.set_window_size(390, 844)
    time.sleep(1.5)
    sizes = driver.execute_script(OVERFLOW_JS)
    width = sizes["width"]
    fits = sizes["page"] <= width and sizes["body"] <= width and sizes["widest"] <= width + 1
    checks.record("no horizontal overflow at phone width", fits,
                  f"viewport {width} px, page {sizes['page']} px, body {sizes['body']} px, "
                  f"widest box ends at {sizes['widest']:.0f} px")
    save_screenshot(driver, path)


def check_console(driver, checks):
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        entries = []
    severe = [entry["message"] for entry in entries if entry.get("level") == "SEVERE"]
    for message in severe[:10]:
        print(f"  browser console: {message}", flush=True)
    if len(severe) > 10:
        print(f"  browser console: … and {len(severe) - 10} more", flush=True)
    checks.record("no errors in the browser console", not severe, f"{len(severe)} errors")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the dashboard, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--devices", type=int, default=6, help="devices expected online (default 6)")
    parser.add_argument("--timeout", type=float, default=20, help="seconds allowed per wait (default 20)")
    parser.add_argument("--artifacts", default=os.path.join(ROOT, ".build", "artifacts"))
    args = parser.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    desktop = os.path.join(args.artifacts, "dashboard.png")
    phone = os.path.join(args.artifacts, "dashboard-phone.png")

    checks = Checks()
    driver = start_browser(1280, 900)
    try:
        driver.get(args.url)
        if check_connection(driver, checks, args):
            check_page(driver, checks, args)
            save_screenshot(driver, desktop)
            check_rate_change(driver, checks, args)
            check_device_select(driver, checks, args)
            check_phone(driver, checks, phone)
        else:
            print("the page never connected: the other checks are skipped", flush=True)
            save_screenshot(driver, desktop)
        check_console(driver, checks)
    except WebDriverException as error:
        checks.record("browser session", False, str(error).strip().splitlines()[0])
        try:
            save_screenshot(driver, desktop)
        except WebDriverException:
            pass
    finally:
        driver.quit()

    if checks.failed:
        print(f"browser test FAILED: {', '.join(checks.failed)}", flush=True)
        return 1
    print("browser test passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
