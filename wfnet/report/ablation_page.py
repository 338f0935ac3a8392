"""The ablation page (notebooks/ablation.py): every untraining variant under results/ablation and
every baseline hyper-parameter search, with the choices each made and what it cost."""

from __future__ import annotations

import html as _html
import json
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..methods import label
from .format import (
    NOT_REPORTED,
    NOT_RUN,
    backbone_label,
    breakable,
    forget_short,
    fraction,
    num,
    paper_num,
    short_commit,
    untrain_choice,
    zrf_header,
    zrf_num,
)
from .tuning import config_text as baseline_config_text

ABLATION_CHOICES = ("forget_term", "ce_cap", "clip_grad_norm", "clip_scope", "alpha_bound",
                    "regularizer", "optimizer", "lr")


FORGET_TERMS_SHORT = {
    # what each forget term computes, in words: the names are the registry's (wfnet.methods.loss)
    "reciprocal_mean": "1 / mean CE of the forget half",
    "reciprocal_per_sample": "mean of 1 / max(CE, floor) per sample (no gradient below the floor)",
    "reciprocal_per_sample_offset": "mean of 1 / (CE + floor) per sample (Eq. 3 as written)",
    "class_mean_reciprocal": "mean over classes of 1 / CE_c",
    "class_mean_reciprocal_capped": "mean over classes of 1 / min(CE_c, cap)",
}


def _worst_rows(per_class: Sequence[dict[str, Any]], n: int = 2) -> str:
    """The ``n`` rows whose forgetting hurts the other classes most: 'class (Acc_r)'."""
    rows = sorted((r for r in per_class if r.get("acc_r") is not None), key=lambda r: r["acc_r"])[:n]
    return ", ".join(f"{r.get('name', r.get('cls', '?'))} ({r['acc_r']:.1f})" for r in rows) or NOT_RUN


