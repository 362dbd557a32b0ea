"""Panda-70M metadata rows and the caption rule that removes clips overlapping VGGSound's classes.

Panda-70M publishes one CSV row per video (``videoID,url,timestamp,caption[,matching_score]``) whose
``timestamp`` is a Python-literal list of ``['H:MM:SS.mmm', 'H:MM:SS.mmm']`` pairs and ``caption`` a
list of strings, one per clip. A flat variant (one pair and one string per row) is also read.

Captions carry no labels, so ``CaptionMatcher`` matches them against each VGGSound class's terms (the
``caption_terms`` column of the mapping table). The rule (docs/open-set-benchmark.md):
  - caption and terms are split into lowercase word tokens (letters/digits), so matches are on word
    boundaries ("cat" never matches "catch" or "cattle");
  - every term word also matches its plural ("guitar" ~ "guitars", "wolf" ~ "wolves", irregular
    "mouse" ~ "mice"); a word written with a trailing ``~`` also matches its verb forms
    ("bark~" ~ "barks", "barking", "barked");
  - consecutive term words may be separated by up to ``MAX_GAP`` function words ("dog bark~" matches
    "a dog is barking", "dogs barking"; "bark~ dog" matches "a barking dog").
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from openfoley.data.curate.audioset import RowError

MAX_GAP = 2
GAP_WORDS = frozenset(
    "a an the is are was were be being been has have his her their its my our your this that these "
    "those some two three several of loudly very also still continuously".split()
)
IRREGULAR = {"man": "men", "woman": "women", "child": "children", "person": "people", "mouse": "mice",
             "goose": "geese", "foot": "feet", "tooth": "teeth", "ox": "oxen", "calf": "calves"}
_VOWELS = set("aeiou")
_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """Lowercase word tokens (unicode letters and digits); everything else separates words."""
    return _TOKEN.findall(text.lower())


def noun_forms(w: str) -> set[str]:
    """``w`` and its plural(s)."""
    out = {w, w + "s"}
    if w.endswith(("s", "x", "z", "ch", "sh", "o")):
        out.add(w + "es")
    if len(w) > 1 and w.endswith("y") and w[-2] not in _VOWELS:
        out.add(w[:-1] + "ies")
    if w.endswith("f"):
        out.add(w[:-1] + "ves")
    if w.endswith("fe"):
        out.add(w[:-2] + "ves")
    if w in IRREGULAR:
        out.add(IRREGULAR[w])
    return out


def verb_forms(r: str) -> set[str]:
    """A verb root and its -s, -ing, -ed forms (silent e, y -> ie, final consonant doubling)."""
    out = noun_forms(r)
    if r.endswith("e") and not r.endswith("ee"):
        out |= {r[:-1] + "ing", r + "d"}
    elif len(r) > 1 and r.endswith("y") and r[-2] not in _VOWELS:
        out |= {r + "ing", r[:-1] + "ied"}
    else:
        out |= {r + "ing", r + "ed"}
    if len(r) >= 3 and r[-1] not in _VOWELS | set("wxy") and r[-2] in _VOWELS and r[-3] not in _VOWELS:
        out |= {r + r[-1] + "ing", r + r[-1] + "ed"}  # clap -> clapping, yodel -> yodelling
    return out


def compile_term(term: str) -> tuple[frozenset[str], ...]:
    """A term -> one set of accepted word forms per token (see the module docstring)."""
    out: list[frozenset[str]] = []
    for word in term.split():
        verb = word.endswith("~")
        toks = tokens(word.rstrip("~"))
        for i, t in enumerate(toks):
            last = i == len(toks) - 1
            out.append(frozenset(verb_forms(t) if verb and last else noun_forms(t)))
    if not out:
        raise ValueError(f"empty caption term {term!r}")
    return tuple(out)


class CaptionMatcher:
    """Finds VGGSound classes mentioned in a caption: ``match(caption) -> class | None``."""

    def __init__(self, terms: Mapping[str, Iterable[str]]):
        self._index: dict[str, list[tuple[tuple[frozenset[str], ...], str, str]]] = {}
        for cls, ts in terms.items():
            for t in ts:
                compiled = compile_term(t)
                for form in compiled[0]:
                    self._index.setdefault(form, []).append((compiled, cls, t))

    def _at(self, words: list[str], i: int, pattern: tuple[frozenset[str], ...]) -> bool:
        j = i + 1
        for forms in pattern[1:]:
            gap = 0
            while j < len(words) and words[j] not in forms and words[j] in GAP_WORDS and gap < MAX_GAP:
                j += 1
                gap += 1
            if j >= len(words) or words[j] not in forms:
                return False
            j += 1
        return True

    def find(self, caption: str) -> list[tuple[str, str]]:
        """Every ``(class, term)`` that matches, in caption order."""
        words = tokens(caption)
        hits = []
        for i, w in enumerate(words):
            for pattern, cls, term in self._index.get(w, ()):
                if self._at(words, i, pattern):
                    hits.append((cls, term))
        return hits

    def match(self, caption: str) -> str | None:
        """The first class mentioned, or ``None``."""
        words = tokens(caption)
        for i, w in enumerate(words):
            for pattern, cls, _ in self._index.get(w, ()):
                if self._at(words, i, pattern):
                    return cls
        return None


@dataclass(frozen=True)
class PandaClip:
    video_id: str
    index: int  # clip number within the video
    start: float  # seconds
    end: float
    caption: str

    @property
    def clip_id(self) -> str:
        return f"{self.video_id}_{self.index:03d}"


def parse_timestamp(s: str) -> float:
    """``'H:MM:SS.mmm'`` (or plain seconds) -> seconds."""
    try:
        parts = [float(x) for x in str(s).strip().split(":")]
    except ValueError:
        raise RowError(f"bad timestamp {s!r}") from None
    if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts):
        raise RowError(f"bad timestamp {s!r}")
    sec = 0.0
    for p in parts:
        sec = sec * 60 + p
    return sec


def _literal(text: str, what: str):
    t = text.strip()
    if not t.startswith("["):
        return t
    try:
        return ast.literal_eval(t)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise RowError(f"{what} is not a valid list literal") from None


class PandaHeader:
    """Column positions from a Panda-70M header line (``videoID``, ``timestamp``, ``caption``)."""

    def __init__(self, text: str):
        cols = [c.strip() for c in next(csv.reader([text]))]
        missing = [c for c in ("videoID", "timestamp", "caption") if c not in cols]
        if missing:
            raise RowError(f"header lacks column(s) {missing}; got {cols}")
        self.n = len(cols)
        self.video = cols.index("videoID")
        self.timestamp = cols.index("timestamp")
        self.caption = cols.index("caption")


def parse_panda(text: str, header: PandaHeader) -> list[PandaClip]:
    """One Panda-70M row -> its clips (``RowError`` if malformed)."""
    if "\ufffd" in text:
        raise RowError("not valid UTF-8")
    try:
        row = next(csv.reader([text], strict=True))
    except csv.Error as e:
        raise RowError(f"CSV syntax ({e})") from None
    if len(row) != header.n:
        raise RowError(f"expected {header.n} fields, got {len(row)}")
    vid = row[header.video].strip()
    if not vid:
        raise RowError("empty videoID")
    stamps = _literal(row[header.timestamp], "timestamp")
    caps = _literal(row[header.caption], "caption")
    if isinstance(caps, str):  # flat variant: one clip per row
        caps = [caps]
        stamps = [stamps]
    if not isinstance(stamps, list) or not isinstance(caps, list) or len(stamps) != len(caps):
        raise RowError("timestamp and caption lists differ in length")
    clips = []
    for k, (ts, cap) in enumerate(zip(stamps, caps, strict=True)):
        if not (isinstance(ts, (list, tuple)) and len(ts) == 2 and isinstance(cap, str)):
            raise RowError(f"clip {k}: expected a [start, end] pair and a caption string")
        start, end = parse_timestamp(ts[0]), parse_timestamp(ts[1])
        if end <= start:
            raise RowError(f"clip {k}: end {ts[1]!r} is not after start {ts[0]!r}")
        clips.append(PandaClip(vid, k, start, end, cap))
    return clips
