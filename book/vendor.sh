#!/usr/bin/env bash
# Vendor every JavaScript file the book loads, so the built site makes no request to a CDN.
#
#   book/vendor.sh OUT_DIR PYTHON
#
# From the npm registry (pinned versions, `npm pack`, no node_modules left behind):
#   - MathJax 3 (es5/tex-mml-chtml.js + its woff-v2 fonts)          -> OUT/mathjax/
#   - @jupyter-widgets/html-manager 1.0.15 (embed-amd.js + fonts;      -> OUT/widgets/
#     ipywidgets 8 asks for ^1.0.1) and require.js
#   - onnxruntime-web 1.30.0, WebAssembly build only (ort.wasm.min.js   -> OUT/onnxruntime/
#     + the SIMD/threaded .mjs/.wasm it loads; source-map comments dropped: the maps are not shipped)
# From pip's plotly package (already installed in the venv):
#   - plotly.min.js                                                   -> OUT/plotly/
# OUT is git-ignored; the Makefile re-runs this only when this script changes.
set -euo pipefail
OUT=${1:?usage: vendor.sh OUT_DIR PYTHON}
PY=${2:?usage: vendor.sh OUT_DIR PYTHON}
MATHJAX=mathjax@3.2.2
HTML_MANAGER=@jupyter-widgets/html-manager@1.0.15
REQUIREJS=requirejs@2.3.8
ORT=onnxruntime-web@1.30.0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --cache "$tmp/.npm" "$MATHJAX" "$HTML_MANAGER" "$REQUIREJS" "$ORT" >/dev/null)
for t in "$tmp"/*.tgz; do d="$tmp/$(basename "$t" .tgz)"; mkdir -p "$d"; tar -xzf "$t" -C "$d"; done

rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"/{mathjax/output/chtml/fonts,widgets,plotly,onnxruntime}
mj="$tmp"/mathjax-3.2.2/package/es5
cp "$mj/tex-mml-chtml.js" "$OUT.tmp/mathjax/"
cp -r "$mj/output/chtml/fonts/woff-v2" "$OUT.tmp/mathjax/output/chtml/fonts/"

hm="$tmp"/jupyter-widgets-html-manager-1.0.15/package/dist
cp "$hm/embed-amd.js" "$OUT.tmp/widgets/"
cp "$hm"/*.woff "$hm"/*.woff2 "$hm"/*.ttf "$hm"/*.eot "$hm"/*.svg "$OUT.tmp/widgets/"
cp "$tmp"/requirejs-2.3.8/package/require.js "$OUT.tmp/widgets/"
# Loaded between require.js and embed-amd.js (see _config.yml: nb_ipywidgets_js):
# 1. embed-amd.js finds its fonts relative to the URL of its named AMD modules ("@jupyter-widgets/base",
#    "@jupyter-widgets/html-manager/dist/libembed-amd", ...): map those paths to the folder this
#    script is served from, where the fonts are (no 404s, no CDN).
# 2. The widget manager typesets with MathJax 2's API (MathJax.Hub.Queue), the book ships MathJax 3:
#    give MathJax 3 a Hub.Queue that calls typesetPromise, whenever MathJax appears.
cat > "$OUT.tmp/widgets/widgets-setup.js" <<'JS'
(function () {
  var here = document.currentScript.src.replace(/\/[^\/]*$/, "");
  require.config({ paths: { "@jupyter-widgets": here, "@jupyter-widgets/html-manager/dist": here } });
  function addHub(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      mj.Hub = { Queue: function (job) {
        var el = job && job[2];
        if (window.MathJax && window.MathJax.typesetPromise) {
          window.MathJax.typesetPromise(el ? [el] : undefined).catch(function () {});
        }
      } };
    }
  }
  var current = window.MathJax;
  addHub(current);
  Object.defineProperty(window, "MathJax", { configurable: true, enumerable: true,
    get: function () { return current; },
    set: function (value) { current = value; addHub(value); } });
})();
JS

ort="$tmp"/onnxruntime-web-1.30.0/package/dist
for f in ort.wasm.min.js ort-wasm-simd-threaded.mjs; do
  sed '/^\/\/# sourceMappingURL=/d' "$ort/$f" > "$OUT.tmp/onnxruntime/$f"
done
cp "$ort/ort-wasm-simd-threaded.wasm" "$OUT.tmp/onnxruntime/"

"$PY" - "$OUT.tmp/plotly" <<'PY'
import pathlib, shutil, sys
import plotly
src = pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
shutil.copy(src, pathlib.Path(sys.argv[1]) / "plotly.min.js")
PY

rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
du -sh "$OUT"
