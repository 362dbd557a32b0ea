"""FoleyWorld splits: ``train``, ``test-closed`` and ``test-open``, and the check that proves them disjoint.

The rule (deterministic given the bank and ``seed``; ``SplitRule`` holds its numbers):

1. Near-duplicates first. Fingerprints (one 32-bit word per 16 ms hop, variable length; see
   docs/sound-bank.md) are compared as the bank compares them: the bit error rate (BER), minimised over
   shifts of up to 4 words, over overlaps of at least 80% of the shorter one, between clips whose
   lengths differ by at most max(6 words, 10%). Clips within ``near_ber`` are linked if the differing
   bits are also improbable for unrelated sounds (``chance``: P(Binomial(32 x overlap, 1/2) <= bits)
   <= 1e-8; this binds only for fingerprints of a few words, where 0.25 links unrelated clips by
   chance: on the real bank all 74 cross-class links at 0.25 without it had 1-3 words), and linked clips
   form clusters (union-find, so chains join too), and so do events cut from one recording (same
   ``package`` and ``path``). A cluster is never divided between splits. The
   default 0.25 is looser than the bank's own de-duplication (0.15): measured copies sit at 0.03-0.15,
   distinct samples of one drum at 0.29 and above, unrelated sounds at 0.45.
2. Open classes. ``T = ceil(open_fraction * classes)``. Whole groups are held out first: groups are
   visited in a seeded order and a group is held out while the held-out count stays within
   ``ceil(open_group_share * T)`` and at least ``min_seen_groups`` groups stay seen (if no group fits,
   the smallest one is held out). Then fine classes inside seen groups are held out, round-robin over
   the seen groups with two or more classes (classes in a seeded order, never a group's last seen
   class), until at least ``T`` classes are held out and at least one of them is a fine class.
3. A cluster whose clips are all open classes goes to ``test-open``. A cluster mixing open and seen
   classes is dropped (listed in ``dropped``): keeping it anywhere would leak a sound across the line.
4. Seen clusters: each belongs to its most common class. Per class, in a seeded order, the first
   ``round(closed_fraction * n)`` of its ``n`` clusters go to ``test-closed`` (at least one, and never
   all, when ``n >= 2``; none when ``n == 1``); the rest go to ``train``. A class that would then appear
   in ``test-closed`` but not in ``train`` has its test-closed clusters moved back to ``train``.

``check_splits`` proves the result without trusting steps 1-4: no clip id and no recording
(package + path) in two splits, no pair of
clips in different splits within ``near_ber`` (every candidate pair compared), no test-open class in train or
test-closed, every test-closed class seen in train, and at least ``open_fraction`` of classes open.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openfoley.data.foleyworld.bank import Bank
from openfoley.errors import DataError
from openfoley.io.atomic import atomic_output

SPLITS = ("train", "test-closed", "test-open")


@dataclass(frozen=True)
class SplitRule:
    """Numbers of the split rule (see the module docstring)."""

    open_fraction: float = 0.25  # at least this share of all classes is never seen in training
    open_group_share: float = 0.5  # share of the open target filled by whole held-out groups
    closed_fraction: float = 0.2  # share of each seen class's clusters held out to test-closed
    min_seen_groups: int = 2
    near_ber: float = 0.25  # bit error rate at or below which two clips count as near-duplicates
    chance: float = 1e-8  # ... and only if unrelated fingerprints would agree that well with this chance


@dataclass
class Splits:
    """A split assignment of bank clip ids, with the choices that produced it."""

    seed: int
    rule: SplitRule
    clips: dict[str, list[str]]  # split -> sorted bank clip ids
    open_groups: list[str]
    open_fine: list[str]
    dropped: list[str] = field(default_factory=list)
    bank_signature: str = ""
    open_group_classes: list[str] = field(default_factory=list)

    @property
    def open_classes(self) -> list[str]:
        return sorted(set(self.open_fine) | set(self.open_group_classes))

    def split_of(self) -> dict[str, str]:
        return {cid: s for s, ids in self.clips.items() for cid in ids}

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "rule": asdict(self.rule),
                "bank_signature": self.bank_signature, "open_groups": self.open_groups,
                "open_group_classes": self.open_group_classes, "open_fine": self.open_fine,
                "dropped": self.dropped, "clips": self.clips}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "splits") -> Splits:
        try:
            s = cls(seed=int(d["seed"]), rule=SplitRule(**d["rule"]),
                    clips={k: list(v) for k, v in d["clips"].items()}, open_groups=list(d["open_groups"]),
                    open_fine=list(d["open_fine"]), dropped=list(d.get("dropped", [])),
                    bank_signature=str(d.get("bank_signature", "")),
                    open_group_classes=list(d.get("open_group_classes", [])))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: not a FoleyWorld splits file ({e!r})") from None
        unknown = set(s.clips) - set(SPLITS)
        if unknown:
            raise DataError(f"{where}: unknown split name(s) {sorted(unknown)}")
        return s

    def save(self, path: str | Path, force: bool = True) -> None:
        with atomic_output(path, force=force) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Splits:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: splits file not found")
        try:
            return cls.from_dict(json.loads(p.read_text()), str(p))
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: not valid JSON ({e.msg})") from None


def bank_signature(bank: Bank) -> str:
    """A short hash of the bank's clip ids, classes and fingerprints: splits name the bank they fit."""
    h = hashlib.sha256()
    for c in bank.clips.values():
        h.update(f"{c.id}\t{c.cls}\t{c.fingerprint}\n".encode())
    return h.hexdigest()[:16]


