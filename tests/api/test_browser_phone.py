"""The dashboard on a phone and for everyone, in real headless Chromium (issue 14, item 6).

At 390 x 844 (a phone), 320 wide (the narrowest phone) and 1280 (a desktop), on the sign-in page,
the project list (with the administrators' section), the project pages, the drill-down and the
forms (their first step):

- nothing overflows sideways: the document is no wider than the window, and no element's box
  reaches past either edge;
- every text is at least 11 CSS px as rendered, the charts' SVG labels included;
- every visible text (HTML, CSS-generated and SVG) has a contrast ratio of at least 4.8:1 against
  the first opaque background behind it (3.3:1 for large text), and every form control, button and
  chart mark that carries meaning at least 3.3:1 (WCAG 2.1 AA, with a margin);
- the skip link is the first thing focusable, shows when focused and moves focus to `<main>`;
  landmarks, a title per page, table headers with a scope, a visible focus ring;
- the live region says what changed (a figure, an alert raised or resolved), never the time of a
  refresh, and says nothing when nothing changed.

Screenshots go to $KTPLEDGER_TEST_ARTIFACTS (default test-artifacts/ at the repository's root), and
so do measured-PAGE-WIDTH.json, the figures measured. Skipped without Chromium, as test_browser.py is,
except with CI=true.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktpledger.api import dashboard
from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo
from tests.api.conftest import money
from tests.api.test_browser import WAIT, browser, console_errors, served, shown_figures, wait_until
from tests.ledger.factory import claim

__all__ = ["browser", "served"]  # the fixtures, shared with test_browser.py

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("KTPLEDGER_TEST_ARTIFACTS") or ROOT / "test-artifacts")
NORMAL_TEXT = 4.8
LARGE_TEXT = 3.3  # also form controls' boundaries and the charts' marks
SMALLEST_TEXT = 11.0  # CSS px, as rendered
PHONE = (390, 844)
NARROW = (320, 640)
DESKTOP = (1280, 1000)

# Measures a page in the browser: overflow, text sizes, contrast. Returns problems and figures.
MEASURE = r"""
const NORMAL = arguments[0], LARGE = arguments[1], SMALLEST = arguments[2], WIDTH = arguments[3];
function rgba(text) {
  const found = /rgba?\(([^)]+)\)/.exec(text || '');
  if (!found) return null;
  const parts = found[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
}
function over(top, bottom) {  // top composited over an opaque bottom
  const a = top[3];
  return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
}
function luminance(c) {
  const [r, g, b] = c.slice(0, 3).map(v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function ratio(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
function opacity(el) {
  let value = 1;
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) value *= parseFloat(getComputedStyle(e).opacity);
  return value;
}
function backdrop(el) {  // the background behind el: layers up to the first opaque one, over white
  const layers = [];
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) continue;
    const colour = rgba(getComputedStyle(e).backgroundColor);
    if (colour && colour[3] > 0) { layers.push(colour); if (colour[3] >= 1) break; }
  }
  let result = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) result = over(layers[i], result);
  return result;
}
function shown(el) {
  if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
  const box = el.getBoundingClientRect();
  if (box.width < 2 || box.height < 2) return false;  // a visually hidden text (the skip link unfocused)
  return true;
}
function describe(el) {
  const id = el.id ? '#' + el.id : '';
  const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
  return el.tagName.toLowerCase() + id + cls;
}
const problems = [], texts = [];
const width = WIDTH;  // the emulated width: a phone's browser would zoom out to a wider page
if (document.documentElement.scrollWidth > width) problems.push(`document ${document.documentElement.scrollWidth} px wide in a ${width} px window`);
let widest = 0;
for (const el of document.body.querySelectorAll('*')) {
  if (!shown(el)) continue;
  const box = el.getBoundingClientRect();
  widest = Math.max(widest, box.right + window.scrollX);
  if (box.right > width + 0.5 || box.left < -0.5) problems.push(`${describe(el)} from ${box.left.toFixed(0)} to ${box.right.toFixed(0)} px`);
}
function textOf(el) {
  return Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
}
function check(el, text, style, colour, scale) {
  const size = parseFloat(style.fontSize) * scale;
  const bold = parseInt(style.fontWeight, 10) >= 700;
  const large = size >= 24 || (bold && size >= 18.66);
  const background = backdrop(el);
  const fg = over([colour[0], colour[1], colour[2], colour[3] * opacity(el)], background);
  const r = ratio(fg, background);
  const need = large ? LARGE : NORMAL;
  texts.push({text: text.slice(0, 40), element: describe(el), ratio: +r.toFixed(2), size: +size.toFixed(1)});
  if (r < need) problems.push(`contrast ${r.toFixed(2)} < ${need} for "${text.slice(0, 40)}" (${describe(el)})`);
  if (size < SMALLEST - 0.05) problems.push(`${size.toFixed(1)} px text "${text.slice(0, 40)}" (${describe(el)})`);
}
for (const el of document.body.querySelectorAll('*')) {
  if (!shown(el)) continue;
  const style = getComputedStyle(el);
  if (el instanceof SVGTextElement) {
    const text = el.textContent.trim();
    if (text) check(el, text, style, rgba(style.fill), el.getScreenCTM().a);
    continue;
  }
  if (el instanceof SVGElement) continue;
  const text = textOf(el);
  if (text) check(el, text, style, rgba(style.color), 1);
  for (const pseudo of ['::before', '::after']) {
    const generated = getComputedStyle(el, pseudo);
    const content = generated.content;
    if (content && content !== 'none' && content !== 'normal' && /^".+"$/.test(content)) {
      check(el, content.slice(1, -1), generated, rgba(generated.color), 1);
    }
  }
}
// Form controls and buttons: their border, or their own background, against what is behind them.
for (const el of document.body.querySelectorAll('input:not([type=hidden]), button, a.button, select, textarea')) {
  if (!shown(el)) continue;
  // A file input's boundary is its button's; a checkbox or radio is drawn in its accent colour
  // (browsers draw an unstyled one in their own grey, which a page's CSS cannot be measured by).
  const style = el.type === 'file' ? getComputedStyle(el, '::file-selector-button') : getComputedStyle(el);
  const behind = backdrop(el.parentElement);
  const own = rgba(style.backgroundColor);
  const border = rgba(style.borderTopColor);
  const width = parseFloat(style.borderTopWidth);
  const candidates = [];
  if (el.type === 'checkbox' || el.type === 'radio') {
    const accent = rgba(style.accentColor);
    if (accent) candidates.push(ratio(over(accent, behind), behind));
  }
  if (own && own[3] > 0) candidates.push(ratio(over(own, behind), behind));
  if (border && width > 0) candidates.push(ratio(over(border, behind), behind));
  const best = Math.max(0, ...candidates);
  if (best < LARGE) problems.push(`control boundary ${best.toFixed(2)} < ${LARGE} (${describe(el)})`);
}
// The charts' marks that carry meaning (not the grid, not a shaded area: class "decor").
const marks = [];
for (const el of document.querySelectorAll('svg.chart rect, svg.chart line, svg.chart path, svg.chart circle, svg.chart polyline, svg.chart polygon')) {
  if (el.closest('.decor') || !el.closest('svg').checkVisibility()) continue;
  const style = getComputedStyle(el);
  const stroke = rgba(style.stroke), fill = rgba(style.fill);
  const behind = backdrop(el.closest('svg'));
  const candidates = [];
  if (stroke && style.stroke !== 'none' && parseFloat(style.strokeWidth) > 0) candidates.push(ratio(over(stroke, behind), behind));
  if (fill && style.fill !== 'none') candidates.push(ratio(over([fill[0], fill[1], fill[2], fill[3] * parseFloat(style.fillOpacity)], behind), behind));
  const best = Math.max(0, ...candidates);
  marks.push({mark: describe(el), ratio: +best.toFixed(2)});
  if (best < LARGE) problems.push(`chart mark ${describe(el)} ${best.toFixed(2)} < ${LARGE}`);
}
const tables = Array.from(document.querySelectorAll('table')).filter(shown).map(t => ({table: describe(t), width: Math.round(t.getBoundingClientRect().width)}));
const svgLabels = Array.from(document.querySelectorAll('svg.chart text')).filter(shown).map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
return {
  problems, texts, marks, tables,
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, width, widest: Math.round(widest),
  smallestChartLabel: svgLabels.length ? +Math.min(...svgLabels).toFixed(1) : null,
  lowestContrast: texts.length ? Math.min(...texts.map(t => t.ratio)) : null,
};
"""


def record_measurement(name: str, figures: dict[str, Any]) -> None:
    """Keeps the page's figures (without the long lists) in measured-NAME.json, for people to read."""
    kept = {key: value for key, value in figures.items() if key not in ("texts", "marks")}
    kept["lowest_contrast_texts"] = sorted(figures["texts"], key=lambda text: text["ratio"])[:3]
    kept["lowest_contrast_marks"] = sorted(figures["marks"], key=lambda mark: mark["ratio"])[:3]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"measured-{name}.json").write_text(json.dumps(kept, indent=2, sort_keys=True))


