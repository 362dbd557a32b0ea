"""VGGSound classes -> AudioSet ontology nodes, and the label rule that excludes overlapping clips.

Inputs: VGGSound's class list (``vggsound_classes.csv``: name, clip count, group; CC-BY-4.0,
Chen, Xie, Vedaldi, Zisserman, ICASSP 2020), the AudioSet ontology, and the reviewed mapping table
``vggsound_to_audioset.tsv`` shipped in ``openfoley/data/resources`` (columns ``vggsound_class``,
``audioset_ids``, ``audioset_names``, ``how``, ``caption_terms``, ``note``).

``how`` records how each row was made (docs/open-set-benchmark.md):
  - ``exact``: the class name equals an ontology node name (case-insensitive);
  - ``normalised``: equal after ``normalise`` (lowercase, tokens, a fixed list of filler words such as
    "playing"/"people" dropped, a crude suffix stemmer; the node's comma
    alternatives tried one by one). ``propose`` reproduces both kinds, and a test checks that it does;
  - ``synonym``: the node names the same sound in other words (``crow cawing`` -> ``Caw``);
  - ``manual``: a reviewed judgement (a covering node, or several nodes);
  - ``unmapped``: no node names this sound without also naming many others (rule in the doc).

``ExclusionRule`` turns the mapped ids into the label test: a clip is removed when a label is a mapped
node or a descendant of one; with ancestors on, also when a label is an ancestor of a mapped node and
the clip carries no more specific label under it (``ancestor_rule="unexplained"``) or always
(``ancestor_rule="any"``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from openfoley.data.curate.ontology import Ontology, resource_path
from openfoley.errors import ConfigError, DataError

HOW = ("exact", "normalised", "synonym", "manual", "unmapped")
MAPPING_COLUMNS = ("vggsound_class", "audioset_ids", "audioset_names", "how", "caption_terms", "note")

# Words that carry no sound identity in VGGSound's naming scheme ("playing cello", "people coughing").
FILLER = frozenset({"playing", "using", "driving", "people", "the", "a", "an", "of", "on", "with",
                    "and", "or", "etc"})


def stem(word: str) -> str:
    """A crude suffix stemmer, applied identically to both sides (``coughing``/``cough`` -> ``cough``)."""
    for suf in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            return word[: -len(suf)]
    return word


def normalise(name: str) -> tuple[str, ...]:
    """Stems of a name's non-filler words: the key that ``normalised`` matches compare."""
    words = re.findall(r"[a-z0-9]+", name.lower())
    return tuple(stem(w) for w in words if w not in FILLER)


def _node_keys(name: str) -> set[tuple[str, ...]]:
    """Keys for an ontology name: the whole name, each comma alternative, and each without brackets."""
    variants = {name, re.sub(r"\(.*?\)", " ", name)}
    for v in list(variants):
        variants.update(v.split(","))
    return {k for k in (normalise(v) for v in variants) if k}