# --- fingerprints ------------------------------------------------------------------------------------
MAX_SHIFT = 4  # words
MIN_OVERLAP = 0.8  # of the shorter fingerprint


def parse_fingerprints(hexes: list[str], where: str = "bank") -> list[np.ndarray]:
    """Hex fingerprints (big-endian 32-bit words) -> list of (n,) uint32 arrays."""
    out = []
    for h in hexes:
        if not h or len(h) % 8:
            raise DataError(f"{where}: fingerprint {h[:16]!r} is not a whole number of 32-bit hex words")
        try:
            out.append(np.frombuffer(bytes.fromhex(h), dtype=">u4").astype(np.uint32))
        except ValueError:
            raise DataError(f"{where}: fingerprint {h[:16]!r} is not a hex string") from None
    return out


def allowed_bits(words: np.ndarray, max_ber: float, chance: float | None) -> np.ndarray:
    """Most differing bits a link may have over ``words`` compared words: floor(max_ber * 32 * words),
    and, with ``chance``, at most the k for which P(Binomial(32 * words, 1/2) <= k) <= chance."""
    from scipy.special import bdtr  # binomial CDF

    bits = 32 * np.asarray(words, np.int64)
    k = np.floor(max_ber * bits + 1e-9).astype(np.int64)
    if chance is None:
        return k
    for i in range(len(k)):  # few distinct lengths; walk down until the chance bound holds
        while k[i] >= 0 and bdtr(k[i], bits[i], 0.5) > chance:
            k[i] -= 1
    return k


def near_pairs(fps: list[np.ndarray], max_ber: float, chance: float | None = None) -> np.ndarray:
    """All pairs (i, j), i < j, whose bit error rate is <= ``max_ber``, as an (P, 2) int array.

    BER(a, b) = min over shifts |d| <= 4 of differing bits / (32 * overlap), counting shifts whose
    overlap is >= 80% of the shorter fingerprint; only pairs whose lengths differ by <= max(6, 10% of
    the shorter) are candidates. With ``chance``, a shift counts only if its differing bits are also
    within ``allowed_bits`` (improbable for unrelated sounds). Vectorised: clips sorted by length, each
    compared at once with the longer candidates in its length window.
    """
    n = len(fps)
    if n < 2:
        return np.zeros((0, 2), int)
    lengths = np.array([len(f) for f in fps])
    limit = allowed_bits(np.arange(lengths.max() + 1), max_ber, chance)  # by overlap in words
    order = np.argsort(lengths, kind="stable")
    sl = lengths[order]
    table = np.zeros((n, sl[-1] + MAX_SHIFT), np.uint32)  # rows in sorted order, zero-padded
    for r, i in enumerate(order):
        table[r, :lengths[i]] = fps[i]
    out = []
    for r in range(n - 1):
        li = int(sl[r])
        hi = int(np.searchsorted(sl, li + max(6, int(0.1 * li)), side="right"))
        if hi <= r + 1:
            continue
        a, cand, lj = table[r], table[r + 1:hi], sl[r + 1:hi]
        linked = np.zeros(len(cand), bool)
        for d in range(-MAX_SHIFT, MAX_SHIFT + 1):
            da, db = max(d, 0), max(-d, 0)
            width = li - da
            overlap = np.minimum(width, lj - db)  # words compared for each candidate
            ok = (overlap >= 1) & (overlap >= MIN_OVERLAP * li)
            if width < 1 or not ok.any():
                continue
            bits = np.cumsum(np.bitwise_count(a[da:da + width][None, :] ^ cand[:, db:db + width]), axis=1)
            cnt = bits[np.arange(len(cand)), np.clip(overlap - 1, 0, width - 1)]
            linked |= ok & (cnt <= limit[np.clip(overlap, 0, len(limit) - 1)])
        for k in np.nonzero(linked)[0]:
            i, j = int(order[r]), int(order[r + 1 + k])
            out.append((min(i, j), max(i, j)))
    return np.array(sorted(out), int).reshape(-1, 2)