def emulate(driver: Any, width: int, height: int) -> None:
    """A phone's (or a desktop's) viewport: the page is laid out `width` CSS px wide."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800},
    )


def screenshot(driver: Any, name: str, width: int, screens: int = 0) -> None:
    """The whole page, `width` wide, as ARTIFACTS/name.png; and its first `screens` screenfuls
    (844 px high) as name-1.png, name-2.png ..., at their real size, to look at closely."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number in range(1, screens + 1):
        emulate(driver, width, PHONE[1])
        driver.execute_script("window.scrollTo(0, arguments[0])", (number - 1) * (PHONE[1] - 44))
        assert driver.save_screenshot(str(ARTIFACTS / f"{name}-{number}.png"))
        if number * (PHONE[1] - 44) >= height:
            break
    emulate(driver, width, min(height, 8000))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def measure(driver: Any, name: str, width: int) -> dict[str, Any]:
    figures: dict[str, Any] = driver.execute_script(MEASURE, NORMAL_TEXT, LARGE_TEXT, SMALLEST_TEXT, width)
    record_measurement(name, figures)
    return figures


def sign_in(driver: Any, base: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/dashboard")
    wait_until(lambda: driver.find_elements(By.ID, "token"), "the sign-in page")
    field = driver.find_element(By.ID, "token")
    field.send_keys(token)
    field.submit()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.projects"), "the project list")


def pages(base: str) -> dict[str, str]:
    return {
        "projects": f"{base}/dashboard",
        "project": f"{base}/dashboard/projects/{demo.MAIN}",
        "second": f"{base}/dashboard/projects/{demo.SECOND}",
        "closed": f"{base}/dashboard/projects/{demo.CLOSED}",
        "drill-down": f"{base}/dashboard/projects/{demo.MAIN}/transactions",
        "form-spend-claim": f"{base}/dashboard/projects/{demo.MAIN}/record/spend-claim",
        "form-reversal": f"{base}/dashboard/projects/{demo.MAIN}/record/reversal",
        "form-budget-revision": f"{base}/dashboard/projects/{demo.MAIN}/record/budget-revision",
        "form-export-upload": f"{base}/dashboard/projects/{demo.MAIN}/record/export-upload",
        "form-new-project": f"{base}/dashboard/record/new-project",
    }


@pytest.mark.parametrize(("width", "height"), [PHONE, NARROW, DESKTOP], ids=["390", "320", "1280"])
def test_every_page_fits_reads_and_contrasts(
    served: tuple[str, App], browser: Any, width: int, height: int
) -> None:
    base, application = served
    emulate(browser, width, height)
    browser.get(f"{base}/dashboard/login")
    wait_until(lambda: browser.execute_script("return document.readyState") == "complete", "the page")
    found = measure(browser, f"login-{width}", width)
    screenshot(browser, f"login-{width}", width)
    problems = {"login": found["problems"]}
    emulate(browser, width, height)
    sign_in(browser, base, create_token(application.database, "admin", None, "administrator"))
    for name, url in pages(base).items():
        emulate(browser, width, height)
        browser.get(url)
        wait_until(lambda: browser.execute_script("return document.readyState") == "complete", url)
        found = measure(browser, f"{name}-{width}", width)
        problems[name] = found["problems"]
        if name in ("projects", "project", "drill-down"):
            screenshot(
                browser, f"{name}-{width}", width, screens=8 if width < 800 and name == "project" else 0
            )
    assert {name: found for name, found in problems.items() if found} == {}
    assert console_errors(browser) == []


def test_the_phone_layout_stacks_the_allowances_and_labels_each_figure(
    served: tuple[str, App], browser: Any
) -> None:
    base, application = served
    emulate(browser, *PHONE)
    sign_in(browser, base, create_token(application.database, "viewer", None))
    browser.get(pages(base)["project"])
    wait_until(lambda: browser.execute_script("return document.readyState") == "complete", "the project page")
    # Each stacked cell says which column it is, in the words of the table's own header.
    labels = browser.execute_script(
        """
        const found = [];
        for (const table of document.querySelectorAll('table.figures')) {
          const heads = Array.from(table.querySelectorAll('thead th')).map(th => th.textContent.trim());
          for (const row of table.querySelectorAll('tbody tr, tfoot tr')) {
            Array.from(row.children).forEach((cell, index) => {
              if (cell.tagName === 'TH' || !cell.textContent.trim() || cell.colSpan > 1) return;
              const content = getComputedStyle(cell, '::before').content;
              found.push([heads[index], content.replace(/^"|"$/g, '')]);
            });
          }
        }
        return found;
        """
    )
    assert labels, "no stacked figures"
    assert all(head.lower() == shown.lower() for head, shown in labels), labels
    widths = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.figures')).map(t => t.getBoundingClientRect().width)"
    )
    assert max(widths) <= PHONE[0]
    # The wide charts are hidden and the narrow ones shown; and the other way round on a desktop.
    assert browser.execute_script(
        "return document.querySelector('svg.chart-bars.chart-narrow').checkVisibility()"
    )
    assert not browser.execute_script(
        "return document.querySelector('svg.chart-bars.chart-wide').checkVisibility()"
    )
    emulate(browser, *DESKTOP)
    assert browser.execute_script(
        "return document.querySelector('svg.chart-bars.chart-wide').checkVisibility()"
    )
    assert not browser.execute_script(
        "return document.querySelector('svg.chart-bars.chart-narrow').checkVisibility()"
    )


