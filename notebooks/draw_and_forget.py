# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Draw a digit, forget classes
#
# The {doc}`interactive page <interactive_forgetting>` switches among states computed when the
# book was built. This page runs **the model itself**, in your browser: the WF checkpoint of that
# page, exported to ONNX with the forget set as an *input* of the graph. Draw a digit (or pick a
# test image), tick a set of classes, and the probabilities on the left are what the same
# weights give with those classes forgotten; the original model's, on the right, stay as they
# were. The gates of the ticked classes are multiplied, as `model(x, forget={a, b})` does
# (`combine="product"`); no row of $\alpha$ was trained for a set, so a set of classes is the
# paper's one-class filtering applied several times at once.
#
# Not every set is forgotten: below the charts the page says whether the ticked set was measured as
# forgotten on the test set when the book was built (every class, every pair and 100 sampled
# triples; the list is under the model card). Things to try: draw a 7 and forget 7 (where does the
# probability go?); forget a pair the list says fails, then one it says works. The model was trained on 28×28 MNIST digits, white on black,
# centred: a digit drawn small or off-centre is out of its distribution whatever is forgotten.

# %% tags=["parameters", "remove-cell"]
assets = "book/_assets_onnx/onnx"  # written by `make onnx-page` (wfnet.report.onnx_page)

# %% tags=["remove-input"]
from wfnet.errors import WFNetError
from wfnet.report import format as fmt
from wfnet.report import onnx_page, sets

vectors_path = fmt.resolve(assets) / onnx_page.VECTORS_FILE
try:
    vectors = onnx_page.read_vectors(vectors_path)
except WFNetError as err:
    vectors = None
    fmt.show(f"_{fmt.NOT_RUN}: no exported model ({err}). `make onnx-page` exports it from the "
             "interactive page's checkpoint._")
if vectors is not None:
    fmt.show_html(onnx_page.model_card(vectors))
    if vectors.get("sets"):
        fmt.show("**Which sets this model forgets** (the page's numbers): "
                 + sets.count_line(vectors["sets"]["measured"], vectors["sets"]["bar"]) + " "
                 + sets.failing_line(vectors["sets"]["measured"], vectors["class_names"]))
    fmt.show_html(onnx_page.page_html(vectors))

# %% [markdown]
# ## The same model from Python
#
# The exported file takes raw pixels in $[0, 1]$ (normalised inside the graph) and a 0/1 mask
# over the classes, and returns probabilities. `make onnx-page` writes it, with the test vectors
# your browser checked above:
#
# ```bash
# python -m wfnet.report.onnx_page --checkpoint runs/book-interactive/mnist-5k/resnet18/wf/wf.pt \
#     --out book/_assets_onnx/onnx
# ```
#
# ```python
# import numpy as np
# from wfnet.report import onnx_page
#
# session = onnx_page.session("book/_assets_onnx/onnx/model.onnx")
# image = np.zeros((1, 1, 28, 28), np.float32)              # your digit, white on black, in [0, 1]
# mask = np.zeros((1, 10), np.float32); mask[0, [1, 7]] = 1  # forget 1 and 7
# probs = onnx_page.onnx_probs(session, image, mask)         # (1, 10)
# ```
