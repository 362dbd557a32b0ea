"""Markdown tables for docs/benchmark.md, made from a bank and its splits (never typed by hand).

``splits_markdown`` lists each split's classes by group with clip counts, the held-out groups and
fine classes, and the check's figures; ``licence_markdown`` lists, per source package, its licences,
clips and hours, as the bank's manifest records them.
"""

from __future__ import annotations

from openfoley.data.foleyworld.bank import Bank
from openfoley.data.foleyworld.splits import SPLITS, SplitReport, Splits


def splits_markdown(bank: Bank, splits: Splits, report: SplitReport) -> str:
    lines = [f"Splits seed {splits.seed}, near-duplicate threshold: bit error rate <= {splits.rule.near_ber}, "
             f"bank signature `{splits.bank_signature}`.", "",
             "| split | clips | classes | groups | hours |", "|---|---:|---:|---:|---:|"]
    for s in SPLITS:
        st = report.stats[s]
        lines.append(f"| {s} | {st['clips']} | {st['classes']} | {st['groups']} | {st['hours']:.3f} |")
    lines += ["", f"Held-out whole groups: {', '.join(splits.open_groups) or '(none)'}.",
              f"Held-out fine classes inside seen groups: {', '.join(splits.open_fine) or '(none)'}.",
              f"Clips dropped (near-duplicate cluster spanning open and seen classes): {len(splits.dropped)}.",
              "", f"Check: {'PASS' if report.ok else 'FAIL'}" + ("" if report.ok else ": " + "; ".join(report.problems))]
    for s in SPLITS:
        counts: dict[str, dict[str, int]] = {}
        for cid in splits.clips.get(s, []):
            c = bank.clips.get(cid)
            if c is not None:
                counts.setdefault(c.group, {}).setdefault(c.cls, 0)
                counts[c.group][c.cls] += 1
        lines += ["", f"### {s}", "", "| group | classes (clips) |", "|---|---|"]
        for g in sorted(counts):
            lines.append(f"| {g} | " + ", ".join(f"{c} ({n})" for c, n in sorted(counts[g].items())) + " |")
    return "\n".join(lines) + "\n"


def licence_markdown(bank: Bank) -> str:
    per: dict[str, dict] = {}
    for c in bank.clips.values():
        p = per.setdefault(c.package, {"clips": 0, "seconds": 0.0, "licences": {}})
        p["clips"] += 1
        p["seconds"] += c.duration
        p["licences"][c.licence] = p["licences"].get(c.licence, 0) + 1
    lines = ["| package | clips | minutes | licences (clips) |", "|---|---:|---:|---|"]
    for name in sorted(per):
        p = per[name]
        lic = ", ".join(f"{k} ({v})" for k, v in sorted(p["licences"].items(), key=lambda kv: -kv[1]))
        lines.append(f"| {name} | {p['clips']} | {p['seconds'] / 60:.1f} | {lic} |")
    return "\n".join(lines) + "\n"
