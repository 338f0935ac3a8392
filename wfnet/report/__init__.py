"""From result files to the book: tables and figures (``tables``, re-exported here, so that a
notebook reads ``report.table1``), the beyond chapter's tables (``beyond``), the interactive page
(``widgets``) and the paper's own numbers (``paper_values``)."""

from .. import paper_values  # noqa: F401  (the paper's own numbers, for the pages)
from . import widgets  # noqa: F401
from .tables import *  # noqa: F401,F403
from .tables import __all__ as _tables_all
from .tuning import baseline_configs, source_text  # noqa: F401

__all__ = ["paper_values", "widgets", *_tables_all, "baseline_configs", "source_text"]
