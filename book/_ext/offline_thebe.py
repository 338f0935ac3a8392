"""Keep sphinx-thebe, which jupyter-book 1 always enables, from naming a CDN on every page.

The book has no launch buttons, so thebe never runs; yet sphinx-thebe adds to every page an
inline script declaring ``THEBE_JS_URL = "https://unpkg.com/thebe@..."`` (twice, which also
throws a console error) and ``sphinx-thebe.js``, whose only job is to load that URL on launch.
This extension drops both once sphinx-thebe has added them, so no page refers to another host.
"""

from __future__ import annotations

from typing import Any


def _is_thebe(filename: object, attributes: dict[str, Any]) -> bool:
    return "THEBE_JS_URL" in str(attributes.get("body", "")) or str(filename or "").endswith("sphinx-thebe.js")


def _drop_thebe_scripts(app: Any, env: Any, docnames: list[str]) -> None:
    app.registry.js_files = [(f, a) for f, a in app.registry.js_files if not _is_thebe(f, a)]
    builder = app.builder
    if hasattr(builder, "_js_files"):
        builder._js_files = [js for js in builder._js_files if not _is_thebe(js.filename, js.attributes)]


def setup(app: Any) -> dict[str, Any]:
    app.connect("env-before-read-docs", _drop_thebe_scripts, priority=900)  # after sphinx-thebe (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
