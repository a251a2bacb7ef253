#!/usr/bin/env python3
"""Real-browser test of the served dashboard (Debian chromium + chromium-driver, Selenium).

    scripts/browser-test.py http://127.0.0.1:PORT/ [--devices 6] [--timeout 20] [--artifacts DIR] [--token-dir DIR]

Expects a hub with at least --devices simulated devices online (scripts/browser-test.sh starts one), either with
no auth, or with auth and --token-dir naming a folder with viewer.token, operator.token (what `telemetryhub demo`
writes to its data directory) and admin.token (`telemetryhub token create --role admin`).
Loads the page (with the viewer token if there is one), waits for the live connection, the device list and drawn,
growing charts; changes the rate, selects a device, then checks the phone width. Then the alert panel: creates the
rule "browser-test" over the HTTP API (admin token), waits for its firing alerts in the panel, clicks Ack as the
viewer (expects the `forbidden` error shown) and, with the page reopened with the operator token, acks one alert,
deletes the rule and waits for its alerts to leave the active list. Then the command panel: as the viewer, sends
`identify` to the room kind:thermostat (expects the `forbidden` message and Send disabled); with the operator token
(or no token on a hub without auth), sends it again and expects a results table with one `ok` row per member of
the room, the command in GET /api/commands/{id} and in the panel's recent commands. Saves dashboard.png,
dashboard-phone.png, dashboard-alerts.png and dashboard-commands.png in --artifacts (default .build/artifacts).
Prints one PASS/FAIL line per check; exits 1 if any failed.
"""
import argparse
import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

CHROMIUM = "/usr/bin/chromium"
ALERT_RULE = "browser-test"
# Fires at once on every thermostat's temperature (the demo's values are far above -1000).
ALERT_RULE_BODY = {
    "id": ALERT_RULE, "name": "Browser test", "match": "thermo-*/temp", "when": {"op": ">", "value": -1000},
    "severity": "critical", "description": "{{series}} is {{value}} (browser test rule)",
}
ACK_COMMENT = "browser test ack"
# Every thermostat is in kind:thermostat and answers `identify` with ok after 50 ms (Devices/thermostat.json).
COMMAND_ROOM = "kind:thermostat"
COMMAND_NAME = "identify"
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
# The active alerts of the browser-test rule as the panel shows them.
ALERTS_JS = """
return [...document.querySelectorAll('#alerts-list li.alert')].map((item) => ({
  alert: item.dataset.alert,
  rule: item.dataset.rule,
  state: item.dataset.state,
  severity: item.dataset.severity,
  series: item.dataset.series,
  acked: item.dataset.acked === 'true',
  hasAckButton: [...item.querySelectorAll('button.alert-ack')].some((button) => !button.hidden),
  value: (item.querySelector('.alert-value') || {}).textContent || '',
  ackedText: (item.querySelector('.alert-acked') || {}).textContent || '',
  text: item.textContent,
}));
"""
# The newest entry of the command panel's results list.
COMMAND_ENTRY_JS = """
const item = document.querySelector('#commands-results li.command-entry');
if (!item) return null;
return {
  state: item.dataset.state,
  command: item.dataset.command || '',
  room: item.dataset.room,
  name: item.dataset.name,
  summary: (item.querySelector('.command-summary') || {}).textContent || '',
  counts: Object.fromEntries([...item.querySelectorAll('.command-summary [data-status]')]
    .map((chip) => [chip.dataset.status, Number(chip.dataset.count)])),
  rows: [...item.querySelectorAll('table.command-table tbody tr[data-device]')]
    .map((row) => ({device: row.dataset.device, status: row.dataset.status})),
  text: item.textContent,
};
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


def read_tokens(directory):
    """{"viewer": …, "operator": …, "admin": …} from DIR/<role>.token; roles without a file are left out."""
    tokens = {}
    if not directory:
        return tokens
    for role in ("viewer", "operator", "admin"):
        path = os.path.join(directory, f"{role}.token")
        try:
            with open(path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError:
            continue
        if token:
            tokens[role] = token
    return tokens


def page_url(base, token):
    """The dashboard URL, with `?token=` when there is a token (the page moves it into session storage)."""
    return f"{base}?{urllib.parse.urlencode({'token': token})}" if token else base


def api(base, method, path, token=None, body=None):
    """One HTTP API call: (status, parsed JSON or text). Status 0 when the hub could not be reached."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(urllib.parse.urljoin(base, path), data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def short(value, limit=300):
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "…"


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


