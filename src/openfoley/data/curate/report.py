"""The curation report: how many rows/clips each stage removed and why, as JSON and a printed table.

``Tally`` accumulates counts during a run and is saved inside the resume state, so a resumed run
reports exactly what an uninterrupted one would. Its memory is bounded: per-class counters have at
most 309 keys, unknown ids at most ``MAX_UNKNOWN`` distinct keys (the rest are counted together), and
example lists at most ``max_examples`` entries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_UNKNOWN = 10_000

# (stage, what it removes), in the order a clip meets them. The first stage that applies removes it.
STAGES: list[tuple[str, str]] = [
    ("malformed", "CSV rows that do not parse (listed with file:line; fatal under --strict)"),
    ("unknown_labels", "AudioSet rows whose labels are all unknown ontology ids"),
    ("vggsound_class", "AudioSet label is a mapped VGGSound node or one of its descendants"),
    ("vggsound_ancestor", "AudioSet label is an ancestor of a mapped node (--exclude-ancestors rule)"),
    ("vggsound_caption", "Panda-70M caption mentions a VGGSound class term"),
    ("segment_duration", "segment length (end - start) outside [min, max] seconds"),
    ("media_missing", "no media file for the clip in --media"),
    ("media_unreadable", "media file cannot be opened or decoded"),
    ("media_duration", "media duration outside [min, max] seconds"),
    ("media_height", "no video stream, or displayed height below the minimum"),
    ("media_no_audio", "no audio stream"),
    ("media_snr", "estimated audio SNR at or below the threshold"),
]
STAGE_NAMES = [s for s, _ in STAGES]


@dataclass
class Tally:
    max_examples: int = 20
    rows: Counter = field(default_factory=Counter)  # rows read per input kind
    clips: Counter = field(default_factory=Counter)  # clips (Panda rows hold many) per input kind
    removed: Counter = field(default_factory=Counter)  # stage -> count
    kept: int = 0
    by_class: Counter = field(default_factory=Counter)  # VGGSound class -> label removals
    by_caption: Counter = field(default_factory=Counter)  # VGGSound class -> caption removals
    unknown_ids: Counter = field(default_factory=Counter)
    unknown_other: int = 0
    rows_with_unknown: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)  # stage -> first examples

    def remove(self, stage: str, example: str | None = None) -> None:
        self.removed[stage] += 1
        if example is not None:
            ex = self.examples.setdefault(stage, [])
            if len(ex) < self.max_examples:
                ex.append(example)

    def unknown(self, ids: list[str]) -> None:
        self.rows_with_unknown += 1
        for i in ids:
            if i in self.unknown_ids or len(self.unknown_ids) < MAX_UNKNOWN:
                self.unknown_ids[i] += 1
            else:
                self.unknown_other += 1

    def to_state(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Tally:
        t = cls()
        for k, v in d.items():
            setattr(t, k, Counter(v) if isinstance(getattr(t, k), Counter) else v)
        return t

    def report(self, media: bool, extra: dict[str, Any]) -> dict[str, Any]:
        total = sum(self.clips.values())
        stages = []
        for name, why in STAGES:
            skipped = name.startswith("media_") and not media
            stages.append({"stage": name, "removed": self.removed.get(name, 0), "why": why,
                           **({"skipped": "no --media folder given"} if skipped else {})})
        return {
            "rows_read": dict(self.rows),
            "clips_in": total,
            "kept": self.kept,
            "stages": stages,
            "removed_by_vggsound_class": dict(self.by_class.most_common()),
            "removed_by_caption_class": dict(self.by_caption.most_common()),
            "unknown_ids": {
                "rows_with_unknown_ids": self.rows_with_unknown,
                "distinct": len(self.unknown_ids) + (1 if self.unknown_other else 0),
                "most_common": dict(self.unknown_ids.most_common(50)),
                "beyond_cap": self.unknown_other,
            },
            "examples": self.examples,
            **extra,
        }


def format_table(report: dict[str, Any]) -> str:
    """The stage table printed by ``openfoley curate``."""
    lines = [f"{'stage':<20} {'removed':>12}  why", "-" * 78]
    malformed_rows = 0
    for s in report["stages"]:
        n = "skipped" if "skipped" in s else f"{s['removed']:,}"
        if s["stage"] == "malformed":
            malformed_rows = s["removed"]
            n += " rows"
        lines.append(f"{s['stage']:<20} {n:>12}  {s['why']}")
    lines.append("-" * 78)
    lines.append(f"{'clips in':<20} {report['clips_in']:>12,}  (+{malformed_rows:,} malformed rows)")
    lines.append(f"{'kept':<20} {report['kept']:>12,}")
    u = report["unknown_ids"]
    if u["rows_with_unknown_ids"]:
        lines.append(f"unknown ontology ids: {u['distinct']} distinct in {u['rows_with_unknown_ids']:,} rows")
    return "\n".join(lines)