def same_recording_pairs(bank: Bank, ids: list[str]) -> np.ndarray:
    """Pairs (i, j) of clips cut from one recording (same package and path): a chain per recording."""
    first: dict[tuple[str, str], int] = {}
    out = []
    for i, c in enumerate(ids):
        key = (bank.clips[c].package, bank.clips[c].path)
        if key in first:
            out.append((first[key], i))
        else:
            first[key] = i
    return np.array(out, int).reshape(-1, 2)


def clusters(pairs: np.ndarray, n: int) -> np.ndarray:
    """Union-find cluster label per item 0..n-1 given linked ``pairs``; label = smallest member index."""
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])


# --- the rule -------------------------------------------------------------------------------------------
def _order(items: list[str], seed: int, salt: str) -> list[str]:
    """A seeded permutation of sorted ``items`` that does not depend on anything else."""
    s = sorted(items)
    rng = np.random.default_rng([seed, int(hashlib.sha256(salt.encode()).hexdigest()[:8], 16)])
    return [s[i] for i in rng.permutation(len(s))]


def choose_open_classes(groups: dict[str, list[str]], seed: int, rule: SplitRule) -> tuple[list[str], list[str]]:
    """Step 2 of the rule: (held-out whole groups, held-out fine classes inside seen groups)."""
    n_classes = sum(len(v) for v in groups.values())
    target = math.ceil(rule.open_fraction * n_classes)
    group_budget = math.ceil(rule.open_group_share * target)
    open_groups: list[str] = []
    held = 0
    order = _order(list(groups), seed, "groups")
    for g in order:
        if held + len(groups[g]) <= group_budget and len(groups) - len(open_groups) - 1 >= rule.min_seen_groups:
            open_groups.append(g)
            held += len(groups[g])
    if not open_groups and len(groups) - 1 >= rule.min_seen_groups:
        g = min(order, key=lambda g: (len(groups[g]), order.index(g)))
        open_groups.append(g)
        held += len(groups[g])
    seen_groups = [g for g in order if g not in open_groups]
    queues = {g: _order(groups[g], seed, f"fine:{g}") for g in seen_groups if len(groups[g]) >= 2}
    left = {g: len(groups[g]) for g in seen_groups}
    open_fine: list[str] = []
    while (held < target or not open_fine) and any(left[g] > 1 for g in queues):
        for g in queues:
            if (held >= target and open_fine) or left[g] <= 1:
                continue
            open_fine.append(queues[g].pop(0))
            left[g] -= 1
            held += 1
    return sorted(open_groups), sorted(open_fine)


def make_splits(bank: Bank, seed: int = 0, rule: SplitRule = SplitRule()) -> Splits:
    """Apply the split rule (module docstring) to ``bank``."""
    ids = list(bank.clips)
    fps = parse_fingerprints([bank.clips[i].fingerprint for i in ids], str(bank.root))
    pairs = near_pairs(fps, rule.near_ber, rule.chance)
    label = clusters(np.concatenate([pairs, same_recording_pairs(bank, ids)]), len(ids))
    groups: dict[str, list[str]] = {}
    for cls in sorted({c.cls for c in bank.clips.values()}):
        groups.setdefault(bank.class_group(cls), []).append(cls)
    open_groups, open_fine = choose_open_classes(groups, seed, rule)
    open_group_classes = sorted(c for g in open_groups for c in groups[g])
    open_set = set(open_fine) | set(open_group_classes)

    members: dict[int, list[str]] = {}
    for i, lab in enumerate(label):
        members.setdefault(int(lab), []).append(ids[i])
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    dropped: list[str] = []
    seen_clusters: dict[str, list[int]] = {}  # primary class -> cluster labels
    for lab, mem in members.items():
        is_open = [bank.clips[c].cls in open_set for c in mem]
        if all(is_open):
            out["test-open"].extend(mem)
        elif any(is_open):
            dropped.extend(mem)
        else:
            counts: dict[str, int] = {}
            for c in mem:
                counts[bank.clips[c].cls] = counts.get(bank.clips[c].cls, 0) + 1
            primary = min(counts, key=lambda k: (-counts[k], k))
            seen_clusters.setdefault(primary, []).append(lab)
    closed: set[int] = set()
    for cls, labs in sorted(seen_clusters.items()):
        labs = [int(x) for x in _order([str(x) for x in labs], seed, f"closed:{cls}")]
        n = len(labs)
        k = 0 if n < 2 else min(n - 1, max(1, round(rule.closed_fraction * n)))
        closed.update(labs[:k])
    while True:  # a class only in test-closed (through a shared cluster) moves back to train
        train_cls = {bank.clips[c].cls for lab, mem in members.items() if lab not in closed
                     and not any(bank.clips[x].cls in open_set for x in mem) for c in mem}
        bad = {lab for lab in closed if any(bank.clips[c].cls not in train_cls for c in members[lab])}
        if not bad:
            break
        closed -= bad
    for labs in seen_clusters.values():
        for lab in labs:
            out["test-closed" if lab in closed else "train"].extend(members[lab])
    return Splits(seed=seed, rule=rule, clips={s: sorted(v) for s, v in out.items()},
                  open_groups=open_groups, open_fine=open_fine, dropped=sorted(dropped),
                  bank_signature=bank_signature(bank), open_group_classes=open_group_classes)


