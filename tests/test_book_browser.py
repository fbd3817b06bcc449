"""The tiny book as a reader meets it: every page of the table of contents opened in a headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium), served from a
localhost HTTP server with every other host unreachable (slow).

Per page: it loads; every image has decoded (``naturalWidth > 0``) and a chapter shows figures;
every link to a page or anchor of the book resolves; no traceback, error output or error
stream; no code block is wider than its container; a chapter shows its parameters once (the
values papermill injected); the browser logged no failed request to the book; a screenshot is
not blank. Set ``PHDL_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import functools
import html.parser
import io
import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from phdl.runner import repo_root

CHROMIUM = Path(os.environ.get("PHDL_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("PHDL_CHROMEDRIVER", "/usr/bin/chromedriver"))
INSTALL = "apt-get install -y chromium chromium-driver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
    # the book must stand on its own: other hosts (MathJax's CDN, ...) never answer, here or on CI
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
ERROR_TEXT = re.compile(r"Traceback|\b\w*(Error|Exception)\b")

TOC = yaml.safe_load((repo_root() / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [entry["file"] for entry in TOC["chapters"]]
CHAPTERS = [page for page in PAGES if re.match(r"book/\d\d_", page)]


def _missing_browser() -> str | None:
    """One line saying what is missing for the browser test, or None when all is there."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install 'selenium>=4.20')")
    if not missing:
        return None
    return f"headless browser test needs {' and '.join(missing)}: install with `{INSTALL}`"


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """A headless Chromium through /usr/bin/chromedriver (Selenium Manager never downloads)."""
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="session")
def book_url(tiny_book):
    """The tiny book's ``_build/html`` served on localhost; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(tiny_book.html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _Ids(html.parser.HTMLParser):
    """The ``id`` and ``name`` attributes of an HTML file (the anchors a link may point at)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids |= {value for key, value in attrs if key in ("id", "name") and value}


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


def broken_links(hrefs: list[str], base: str, html_dir: Path) -> list[str]:
    """The links to the book (under ``base``) whose file, or anchor in it, does not exist."""
    broken = []
    for href in sorted(set(hrefs)):
        if not href.startswith(base):
            continue  # another host, mailto:, javascript:
        parts = urlsplit(href)
        path = html_dir / unquote(parts.path[len(urlsplit(base).path) :])
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(f"{href} (no file {path.relative_to(html_dir)})")
        elif parts.fragment and path.suffix == ".html":
            if unquote(parts.fragment) not in _anchors(path):
                broken.append(f"{href} (no anchor #{parts.fragment})")
    return broken


def blank_screenshot(png: bytes) -> str | None:
    """Why a screenshot looks blank (one colour, or next to nothing drawn), or None."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height)
    _, background = max(colours)
    drawn = sum(count for count, colour in colours if colour != background)
    if len(colours) == 1:
        return f"the screenshot is one colour {background}"
    if drawn < 0.01 * image.width * image.height:
        return f"the screenshot is {100 * drawn / image.width / image.height:.2f} % drawn"
    return None


def full_page_png(browser, max_height: int = 16000) -> bytes:
    """A screenshot of the whole page, not only the window, as PNG bytes (the window is made as
    tall as the page for it, then put back)."""
    size = browser.get_window_size()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(size["width"], min(height + 200, max_height))
    try:
        return browser.get_screenshot_as_png()
    finally:
        browser.set_window_size(size["width"], size["height"])


_PAGE_STATE = """
const main = document.querySelector('main, article, [role=main]');
const text = (sel) => Array.from(document.querySelectorAll(sel), e => e.innerText);
const code = document.querySelectorAll('div.cell div.highlight pre, div.cell_output pre');
const wide = Array.from(code).filter(e => e.scrollWidth > e.clientWidth + 1).map(e =>
  `${e.scrollWidth}px in ${e.clientWidth}px: ${e.innerText.split('\\n')[0].slice(0, 80)}`);