def rule_alerts(driver, state=None):
    return [a for a in driver.execute_script(ALERTS_JS)
            if a["rule"] == ALERT_RULE and (state is None or a["state"] == state)]


def describe_panel(driver):
    """What the alert panel shows, for failure messages."""
    shown = [f"{a['alert']} {a['rule']} {a['state']}" for a in driver.execute_script(ALERTS_JS)]
    error = text_of(driver, "#alerts-error")
    return (f"panel shows {len(shown)} active alert(s){': ' + ', '.join(shown[:6]) if shown else ''}; "
            f"badge {text_of(driver, '#alert-count')!r}; error {error!r}")


def wait_for_panel(driver, checks, args, who):
    """Waits until the page is live and the hub answered subscribe_alerts; False if alerts are unavailable."""
    if not wait_for(lambda: "live" in text_of(driver, "#conn-state"), args.timeout):
        checks.record(f"page connects ({who})", False, f"#conn-state says {text_of(driver, '#conn-state')!r}")
        return False
    answered = wait_for(lambda: driver.find_element(By.ID, "alerts").get_attribute("data-available") != "unknown",
                        args.timeout)
    available = driver.find_element(By.ID, "alerts").get_attribute("data-available")
    if not answered:
        return checks.record(f"the hub answers subscribe_alerts ({who})", False,
                             f"no answer within {args.timeout:.0f} s; {describe_panel(driver)}")
    if available != "true":
        return checks.record(f"the hub answers subscribe_alerts ({who})", False,
                             "the hub answered unknown_type: this hub build has no alerts yet")
    return checks.record(f"the hub answers subscribe_alerts ({who})", True)


def wait_for_firing(driver, checks, who, timeout=15):
    firing = wait_for(lambda: rule_alerts(driver, "firing"), timeout)
    checks.record(f"panel shows a firing alert of rule {ALERT_RULE} ({who})", firing,
                  f"{len(firing)} firing" if firing else f"none within {timeout} s; {describe_panel(driver)}")
    return firing


def ack_in_page(driver, alert_id, comment):
    """Clicks Ack on the alert `alert_id`, types `comment` in the inline form and sends it."""
    item = driver.find_element(By.CSS_SELECTOR, f'#alerts-list li.alert[data-alert="{alert_id}"]')
    item.find_element(By.CSS_SELECTOR, "button.alert-ack").click()
    field = item.find_element(By.CSS_SELECTOR, "input.alert-ack-comment")
    field.clear()
    field.send_keys(comment)
    item.find_element(By.CSS_SELECTOR, "button.alert-ack-send").click()


def check_alert_panel_present(driver, checks):
    panel = driver.find_elements(By.ID, "alerts")
    live = driver.find_elements(By.CSS_SELECTOR, '#alerts-list[aria-live="polite"]')
    present = bool(panel) and panel[0].is_displayed() and bool(live)
    checks.record("alert panel is present", present,
                  "#alerts shown with an aria-live #alerts-list" if present
                  else "#alerts is missing or hidden, or #alerts-list has no aria-live")
    return bool(panel)


