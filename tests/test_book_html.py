"""The built book (_build/html) is a self-contained static site: nothing is fetched from elsewhere.

Reads the HTML and CSS that `make book` produced (no browser; tests/test_browser.py drives one).
Without a built book these tests skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.I)
# Attributes that make the browser fetch something (a plain <a href> is a link, not a request).
RESOURCE_ATTRS = {"script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
                  "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
                  "embed": ("src",), "object": ("data",), "track": ("src",), "input": ("src",),
                  "image": ("href", "xlink:href"), "use": ("href", "xlink:href")}
# Inline script text that may name a remote URL without loading it, with why it is harmless.
# (sphinx-thebe's "https://unpkg.com/thebe@..." used to be here: book/_ext/offline_thebe.py drops it.)
ALLOWED_INLINE: set[str] = set()

PAGES = {"table1": "notebooks/table1.html", "table2": "notebooks/table2.html",
         "figures": "notebooks/figures.html", "interactive": "notebooks/interactive_forgetting.html",
         "about": "notebooks/about.html", "intro": "book/intro.html", "deviations": "book/deviations.html",
         "ablation": "notebooks/ablation.html"}


def require_book() -> Path:
    if not (HTML / "index.html").is_file():
        msg = f"no built book at {HTML} (run `make book`)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + ": CI must build the book before testing it")
        pytest.skip(msg)
    return HTML


class _Collect(HTMLParser):
    """Remote resources, inline scripts and table cells of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []
        self.inline: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._script: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in RESOURCE_ATTRS.get(tag, ()):
            for url in (a.get(name) or "").split(","):
                if EXTERNAL.match(url):
                    self.remote.append(f"<{tag} {name}={url.strip()}>")
        style = a.get("style") or ""
        self.remote += [f"<{tag} style=url({u})>" for u in CSS_URL.findall(style)]
        if tag == "script" and not a.get("src"):
            self._script = []
        if tag == "table":
            self.tables.append([])
        if tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.inline.append("".join(self._script))
            self._script = None
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def test_no_page_loads_anything_from_another_host():
    html = require_book()
    bad = []
    for page in sorted(html.rglob("*.html")):
        p = parse(page)
        bad += [f"{page.relative_to(html)}: {r}" for r in p.remote]
        for script in p.inline:
            for url in re.findall(r"""https?://[^\s"'`)]+""", script):
                if not any(url.startswith(ok) for ok in ALLOWED_INLINE) and "w3.org/" not in url:
                    bad.append(f"{page.relative_to(html)}: inline script names {url}")
    assert not bad, "remote resources:\n" + "\n".join(bad[:40])


def test_no_stylesheet_imports_fonts_or_css_from_another_host():
    html = require_book()
    bad = [f"{css.relative_to(html)}: {u}" for css in sorted(html.rglob("*.css"))
           for u in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace"))]
    assert not bad, "\n".join(bad)


def test_vendored_javascript_is_served_by_the_book():
    html = require_book()
    for rel in ("_static/mathjax/tex-mml-chtml.js", "_static/widgets/require.js",
                "_static/widgets/embed-amd.js", "_static/widgets/widgets-setup.js",
                "_static/plotly/plotly.min.js"):
        assert (html / rel).is_file() and (html / rel).stat().st_size > 0, rel
    assert list((html / "_static/mathjax/output/chtml/fonts/woff-v2").glob("*.woff")), "MathJax fonts missing"
    intro = (html / PAGES["intro"]).read_text()
    assert "_static/mathjax/tex-mml-chtml.js" in intro and "cdn.jsdelivr" not in intro


def test_every_page_was_built():
    html = require_book()
    missing = [rel for rel in PAGES.values() if not (html / rel).is_file()]
    missing += [f"notebooks/_executed/{n}_pm.html" for n in ("01_train_original", "02_untrain_wfnet", "03_baselines")
                if not (html / f"notebooks/_executed/{n}_pm.html").is_file()]
    assert not missing, missing


@pytest.mark.parametrize("page", ["table1", "table2"])
def test_tables_are_not_empty_and_label_the_paper(page: str):
    html = require_book()
    p = parse(html / PAGES[page])
    text = (html / PAGES[page]).read_text()
    tables = [t for t in p.tables if any("paper" in c for row in t for c in row)]
    assert len(tables) >= 3, f"{page}: expected one table per paper dataset, found {len(tables)}"
    for t in tables:
        body = [row for row in t if any(re.fullmatch(r"\d+(\.\d+)?( \(\d+\))?|not run|–", c) for c in row)]
        assert len(body) >= 4, f"{page}: a table with no rows of values"
    assert "wall time (s)" in text and "device" in text, f"{page}: wall time / device of the runs not shown"
    if os.environ.get("CI") == "true":
        assert "ours · smoke · mnist-5k" in text, f"{page}: the smoke run's column is missing"


def test_figures_page_has_figures_or_says_not_run():
    html = require_book()
    text = (html / PAGES["figures"]).read_text()
    assert "Figure 3" in text and "Figure 4" in text
    for fig in ("Figure 3", "Figure 4"):
        section = text.split(fig, 2)[-1][:20000]
        assert "<img" in section or "not run" in section, fig


def test_interactive_page_embeds_every_state():
    html = require_book()
    text = (html / PAGES["interactive"]).read_text()
    if "not run" in text and "widget-state" not in text:
        if os.environ.get("CI") == "true":
            pytest.fail("the interactive page has no WF checkpoint to show in CI")
        pytest.skip("no WF checkpoint was available when the book was built")
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', text, re.S)
    assert state, "no embedded widget state"
    models = json.loads(state.group(1))["state"]
    assert any(m["model_name"] == "LinkModel" for m in models.values()), "no jslink between selector and panels"
    stacks = {k: m for k, m in models.items() if m["model_name"] == "StackModel"}
    nested = {c.removeprefix("IPY_MODEL_") for m in stacks.values() for c in m["state"]["children"]} & set(stacks)
    outer = [m for k, m in stacks.items() if k not in nested]
    assert len(outer) == 1, "one selector stack (its children: panels, or one stack of panels per class)"
    n_states = len(outer[0]["state"]["children"])  # the original model + one per class
    assert n_states >= 3
    forgets = set(re.findall(r'data-forget=\\?"([\w,]+)\\?"', state.group(1)))
    assert len({f for f in forgets if "," not in f}) >= n_states
    if nested:  # "forget" + "and": every pair of classes is precomputed too
        n = n_states - 1
        assert len(nested) == n_states and len({f for f in forgets if "," in f}) == n * (n - 1) // 2


def test_ablation_page_shows_every_ablation_file():
    html = require_book()
    cells = [c for t in parse(html / PAGES["ablation"]).tables for row in t for c in row]
    files = sorted((ROOT / "results" / "ablation").rglob("*.json"))
    assert files, "results/ablation is committed with the repo"
    for f in files:
        res = json.loads(f.read_text())
        assert res["variant"] in cells, f
        assert f"{res['acc_r']:.2f}" in cells, f