def ablation_rows(results_dir: Path | str) -> list[dict[str, Any]]:
    """One dict per file under ``results/ablation``: what it started from, its scores, the
    untraining choices it made (from the config it ran with, not from its name), its cost."""
    rows = []
    for path in sorted((Path(results_dir) / "ablation").rglob("*.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance") or {}
        ucfg = prov.get("untrain_config") or {}
        rows.append({"path": path, "res": res, "prov": prov, "ucfg": ucfg,
                     "original": f"{backbone_label(str(prov.get('backbone', '?')))} at width {fraction(prov['width']) if isinstance(prov.get('width'), (int, float)) else '?'}"
                                 f" on {prov.get('dataset', '?')}, original test accuracy {num(res.get('original_test_acc'), 1)}%",
                     "variant": res.get("variant", path.stem),
                     "_sort": -float(res["acc_r"]) if res.get("acc_r") is not None else math.inf})
    return sorted(rows, key=lambda r: (r["original"], r["_sort"]))


def ablation_table(results_dir: Path | str) -> pd.DataFrame:
    """Every ablation file, best retain accuracy first within each original model, all columns
    (scores, choices, cost); the book shows it as ``ablation_views``."""
    rows = []
    for r in ablation_rows(results_dir):
        res, prov, ucfg = r["res"], r["prov"], r["ucfg"]
        rows.append({
            "original": r["original"], "variant": r["variant"],
            "Acc_r": num(res.get("acc_r"), 2), "Acc_f": num(res.get("acc_f"), 2),
            "ZRF": zrf_num(res.get("zrf"), prov.get("dataset")), "worst rows (Acc_r)": _worst_rows(res.get("per_class") or []),
            **{k: untrain_choice(ucfg, k) for k in ABLATION_CHOICES},
            "epochs (max)": ucfg.get("epochs", NOT_REPORTED), "steps": res.get("steps", NOT_REPORTED),
            "wall time (s)": num(prov.get("wall_seconds"), 0), "device": prov.get("device", "?"),
            "git commit": short_commit(str(prov.get("git_commit", "?"))),
        })
    return pd.DataFrame(rows)


def ablation_views(results_dir: Path | str) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Per original model: (heading, scores-and-choices table, cost table), each narrow enough for
    the book's text column. Variant names may wrap after underscores."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in ablation_rows(results_dir):
        groups.setdefault(r["original"], []).append(r)
    out = []
    for original, rows in groups.items():
        main, cost = [], []
        for r in rows:
            res, prov, ucfg = r["res"], r["prov"], r["ucfg"]
            clip = untrain_choice(ucfg, "clip_grad_norm")
            scope = untrain_choice(ucfg, "clip_scope")
            main.append({
                "variant": breakable(r["variant"]),
                "Acc_r": num(res.get("acc_r"), 2), "Acc_f": num(res.get("acc_f"), 2),
                zrf_header(prov.get("dataset")): zrf_num(res.get("zrf"), prov.get("dataset")),
                "forget term": _html.escape(forget_short(ucfg)) if ucfg else NOT_REPORTED,
                "cap": untrain_choice(ucfg, "ce_cap"),
                "clip": clip if clip in ("none", NOT_REPORTED) else f"{clip} {scope.replace('_', ' ') if scope != NOT_REPORTED else ''}".strip(),
                "bound": untrain_choice(ucfg, "alpha_bound"), "R(α)": _html.escape(untrain_choice(ucfg, "regularizer")),
            })
            cost.append({
                "variant": breakable(r["variant"]), "worst rows (Acc_r)": _worst_rows(res.get("per_class") or []),
                "epochs (max)": ucfg.get("epochs", NOT_REPORTED), "steps": res.get("steps", NOT_REPORTED),
                "wall (s)": num(prov.get("wall_seconds"), 0),
                "commit": short_commit(str(prov.get("git_commit", "?")))[:9],
            })
        out.append((original, pd.DataFrame(main), pd.DataFrame(cost)))
    return out


# -- the baselines' hyper-parameter search ---------------------------------------------------------

def baseline_search_table(results_dir: Path | str) -> pd.DataFrame:
    """Every candidate of every baseline search (``wfnet search-baselines``), its validation
    scores, and which one the rule chose; read from ``results/*/*/*/baseline_search.json``."""
    rows = []
    for path in sorted(Path(results_dir).glob("*/*/*/baseline_search.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance") or {}
        for method, t in (res.get("methods") or {}).items():
            for cand in t.get("candidates", []):
                rows.append({
                    "run": f"{res.get('preset')} · {res.get('dataset')} · {backbone_label(str(res.get('backbone')))}",
                    "method": label(method), "candidate": baseline_config_text(method, cand["config"]),
                    "val Acc_r": num(cand.get("acc_r"), 1), "val Acc_f": num(cand.get("acc_f"), 1),
                    "chosen": "✓" if cand["config"] == t.get("chosen") else "",
                    "paper Acc_r / Acc_f": f"{paper_num(t.get('paper_acc_r'), 1)} / {paper_num(t.get('paper_acc_f'), 1)}",
                    "bar (val Acc_f ≤)": num(t.get("bar_acc_f"), 1),
                    "images fit / val": f"{prov.get('fit_size', '?')} / {prov.get('val_size', '?')}",
                    "device": prov.get("device", "?"), "git commit": short_commit(str(prov.get("git_commit", "?"))),
                    "search key": res.get("key", "?"), "wall (s)": num(prov.get("wall_seconds"), 0),
                })
    return pd.DataFrame(rows)


def baseline_search_views(results_dir: Path | str) -> list[tuple[str, pd.DataFrame, str]]:
    """Per search run: (heading, a narrow table of candidates, a sentence with where it ran)."""
    table = baseline_search_table(results_dir)
    out = []
    if table.empty:
        return out
    for run, rows in table.groupby("run", sort=False):
        first = rows.iloc[0]
        view = rows[["method", "candidate", "val Acc_r", "val Acc_f", "chosen", "bar (val Acc_f ≤)"]].copy()
        view["method"] = view["method"].map(lambda m: str(m).replace(" †", ""))
        paper = "; ".join(f"{m.replace(' †', '')} {v}" for m, v in
                          rows.drop_duplicates("method")[["method", "paper Acc_r / Acc_f"]].itertuples(index=False)
                          if v != f"{NOT_REPORTED} / {NOT_REPORTED}")
        note = (f"Search {first['search key']}: fit / validation images {first['images fit / val']}; device "
                f"{first['device']}; {first['wall (s)']} s; commit {first['git commit']}. The bar is the paper's "
                f"Acc_f for the cell + 1 point (paper Acc_r / Acc_f: {paper or 'none'}), and the retrained model's "
                "0 + 1 for SSD and SalUn, which the paper does not have.")
        out.append((str(run), view.reset_index(drop=True), note))
    return out