def check_alerts(driver, checks, args, tokens, path):
    """The alert panel end to end: rule created over HTTP → firing in the panel → ack (or forbidden) → deleted."""
    driver.set_window_size(1280, 900)
    first_page = "viewer page" if tokens else "page without token"
    if not check_alert_panel_present(driver, checks) or not wait_for_panel(driver, checks, args, first_page):
        return
    badge = text_of(driver, "#alert-count")
    checks.record("header shows the firing count", bool(re.fullmatch(r"\d+ firing", badge)),
                  f"#alert-count {badge!r}")

    admin = tokens.get("admin")
    if tokens and not admin:
        checks.record(f"create rule {ALERT_RULE}", False, "no admin.token in --token-dir")
        return
    status, body = api(args.url, "POST", "api/rules", admin, ALERT_RULE_BODY)
    if not checks.record(f"create rule {ALERT_RULE} (POST /api/rules)", status == 200, f"HTTP {status}: {short(body)}"):
        return
    deleted = False
    try:
        firing = wait_for_firing(driver, checks, first_page)
        if not firing:
            return
        first = firing[0]
        checks.record("alert shows severity, series and value vs threshold",
                      first["severity"] == "critical" and re.fullmatch(r"thermo-\d+/temp", first["series"] or "")
                      and bool(re.search(r"\d\s*>\s*\S", first["value"])) and first["hasAckButton"],
                      f"severity {first['severity']!r}, series {first['series']!r}, value {first['value']!r}, "
                      f"ack button {'shown' if first['hasAckButton'] else 'missing'}")
        count = wait_for(lambda: (m := re.fullmatch(r"(\d+) firing", text_of(driver, "#alert-count")))
                         and int(m[1]) >= len(firing), 5)
        checks.record("header count includes the new alerts", bool(count),
                      f"#alert-count {text_of(driver, '#alert-count')!r} with {len(firing)} firing shown")

        if tokens.get("viewer"):
            ack_in_page(driver, first["alert"], ACK_COMMENT)
            error = wait_for(lambda: driver.find_element(By.ID, "alerts-error").is_displayed()
                             and "forbidden" in text_of(driver, "#alerts-error"), args.timeout)
            checks.record("ack as viewer shows the forbidden error", error,
                          f"#alerts-error {text_of(driver, '#alerts-error')!r}")
            if tokens.get("operator"):
                driver.get(page_url(args.url, tokens["operator"]))
                if not wait_for_panel(driver, checks, args, "operator page"):
                    return
                firing = wait_for_firing(driver, checks, "operator page")
                if not firing:
                    return
            else:
                checks.record("ack as operator", False, "no operator.token in --token-dir")
                firing = []
        else:
            print("note: no viewer token (hub without auth): the forbidden check is skipped", flush=True)

        if firing:
            target = firing[0]["alert"]
            ack_in_page(driver, target, ACK_COMMENT)

            def acked():
                now = [a for a in rule_alerts(driver) if a["alert"] == target]
                return now and now[0]["acked"] and ACK_COMMENT in now[0]["ackedText"] and not now[0]["hasAckButton"]

            ok = wait_for(acked, args.timeout)
            shown = [a for a in rule_alerts(driver) if a["alert"] == target]
            checks.record("ack from the panel marks the alert acked", ok,
                          f"{target}: {shown[0]['ackedText']!r}" if shown else f"{target} left the panel; "
                          f"{describe_panel(driver)}")
            error = text_of(driver, "#alerts-error")
            checks.record("no error shown after the ack", not error, f"#alerts-error {error!r}")
            status, body = api(args.url, "GET", f"api/alerts/{urllib.parse.quote(target)}",
                               tokens.get("viewer") or admin)
            record = body.get("alert", {}) if isinstance(body, dict) else {}
            checks.record("the hub records the ack (GET /api/alerts/{id})",
                          status == 200 and record.get("acked") is True and record.get("ack_comment") == ACK_COMMENT,
                          f"HTTP {status}: acked={record.get('acked')!r}, ack_comment={record.get('ack_comment')!r}")
        save_screenshot(driver, path)

        status, body = api(args.url, "DELETE", f"api/rules/{ALERT_RULE}", admin)
        deleted = status == 200
        if not checks.record(f"delete rule {ALERT_RULE} (DELETE /api/rules/{ALERT_RULE})", deleted,
                             f"HTTP {status}: {short(body)}"):
            return
        gone = wait_for(lambda: not rule_alerts(driver), 15)
        checks.record("the rule's alerts leave the active list", gone,
                      "gone" if gone else f"still there after 15 s; {describe_panel(driver)}")
        ended = driver.find_elements(
            By.CSS_SELECTOR, f'#alerts-recent li[data-rule="{ALERT_RULE}"][data-state="resolved"], '
                             f'#alerts-recent li[data-rule="{ALERT_RULE}"][data-state="ok"]')
        checks.record("recent events list the ended alerts", bool(ended), f"{len(ended)} resolved/ok lines")
        firing_left = len([a for a in driver.execute_script(ALERTS_JS) if a["state"] == "firing"])
        count = wait_for(lambda: text_of(driver, "#alert-count") == f"{firing_left} firing", 5)
        checks.record("header count drops", count, f"#alert-count {text_of(driver, '#alert-count')!r}, "
                      f"{firing_left} firing left in the panel")
    finally:
        if not deleted:
            status, body = api(args.url, "DELETE", f"api/rules/{ALERT_RULE}", admin)
            if status not in (200, 404):
                print(f"warning: could not delete rule {ALERT_RULE}: HTTP {status}: {short(body)}", flush=True)