def load_vggsound_classes(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(class name, coarse group) for VGGSound's 309 classes; ``None`` reads the shipped list."""
    p = Path(path) if path is not None else resource_path("vggsound_classes.csv")
    if not p.is_file():
        raise DataError(f"{p}: VGGSound class list not found")
    out = []
    with open(p, newline="") as f:
        for i, row in enumerate(csv.reader(f), 1):
            if len(row) != 3:
                raise DataError(f"{p}:{i}: expected 'name,count,group', got {len(row)} fields")
            out.append((row[0].strip(), row[2].strip()))
    return out


def propose(classes: Iterable[str], onto: Ontology) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Automatic part of the mapping: ``{class: (how, ids)}`` for exact and normalised matches only."""
    exact = {n.name.lower(): n.id for n in onto.nodes.values()}
    by_key: dict[tuple[str, ...], set[str]] = {}
    for n in onto.nodes.values():
        for k in _node_keys(n.name):
            by_key.setdefault(k, set()).add(n.id)
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for c in classes:
        if c.lower() in exact:
            out[c] = ("exact", (exact[c.lower()],))
        elif len(ids := by_key.get(normalise(c), set())) == 1:
            out[c] = ("normalised", tuple(ids))
    return out


@dataclass(frozen=True)
class MappingRow:
    vggsound_class: str
    audioset_ids: tuple[str, ...]
    how: str
    caption_terms: tuple[str, ...]
    note: str = ""


def load_mapping(path: str | Path | None = None, onto: Ontology | None = None) -> list[MappingRow]:
    """Read and check the mapping table (``None``: the shipped, reviewed one)."""
    p = Path(path) if path is not None else resource_path("vggsound_to_audioset.tsv")
    if not p.is_file():
        raise DataError(f"{p}: mapping table not found")
    rows: list[MappingRow] = []
    seen = set()
    with open(p, newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != MAPPING_COLUMNS:
            raise DataError(f"{p}:1: header must be the tab-separated columns {MAPPING_COLUMNS}")
        for i, r in enumerate(reader, 2):
            if len(r) != len(MAPPING_COLUMNS):
                raise DataError(f"{p}:{i}: expected {len(MAPPING_COLUMNS)} tab-separated fields, got {len(r)}")
            cls, ids, _names, how, terms, note = r
            ids_t = tuple(x for x in ids.split(";") if x)
            if how not in HOW:
                raise DataError(f"{p}:{i}: how must be one of {HOW}, got {how!r}")
            if (how == "unmapped") != (not ids_t):
                raise DataError(f"{p}:{i}: {cls!r} is {how!r} but lists ids {ids!r}")
            if onto is not None:
                for x in ids_t:
                    if x not in onto:
                        raise DataError(f"{p}:{i}: {cls!r} maps to unknown ontology id {x!r}")
            if cls in seen:
                raise DataError(f"{p}:{i}: class {cls!r} listed twice")
            seen.add(cls)
            rows.append(MappingRow(cls, ids_t, how, tuple(t for t in terms.split("|") if t), note))
    return rows


class ExclusionRule:
    """Decides whether a clip's AudioSet labels overlap VGGSound's classes.

    ``blocked``: mapped nodes and all their descendants. ``ancestor_of``: proper ancestors of mapped
    nodes that are not themselves blocked. ``check(labels)`` returns ``None`` (keep) or a reason
    with the VGGSound class responsible.
    """

    def __init__(self, rows: list[MappingRow], onto: Ontology, exclude_ancestors: bool = True,
                 ancestor_rule: str = "unexplained"):
        if ancestor_rule not in ("unexplained", "any"):
            raise ConfigError(f"ancestor_rule must be 'unexplained' or 'any', got {ancestor_rule!r}")
        self.onto = onto
        self.exclude_ancestors = exclude_ancestors
        self.ancestor_rule = ancestor_rule
        self.blocked: dict[str, str] = {}  # ontology id -> VGGSound class that blocks it
        for r in rows:
            for i in r.audioset_ids:
                for d in sorted(onto.descendants([i])):
                    self.blocked.setdefault(d, r.vggsound_class)
        self.ancestor_of: dict[str, str] = {}
        for r in rows:
            for a in sorted(onto.ancestors(r.audioset_ids)):
                if a not in self.blocked:
                    self.ancestor_of.setdefault(a, r.vggsound_class)
        self._below = {a: onto.descendants([a], include_self=False) for a in self.ancestor_of}

    def check(self, labels: Iterable[str]) -> tuple[str, str] | None:
        """``None`` to keep, else ``(stage, vggsound_class)`` with stage ``class``/``ancestor``."""
        labels = list(labels)
        for x in labels:
            c = self.blocked.get(x)
            if c is not None:
                return "class", c
        if self.exclude_ancestors:
            for x in labels:
                c = self.ancestor_of.get(x)
                if c is None:
                    continue
                if self.ancestor_rule == "any":
                    return "ancestor", c
                below = self._below[x]
                if not any(y in below for y in labels):
                    return "ancestor", c
        return None