# --- the check ---------------------------------------------------------------------------------------------
@dataclass
class SplitReport:
    """Result of ``check_splits``: ``ok`` iff ``problems`` is empty; ``stats`` per split."""

    problems: list[str]
    stats: dict[str, dict[str, Any]]
    classes: dict[str, list[str]]
    near_ber: float
    n_classes: int
    open_fraction: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"near-duplicate threshold: bit error rate <= {self.near_ber}; "
                 f"{self.n_classes} classes, {self.open_fraction:.0%} open"]
        for s in SPLITS:
            st = self.stats[s]
            lines.append(f"{s:12s} {st['clips']:6d} clips  {st['classes']:4d} classes  "
                         f"{st['groups']:3d} groups  {st['hours']:.3f} h")
        lines += [f"FAIL {p}" for p in self.problems] or ["PASS no shared clip, no cross-split "
                                                            "near-duplicate, no open class seen in training"]
        return "\n".join(lines)


def check_splits(bank: Bank, splits: Splits, near_ber: float | None = None) -> SplitReport:
    """Prove the splits' promises from the bank's rows alone (see the module docstring)."""
    near = splits.rule.near_ber if near_ber is None else near_ber
    problems: list[str] = []
    unknown = sorted({c for ids in splits.clips.values() for c in ids} - set(bank.clips))
    if unknown:
        problems.append(f"{len(unknown)} clip id(s) not in the bank, e.g. {unknown[0]}")
    sets = {s: set(splits.clips.get(s, [])) & set(bank.clips) for s in SPLITS}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            shared = sets[a] & sets[b]
            if shared:
                problems.append(f"{len(shared)} clip(s) in both {a} and {b}, e.g. {min(shared)}")
    recordings: dict[tuple[str, str], set[str]] = {}
    for s in SPLITS:
        for c in sets[s]:
            recordings.setdefault((bank.clips[c].package, bank.clips[c].path), set()).add(s)
    split_rec = sorted(k for k, v in recordings.items() if len(v) > 1)
    if split_rec:
        problems.append(f"{len(split_rec)} recording(s) cut into events that sit in different splits, "
                        f"e.g. {split_rec[0][0]}:{split_rec[0][1]}")
    where = {c: s for s in SPLITS for c in sorted(sets[s])}
    ids = list(where)
    pairs = near_pairs(parse_fingerprints([bank.clips[c].fingerprint for c in ids]), near, splits.rule.chance)
    crossing: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for i, j in pairs:
        a, b = where[ids[i]], where[ids[j]]
        if a != b:
            lo, hi = sorted((a, b), key=SPLITS.index)
            key = (lo, hi)
            crossing.setdefault(key, []).append((ids[i], ids[j]))
    for (a, b), found in sorted(crossing.items()):
        problems.append(f"{len(found)} near-duplicate pair(s) across {a} and {b}, e.g. {found[0][0]} ~ {found[0][1]}")
    classes = {s: sorted({bank.clips[c].cls for c in sets[s]}) for s in SPLITS}
    leaked = set(classes["test-open"]) & (set(classes["train"]) | set(classes["test-closed"]))
    if leaked:
        problems.append(f"{len(leaked)} test-open class(es) also in train/test-closed, e.g. {min(leaked)}")
    unseen = set(classes["test-closed"]) - set(classes["train"])
    if unseen:
        problems.append(f"{len(unseen)} test-closed class(es) never in train, e.g. {min(unseen)}")
    n_classes = len({c.cls for c in bank.clips.values()})
    frac = len(classes["test-open"]) / max(1, n_classes)
    if frac < splits.rule.open_fraction:
        problems.append(f"only {len(classes['test-open'])}/{n_classes} classes are open "
                        f"(< {splits.rule.open_fraction:.0%}); the bank has too few classes or groups")
    stats = {s: {"clips": len(sets[s]), "classes": len(classes[s]),
                 "groups": len({bank.clips[c].group for c in sets[s]}),
                 "hours": sum(bank.clips[c].duration for c in sets[s]) / 3600} for s in SPLITS}
    return SplitReport(problems=problems, stats=stats, classes=classes, near_ber=near,
                       n_classes=n_classes, open_fraction=frac)
