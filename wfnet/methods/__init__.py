"""Unlearning methods: WF-Net (untraining and its loss), the paper's baselines, SalUn and SSD,
each registered in one table (``registry``) that experiments and tables read."""

from . import baselines, salun, ssd, untrain  # noqa: F401  (each registers its methods)
from .registry import METHODS, Method, label, method_names, methods, register, register_method

__all__ = ["METHODS", "Method", "label", "method_names", "methods", "register", "register_method"]