def describe_commands(driver):
    """What the command panel shows, for failure messages."""
    panel = driver.find_elements(By.ID, "commands")
    if not panel:
        return "no #commands section"
    rooms = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#command-room option")]
    names = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#command-name option")]
    entry = driver.execute_script(COMMAND_ENTRY_JS)
    return (f"data-available={panel[0].get_attribute('data-available')!r}, rooms {short(rooms, 160)}, "
            f"commands {short([n for n in names if n != '*'], 120)}, error {text_of(driver, '#commands-error')!r}, "
            f"newest entry {short(entry['text'], 200) if entry else None!r}")


def choose_command(driver, checks, args, who):
    """Waits until the page is live and the panel lists COMMAND_ROOM with COMMAND_NAME; chooses both."""
    if not wait_for(lambda: "live" in text_of(driver, "#conn-state"), args.timeout):
        return checks.record(f"page connects ({who})", False, f"#conn-state says {text_of(driver, '#conn-state')!r}")
    room = f'#command-room option[value="{COMMAND_ROOM}"]'
    if not wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, room), args.timeout):
        return checks.record(f"command panel lists room {COMMAND_ROOM} ({who})", False,
                             f"not within {args.timeout:.0f} s; {describe_commands(driver)}")
    Select(driver.find_element(By.ID, "command-room")).select_by_value(COMMAND_ROOM)
    label = driver.find_element(By.CSS_SELECTOR, room).get_attribute("textContent")
    option = f'#command-name option[value="{COMMAND_NAME}"]'
    if wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, option), args.timeout):
        Select(driver.find_element(By.ID, "command-name")).select_by_value(COMMAND_NAME)
        return checks.record(f"room {COMMAND_ROOM} offers command {COMMAND_NAME} ({who})", True, label)
    checks.record(f"room {COMMAND_ROOM} offers command {COMMAND_NAME} ({who})", False,
                  f"not within {args.timeout:.0f} s (do the devices declare their commands?); {describe_commands(driver)}")
    # Goes on with the name typed in (the "other…" choice), so the sending checks still run.
    Select(driver.find_element(By.ID, "command-name")).select_by_value("*")
    field = driver.find_element(By.ID, "command-custom")
    field.clear()
    field.send_keys(COMMAND_NAME)
    return True


def room_members(args, token):
    """Members of COMMAND_ROOM as GET /api/rooms lists them; None when the hub does not say."""
    status, body = api(args.url, "GET", "api/rooms", token)
    rooms = body.get("rooms", []) if status == 200 and isinstance(body, dict) else []
    for room in rooms:
        if isinstance(room, dict) and room.get("room") == COMMAND_ROOM:
            return room.get("members")
    return None


