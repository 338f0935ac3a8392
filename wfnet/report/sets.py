"""Class sets as the pages show them: which sets a WF model forgets, read from a measured file
(``wfnet evaluate --sets pairs`` or an ablation variant), and the set-aware untraining ablation."""

# A set counts as forgotten when Acc_f <= 5 % on its classes and Acc_r >= 85 % on the others
# (``MultiForgetConfig``'s thresholds, stored in every file's "config"). The interactive and draw
# pages flag a ticked set from these files; the beyond chapter summarises them.

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..evaluation.multiforget import MultiForgetConfig, forgotten
from .format import NOT_RUN, num

SetsPayload = dict[str, Any]  # the object ``evaluate_multiforget`` returns (sets.json, an ablation's "sets")


def read_sets(path: Path | str) -> SetsPayload | None:
    """A sets file (``wfnet evaluate --sets pairs``), or None where it is missing."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def set_prob_of(model_dir: Path | str) -> float | None:
    """The set-aware share p a WF model was untrained with (its ``wf/metrics.json``), or None."""
    path = Path(model_dir) / "wf" / "metrics.json"
    if not path.is_file():
        return None
    cfg = ((json.loads(path.read_text()).get("provenance") or {}).get("untrain_config") or {})
    return cfg.get("set_prob", 0.0)


def thresholds(payload: SetsPayload) -> tuple[float, float]:
    """(Acc_f at most, Acc_r at least), in %, as the file was scored."""
    cfg = payload.get("config") or {}
    default = MultiForgetConfig()
    return (float(cfg.get("forgotten_acc_f", default.forgotten_acc_f)),
            float(cfg.get("kept_acc_r", default.kept_acc_r)))


def bar_text(payload: SetsPayload) -> str:
    f, r = thresholds(payload)
    return f"Acc_f ≤ {f:g} % on the set and Acc_r ≥ {r:g} % on the other classes"


def is_forgotten(scores: dict[str, Any], payload: SetsPayload) -> bool:
    """``multiforget.forgotten`` at the thresholds the file was scored with."""
    f, r = thresholds(payload)
    return forgotten(scores, MultiForgetConfig(forgotten_acc_f=f, kept_acc_r=r))


def measured_sets(payload: SetsPayload, combine: str = "product") -> list[dict[str, Any]]:
    """Every measured set, single classes included: classes, Acc_f, Acc_r, forgotten."""
    rows = [{"classes": [s["cls"]], "acc_f": s["acc_f"], "acc_r": s["acc_r"]} for s in payload["single"]]
    rows += [{"classes": list(s["classes"]), "acc_f": s[combine]["acc_f"], "acc_r": s[combine]["acc_r"]}
             for s in payload["sets"] if combine in s]
    return [{**r, "forgotten": is_forgotten(r, payload)} for r in rows]


def failing(payload: SetsPayload, size: int, combine: str = "product") -> list[list[int]]:
    """The measured sets of ``size`` classes that are not forgotten."""
    return [r["classes"] for r in measured_sets(payload, combine) if len(r["classes"]) == size and not r["forgotten"]]


def count_line(rows: Sequence[dict[str, Any]], bar: str, combine: str = "product") -> str:
    """'k of 10 single classes, m of 45 pairs and n of 100 sampled triples are forgotten', from
    ``measured_sets`` rows (or the draw page's copy of them)."""
    parts = []
    for size, noun in ((1, "single classes"), (2, "pairs"), (3, "sampled triples")):
        group = [r for r in rows if len(r["classes"]) == size]
        if group:
            parts.append(f"{sum(bool(r['forgotten']) for r in group)} of {len(group)} {noun}")
    return f"{', '.join(parts)} are forgotten ({combine}; {bar})."


def failing_line(rows: Sequence[dict[str, Any]], names: Sequence[str], most: int = 12) -> str:
    """The pairs that are not forgotten, by name, with their Acc_f / Acc_r, worst first."""
    bad = sorted((r for r in rows if len(r["classes"]) == 2 and not r["forgotten"]),
                 key=lambda r: (-(r["acc_f"] or 0.0), r["acc_r"] or 0.0))
    if not bad:
        return "Every pair is forgotten."
    shown = "; ".join("{" + ", ".join(str(names[c]) for c in r["classes"]) + "}"
                      f" Acc_f {num(r['acc_f'])} %, Acc_r {num(r['acc_r'])} %" for r in bad[:most])
    more = f"; and {len(bad) - most} more" if len(bad) > most else ""
    return f"Pairs not forgotten ({len(bad)}): {shown}{more}."


def summary_frame(payload: SetsPayload) -> pd.DataFrame:
    """Per set size and combination: how many sets are forgotten, mean Acc_f and Acc_r."""
    rows = []
    for size, s in sorted(payload["summary"].items()):
        for comb in payload["config"]["combines"]:
            c = s[comb]
            rows.append({"classes": int(size), "combination": comb, "sets": s["n_sets"],
                         "forgotten": c.get("n_forgotten", NOT_RUN),
                         "mean Acc_f (%)": num(c["acc_f"]), "mean Acc_r (%)": num(c["acc_r"]),
                         "single rows' Acc_f (%)": num(s["single_acc_f"])})
    return pd.DataFrame(rows)


def set_ablation_frame(results_dir: Path | str) -> pd.DataFrame:
    """The set-aware untraining ablation (variants whose file holds "sets"): single-class scores
    next to how many pairs and triples each variant forgets; ``original`` names the checkpoint."""
    rows = []
    for path in sorted((Path(results_dir) / "ablation").rglob("*.json")):
        res = json.loads(path.read_text())
        sets = res.get("sets") if isinstance(res, dict) else None
        if not isinstance(sets, dict):
            continue
        prov = res.get("provenance") or {}
        counts = {}
        for comb in sets["config"]["combines"]:
            measured = measured_sets(sets, comb)
            for size, noun in ((2, "pairs"), (3, "triples")):
                group = [r for r in measured if len(r["classes"]) == size]
                counts[f"{noun} forgotten ({comb})"] = f"{sum(r['forgotten'] for r in group)}/{len(group)}"
        pair = sets["summary"].get("2", {}).get("product", {})
        rows.append({"original": f"{prov.get('backbone', '?')} · width {prov.get('width', '?')} · "
                                 f"{Path(str(prov.get('checkpoint', '?'))).parent.name}",
                     "variant": res.get("variant"), "p": (res.get("overrides") or {}).get("set_prob"),
                     "Acc_r (%)": num(res.get("acc_r")), "Acc_f (%)": num(res.get("acc_f"), 2),
                     **counts, "pairs: mean Acc_r (%)": num(pair.get("acc_r"))})
    rows.sort(key=lambda r: (r["original"], r["p"] if isinstance(r["p"], (int, float)) else -1.0))
    return pd.DataFrame(rows)


def best_variant(frame: pd.DataFrame, reference: str = "sets_p0", slack: float = 1.0) -> str | None:
    """The variant that forgets the most pairs (product) while its single-class Acc_r and Acc_f
    stay within ``slack`` points of ``reference`` (p = 0, the paper's untraining)."""
    if frame.empty or reference not in set(frame["variant"]):
        return None
    ref = frame[frame["variant"] == reference].iloc[0]

    def ok(row: Any) -> bool:
        return (float(row["Acc_r (%)"]) >= float(ref["Acc_r (%)"]) - slack
                and float(row["Acc_f (%)"]) <= float(ref["Acc_f (%)"]) + slack)

    def pairs(row: Any) -> int:
        return int(str(row["pairs forgotten (product)"]).split("/")[0])

    fine = [row for _, row in frame.iterrows() if ok(row)]
    return str(max(fine, key=pairs)["variant"]) if fine else reference


__all__ = ["SetsPayload", "bar_text", "best_variant", "count_line", "failing", "failing_line", "is_forgotten",
           "measured_sets", "read_sets", "set_prob_of", "set_ablation_frame", "summary_frame", "thresholds"]
