"""From result files to the book: one module per book page (``table1_page``, ``ablation_page``, ...) over
shared ``format`` and ``sources``; the names every page uses are re-exported here (``report.table1``)."""

from .. import paper_values  # the paper's own numbers, for the pages
from . import widgets
from .ablation_page import (
    ABLATION_CHOICES,
    FORGET_TERMS_SHORT,
    ablation_rows,
    ablation_table,
    ablation_views,
    baseline_search_table,
    baseline_search_views,
)
from .about_page import about_views
from .experiments_page import config_text, method_summary, per_class_table, untrain_history
from .figures_page import (
    figure_html,
    figure_relationships,
    pick_layers,
    plot_relationships,
    relationship_matrix,
    relationship_runs,
    relationships_frame,
)
from .format import (
    NOT_REPORTED,
    NOT_RUN,
    PAPER,
    format_rt,
    plain,
    project_root,
    resolve,
    result_rt,
    show,
    show_html,
    source_label,
    styled,
    wrapped,
    zrf_digits,
)
from .sources import (
    FILE_LABELS,
    MEASURED,
    default_sources,
    discover_sources,
    is_method_result,
    measured_runs,
    method_results,
    relationships_path,
    runs_table,
    table_methods,
)
from .status import INTERACTIVE_EVAL, PAPER_SCALE_DATASETS, interactive_summary, paper_cells, status_html
from .table1_page import (
    TABLE1_VIEW_COLUMNS,
    measured_label,
    measured_table,
    measured_table1,
    partial_retrained,
    table1,
    table1_caption,
    table1_metrics,
    table1_view,
    view_styled,
)
from .table2_page import curves_frame, table2
from .tuning import baseline_configs, source_text

__all__ = [
    "paper_values", "widgets",
    # format
    "NOT_REPORTED", "NOT_RUN", "PAPER", "format_rt", "plain", "project_root", "resolve", "result_rt", "show",
    "show_html", "source_label", "styled", "wrapped", "zrf_digits",
    # sources
    "FILE_LABELS", "MEASURED", "default_sources", "discover_sources", "is_method_result", "measured_runs",
    "method_results", "relationships_path", "runs_table", "table_methods",
    # status
    "INTERACTIVE_EVAL", "PAPER_SCALE_DATASETS", "interactive_summary", "paper_cells", "status_html",
    # table1_page
    "TABLE1_VIEW_COLUMNS", "measured_label", "measured_table", "measured_table1", "partial_retrained", "table1",
    "table1_caption", "table1_metrics", "table1_view", "view_styled",
    # table2_page
    "curves_frame", "table2",
    # tuning
    "baseline_configs", "source_text",
    # figures_page
    "figure_html", "figure_relationships", "pick_layers", "plot_relationships", "relationship_matrix",
    "relationship_runs", "relationships_frame",
    # ablation_page
    "ABLATION_CHOICES", "FORGET_TERMS_SHORT", "ablation_rows", "ablation_table", "ablation_views",
    "baseline_search_table", "baseline_search_views",
    # about_page
    "about_views",
    # experiments_page
    "config_text", "method_summary", "per_class_table", "untrain_history",
]