return {
  title: document.title,
  mainText: main ? main.innerText : '',
  images: Array.from(document.images, i => ({src: i.src, width: i.naturalWidth, done: i.complete})),
  figures: document.querySelectorAll('div.cell_output img').length,
  hrefs: Array.from(document.querySelectorAll('a[href]'), a => a.href),
  errorOutputs: text('.output.traceback, .output.error, .traceback'),
  stderr: text('.output.stderr'),
  wideCode: wide,
  parameters: document.querySelectorAll('.tag_parameters').length,
  injected: document.querySelectorAll('.tag_injected-parameters').length,
};
"""


def _load(browser, url: str) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete'"
            " && Array.from(document.images).every(i => i.complete)"
        )
    )
    return browser.execute_script(_PAGE_STATE)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_sees_it(browser, book_url, tiny_book, page):
    url = f"{book_url}{page}.html"
    assert (tiny_book.html / f"{page}.html").is_file(), f"{page}.html was not built"
    state = _load(browser, url)
    problems = []
    if "Error response" in state["title"] or not state["mainText"].strip():
        problems.append(f"the page did not load: title {state['title']!r}, no main content")
    problems += [f"image not decoded: {i['src']}" for i in state["images"] if i["width"] == 0]
    if page in CHAPTERS and state["figures"] == 0:
        problems.append("a chapter without a single figure")
    problems += [
        f"broken link: {b}" for b in broken_links(state["hrefs"], book_url, tiny_book.html)
    ]
    if "Traceback" in state["mainText"]:
        problems.append("'Traceback' in the page text")
    problems += [f"error output: {t[:200]!r}" for t in state["errorOutputs"]]
    problems += [
        f"error in a stderr stream: {t[:200]!r}" for t in state["stderr"] if ERROR_TEXT.search(t)
    ]
    problems += [f"code block wider than its container: {w}" for w in state["wideCode"]]
    if page in CHAPTERS and (state["parameters"], state["injected"]) != (0, 1):
        problems.append(
            f"parameters shown {state['parameters']} time(s) as written and "
            f"{state['injected']} time(s) as injected; expected only the injected cell"
        )
    failed = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE"
        and book_url in entry["message"]
        and f"{book_url}favicon.ico" not in entry["message"]  # asked for by the browser itself
    ]
    problems += [f"browser error: {message[:200]}" for message in failed]
    keep = os.environ.get("PHDL_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{page.replace('/', '_')}.png").write_bytes(full_page_png(browser))
    blank = blank_screenshot(browser.get_screenshot_as_png())
    if blank:
        problems.append(blank)
    assert not problems, f"{page}: " + "; ".join(problems)


def test_missing_browser_is_one_clear_line(monkeypatch):
    """Without a browser the page tests skip with one line naming what to install."""
    monkeypatch.setattr(f"{__name__}.CHROMIUM", Path("/nonexistent/chromium"))
    reason = _missing_browser()
    assert reason is not None and "\n" not in reason
    assert "/nonexistent/chromium" in reason and INSTALL in reason


def test_link_checker_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text('<h1 id="top">A</h1><a name="old"></a>')
    base = "http://127.0.0.1:1/"
    hrefs = [
        f"{base}book/a.html#top",
        f"{base}book/a.html#old",
        f"{base}book/a.html#nope",
        f"{base}book/b.html",
        "https://example.org/x.html",
    ]
    assert broken_links(hrefs, base, tmp_path) == [
        f"{base}book/a.html#nope (no anchor #nope)",
        f"{base}book/b.html (no file book/b.html)",
    ]


def test_blank_screenshot_detector():
    from PIL import Image, ImageDraw

    def png(image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    white = Image.new("RGB", (200, 100), "white")
    assert "one colour" in blank_screenshot(png(white))
    page = white.copy()
    ImageDraw.Draw(page).rectangle((10, 10, 120, 60), fill="black")
    assert blank_screenshot(png(page)) is None
