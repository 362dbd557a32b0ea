"""The final pass of the bank build: rare-class rule, then manifest.jsonl, classes.json and bank.json.

Input: the per-package state files in ``OUT/.work`` (one JSON row per processed member). Output: the
three files above, written atomically and rebuilt wholly from the state, so a rerun over a finished
bank rewrites identical bytes. ``bank.json`` carries no wall-clock fields for that reason; the build
time of the last run is returned and logged, and kept in ``.work/timing.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from openfoley.data.soundbank import taxonomy
from openfoley.data.soundbank.fingerprint import FP_FRAME, FP_HOP, FP_RATE
from openfoley.io.jsonl import iter_jsonl

MANIFEST_KEYS = ("id", "class", "group", "duration", "package", "path", "licence", "fingerprint",
                 "audio", "image")

MERGE_RULE = ("A fine class with fewer than min_clips clips is merged into its parent class "
              "(taxonomy.PARENTS), repeatedly and deepest first; a class still below min_clips with no "
              "parent is dropped. A merged class takes the group most of its clips have.")


def _write_json(path: Path, obj, lines: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        if lines:
            for row in obj:
                f.write(json.dumps(row, sort_keys=False) + "\n")
        else:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
    os.replace(tmp, path)


def load_rows(out: Path, packages: list[str]) -> dict[str, list[dict]]:
    rows = {}
    for p in packages:
        f = out / ".work" / f"{p}.jsonl"
        got: dict[str, dict] = {}
        if f.is_file():
            for _, r in iter_jsonl(f, skip_bad=True):  # a line cut by an interruption is redone
                got[r["path"]] = r
        rows[p] = [got[k] for k in sorted(got)]
    return rows


def finalise(out: Path, packages: list[str], settings, summaries: list[dict], seconds: float) -> dict:
    rows = load_rows(out, packages)
    clips = [c for p in packages for r in rows[p] for c in r.get("clips", [])]
    fine_counts = Counter(c["fine"] for c in clips)
    target = taxonomy.merge_rare(dict(fine_counts), settings.min_clips)

    final_group: dict[str, Counter] = defaultdict(Counter)
    for c in clips:
        t = target[c["fine"]]
        if t is not None:
            final_group[t][c["group"]] += 1
    group_of = {k: v.most_common(1)[0][0] for k, v in final_group.items()}

    manifest: list[dict[str, Any]] = []
    classes: dict[str, Any] = {}
    for c in clips:
        t = target[c["fine"]]
        if t is None:
            continue
        row = {"id": c["id"], "class": t, "group": group_of[t], "duration": c["duration"],
               "package": c["package"], "path": c["path"], "licence": c["licence"],
               "fingerprint": c["fingerprint"], "audio": c["audio"], "image": c["image"]}
        manifest.append(row)
        entry = classes.setdefault(t, {"group": group_of[t], "clips": 0, "images": []})
        entry["clips"] += 1
        if c["image"] and c["image"] not in entry["images"]:
            entry["images"].append(c["image"])
    for e in classes.values():
        e["images"].sort()

    per_package = {}
    for p in packages:
        status = Counter(r["status"] for r in rows[p])
        kept = [m for m in manifest if m["package"] == p]
        per_package[p] = {
            "members": len(rows[p]),
            "unlabelled": status.get("unlabelled", 0),
            "dropped": status.get("dropped", 0),
            "duplicate_files": sum(1 for r in rows[p] if r.get("reason") == "identical file"),
            "duplicate_events": sum(1 for r in rows[p] for d in r.get("dups", []) if "of" in d),
            "too_long_events": sum(1 for r in rows[p] for d in r.get("dups", []) if "dropped" in d),
            "clips": len(kept),
            "hours": round(sum(m["duration"] for m in kept) / 3600.0, 4),
            "licences": dict(sorted(Counter(m["licence"] for m in kept).items())),
            "svg_images_skipped": sum(1 for r in rows[p] if r.get("svg_image")),
        }
    dropped_rare = {k: fine_counts[k] for k, v in target.items() if v is None}
    merged = {k: v for k, v in target.items() if v is not None and v != k}
    bank = {
        "format": 1,
        "sample_rate": settings.sample_rate,
        "settings": dataclasses.asdict(settings),
        "fingerprint": {"rate": FP_RATE, "frame": FP_FRAME, "hop": FP_HOP, "bits_per_word": 32,
                        "compare": "bit error rate, min over shifts of +-4 words",
                        "duplicate_if_ber_at_most": settings.dedupe_ber},
        "packages": packages,
        "per_package": per_package,
        "clips": len(manifest),
        "hours": round(sum(m["duration"] for m in manifest) / 3600.0, 4),
        "classes": len(classes),
        "groups": dict(sorted(Counter(m["group"] for m in manifest).items())),
        "licences": dict(sorted(Counter(m["licence"] for m in manifest).items())),
        "class_merge_rule": MERGE_RULE,
        "merged_classes": dict(sorted(merged.items())),
        "dropped_rare_classes": dict(sorted(dropped_rare.items())),
        "duplicates": {
            "identical_files": sum(v["duplicate_files"] for v in per_package.values()),
            "duplicate_events": sum(v["duplicate_events"] for v in per_package.values()),
        },
    }
    _write_json(out / "manifest.jsonl", manifest, lines=True)
    _write_json(out / "classes.json", dict(sorted(classes.items())))
    _write_json(out / "bank.json", bank)
    _write_json(out / ".work" / "timing.json", {"seconds": round(seconds, 1), "packages": summaries})
    return bank