def check_commands(driver, checks, args, tokens, path):
    """The command panel end to end: forbidden for the viewer; identify to every thermostat for the operator."""
    driver.set_window_size(1280, 900)
    if tokens.get("viewer"):
        driver.get(page_url(args.url, tokens["viewer"]))
        if choose_command(driver, checks, args, "viewer page"):
            driver.find_element(By.ID, "command-send").click()
            shown = wait_for(lambda: driver.find_element(By.ID, "commands-error").is_displayed()
                             and "forbidden" in text_of(driver, "#commands-error"), args.timeout)
            checks.record("command as viewer shows the forbidden message", shown,
                          f"#commands-error {text_of(driver, '#commands-error')!r}")
            send = driver.find_element(By.ID, "command-send")
            note = driver.find_element(By.ID, "commands-readonly")
            checks.record("after forbidden, Send is disabled with a note", not send.is_enabled() and note.is_displayed(),
                          f"Send {'disabled' if not send.is_enabled() else 'enabled'}, "
                          f"#commands-readonly {'shown' if note.is_displayed() else 'hidden'}")
            entry = driver.execute_script(COMMAND_ENTRY_JS)
            checks.record("a refused command leaves no results entry", entry is None,
                          f"newest entry {short(entry['text'], 200)!r}" if entry else "none")
    else:
        print("note: no viewer token (hub without auth): the command forbidden check is skipped", flush=True)

    if tokens and not tokens.get("operator"):
        checks.record("command as operator", False, "no operator.token in --token-dir")
        return
    token = tokens.get("operator")
    who = "operator page" if token else "page without token"
    driver.get(page_url(args.url, token))
    if not choose_command(driver, checks, args, who):
        return
    members = room_members(args, token)
    if not checks.record(f"GET /api/rooms lists {COMMAND_ROOM} with members", isinstance(members, int) and members > 0,
                         f"members {members!r}"):
        return
    driver.find_element(By.ID, "command-send").click()
    done = wait_for(lambda: (entry := driver.execute_script(COMMAND_ENTRY_JS)) and entry["state"] == "done"
                    and entry, args.timeout)
    if not checks.record(f"{COMMAND_NAME} to {COMMAND_ROOM}: the hub's answer is shown", bool(done),
                         f"entry for {done['command']}" if done else f"none within {args.timeout:.0f} s; "
                         f"{describe_commands(driver)}"):
        return
    rows = done["rows"]
    statuses = sorted({row["status"] for row in rows})
    checks.record("results table has one row per member, each ok",
                  len(rows) == members and statuses == ["ok"]
                  and len({row["device"] for row in rows}) == members,
                  f"{len(rows)} rows for {members} members; statuses {statuses}; "
                  f"devices {short([row['device'] for row in rows], 160)}")
    checks.record("summary line counts them ok", done["counts"] == {"ok": members},
                  f"summary {done['summary']!r}")
    error = text_of(driver, "#commands-error")
    checks.record("no error shown after the command", not error, f"#commands-error {error!r}")
    command = done["command"]
    if not checks.record("the entry names the hub's command id", bool(re.fullmatch(r"cmd-\d+", command)),
                         f"data-command {command!r}"):
        return
    status, body = api(args.url, "GET", f"api/commands/{urllib.parse.quote(command)}", token)
    results = body.get("results", []) if status == 200 and isinstance(body, dict) else []
    checks.record("the hub records it (GET /api/commands/{id})",
                  status == 200 and body.get("name") == COMMAND_NAME and body.get("room") == COMMAND_ROOM
                  and len(results) == members and all(r.get("status") == "ok" for r in results),
                  f"HTTP {status}: {short(body)}")
    driver.find_element(By.CSS_SELECTOR, "#commands-recent-box > summary").click()
    listed = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f'#commands-recent li[data-command="{command}"]'),
                      args.timeout)
    checks.record("recent commands list it", bool(listed),
                  f"{len(driver.find_elements(By.CSS_SELECTOR, '#commands-recent li'))} lines; "
                  f"error {text_of(driver, '#commands-recent-error')!r}")
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
    parser.add_argument("--token-dir", help="folder with viewer.token, operator.token, admin.token (hub with auth)")
    args = parser.parse_args()
    if not args.url.endswith("/"):
        args.url += "/"
    tokens = read_tokens(args.token_dir)
    if args.token_dir and "viewer" not in tokens:
        print(f"browser test: no viewer.token in {args.token_dir}", file=sys.stderr, flush=True)
        return 1
    os.makedirs(args.artifacts, exist_ok=True)
    desktop = os.path.join(args.artifacts, "dashboard.png")
    phone = os.path.join(args.artifacts, "dashboard-phone.png")
    alerts = os.path.join(args.artifacts, "dashboard-alerts.png")
    commands = os.path.join(args.artifacts, "dashboard-commands.png")

    checks = Checks()
    driver = start_browser(1280, 900)
    try:
        driver.get(page_url(args.url, tokens.get("viewer")))
        if check_connection(driver, checks, args):
            check_page(driver, checks, args)
            save_screenshot(driver, desktop)
            check_rate_change(driver, checks, args)
            check_device_select(driver, checks, args)
            check_phone(driver, checks, phone)
            check_alerts(driver, checks, args, tokens, alerts)
            check_commands(driver, checks, args, tokens, commands)
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