def test_the_skip_link_landmarks_titles_and_focus(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    base, application = served
    emulate(browser, *PHONE)
    browser.get(f"{base}/dashboard/login")
    titles = {"login": browser.title}
    first = browser.execute_script(
        "return document.querySelector('a[href], button, input:not([type=hidden]), [tabindex]').textContent"
    )
    assert first.strip() == "Skip to main content"
    # An administrator sees every page, the forms of every role included.
    sign_in(browser, base, create_token(application.database, "admin", None, "administrator"))
    for name, url in pages(base).items():
        browser.get(url)
        wait_until(lambda: browser.execute_script("return document.readyState") == "complete", url)
        titles[name] = browser.title
        landmarks = browser.execute_script(
            """
            return {
              header: document.querySelectorAll('body > header').length,
              nav: document.querySelectorAll('nav').length,
              main: document.querySelectorAll('main').length,
              mainId: document.querySelector('main').id,
              unscoped: Array.from(document.querySelectorAll('th:not([scope])')).map(th => th.textContent.trim()),
            };
            """
        )
        assert landmarks["header"] == 1 and landmarks["nav"] >= 1 and landmarks["main"] == 1, landmarks
        assert landmarks["unscoped"] == [], landmarks
        # Tab once: the skip link has focus, shows, and has a focus ring.
        ActionChains(browser).send_keys(Keys.TAB).perform()
        link = browser.execute_script(
            """
            const el = document.activeElement, box = el.getBoundingClientRect(), style = getComputedStyle(el);
            return {text: el.textContent.trim(), href: el.getAttribute('href'), width: box.width,
                    height: box.height, top: box.top, left: box.left, outline: style.outlineStyle,
                    outlineWidth: parseFloat(style.outlineWidth)};
            """
        )
        assert link["text"] == "Skip to main content", (name, link)
        assert link["href"] == f"#{landmarks['mainId']}"
        assert link["width"] > 40 and link["height"] > 20 and link["top"] >= 0 and link["left"] >= 0, link
        assert link["outline"] != "none" and link["outlineWidth"] >= 2, link
        ActionChains(browser).send_keys(Keys.ENTER).perform()
        wait_until(
            lambda: browser.execute_script("return document.activeElement.tagName") == "MAIN", "focus on main"
        )
        # The next Tab goes into the page's content, with a visible focus ring.
        ActionChains(browser).send_keys(Keys.TAB).perform()
        ring = browser.execute_script(
            "const s = getComputedStyle(document.activeElement); "
            "return [document.activeElement.closest('main') !== null, s.outlineStyle, parseFloat(s.outlineWidth)]"
        )
        assert ring[0] and ring[1] != "none" and ring[2] >= 2, (name, ring)
    assert all(titles.values()) and len(set(titles.values())) == len(titles), titles
    assert demo.MAIN in titles["project"]


def test_the_live_region_announces_changes_only(
    served: tuple[str, App], browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "POLL_MS", 1000)  # the served app is this process's
    base, application = served
    finance = create_token(application.database, "finance", None)
    sign_in(browser, base, create_token(application.database, "viewer", None))
    browser.get(pages(base)["project"])
    wait_until(lambda: browser.execute_script("return document.readyState") == "complete", "the project page")
    regions = browser.execute_script(
        "return Array.from(document.querySelectorAll('[aria-live], [role=status], [role=log]'))"
        ".map(el => [el.id, el.getAttribute('aria-live')])"
    )
    assert regions == [["announce", "polite"]], regions
    browser.execute_script(
        """
        window.__polls = 0;
        const fetched = window.fetch;
        window.fetch = function () { window.__polls += 1; return fetched.apply(this, arguments); };
        window.__said = [];
        new MutationObserver(() => window.__said.push(document.getElementById('announce').textContent))
          .observe(document.getElementById('announce'), {childList: true, characterData: true, subtree: true});
        """
    )

    def polls_from_now(count: int) -> None:
        start = int(browser.execute_script("return window.__polls"))
        wait_until(lambda: browser.execute_script("return window.__polls") >= start + count, f"{count} polls")

    def said() -> list[str]:
        return [text for text in browser.execute_script("return window.__said") if text.strip()]

    polls_from_now(3)
    assert said() == [] and browser.find_element("id", "announce").text == ""

    # A claim: the consumables' figures and the totals change; said once, without a time.
    before = money(shown_figures(browser)[("consumables", "spent")])
    response = httpx.post(
        f"{base}/events",
        json=claim("late-sensor", "125.40", project=demo.MAIN, date="2025-06-29"),
        headers={"Authorization": f"Bearer {finance}"},
        timeout=WAIT,
    )
    assert response.status_code == 200, response.text
    wait_until(said, "an announcement of the claim")
    message = said()[-1]
    assert "consumables spent now" in message.lower(), message  # the line's name and column
    assert "£" in message and str(before + Decimal("125.40")) in message.replace(",", ""), message
    assert not re.search(r"\d{1,2}:\d{2}", message), message
    polls_from_now(3)
    assert len(said()) == 1, said()

    # A claim far over the consumables' budget raises an alert: said as such.
    alerts_before = int(shown_figures(browser)[("", "open_alerts")])
    response = httpx.post(
        f"{base}/events",
        json=claim("big-kit", "90000.00", project=demo.MAIN, date="2025-06-30"),
        headers={"Authorization": f"Bearer {finance}"},
        timeout=WAIT,
    )
    assert response.status_code == 200, response.text
    wait_until(lambda: len(said()) >= 2, "an announcement of the alert")
    message = said()[-1]
    assert int(shown_figures(browser)[("", "open_alerts")]) > alerts_before
    assert "alert raised" in message.lower(), message
    polls_from_now(3)
    assert len(said()) == 2, said()
    visible = browser.find_element("id", "live").text
    assert "Live" in visible
    assert console_errors(browser) == []
