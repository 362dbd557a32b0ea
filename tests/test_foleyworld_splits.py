"""FoleyWorld splits: the rule on a generated bank, the check that proves disjointness, and bad input."""

import json

import numpy as np
import pytest

from openfoley.cli import main
from openfoley.data.foleyworld.bank import load_bank
from openfoley.data.foleyworld.splits import (
    SPLITS,
    SplitRule,
    Splits,
    allowed_bits,
    check_splits,
    choose_open_classes,
    clusters,
    make_splits,
    near_pairs,
    parse_fingerprints,
)
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.data.soundbank.fingerprint import bit_error_rate
from openfoley.errors import DataError


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return load_bank(make_synth_bank(tmp_path_factory.mktemp("bank"), seed=3, clips_per_class=(2, 4), near_copies=6))


def test_near_pairs_exact_and_match_the_banks_ber():
    words = lambda *w: np.array(w, np.uint32)
    fps = [words(0, 0), words(0, 3), words(0, 15), words(2**32 - 1, 2**32 - 1), words(2**32 - 1, 2**32 - 16)]
    # bits apart: 0-1: 2, 1-2: 2, 0-2: 4, 3-4: 4 (BER = bits / 64: only shift 0 overlaps >= 80%)
    assert near_pairs(fps, 2 / 64).tolist() == [[0, 1], [1, 2]]
    assert clusters(near_pairs(fps, 2 / 64), 5).tolist() == [0, 0, 0, 3, 4]  # 0~1~2 chain into one
    assert clusters(near_pairs(fps, 4 / 64), 5).tolist() == [0, 0, 0, 3, 3]
    shifted = [np.arange(1, 41, dtype=np.uint32) * 2654435761, np.arange(3, 43, dtype=np.uint32) * 2654435761]
    assert near_pairs(shifted, 0.0).tolist() == [[0, 1]]  # the same words two hops later: BER 0 at d=2
    rng = np.random.default_rng(0)  # against the bank's reference implementation, pair by pair
    base = [rng.integers(0, 2**32, int(rng.integers(1, 30)), dtype=np.uint32) for _ in range(25)]
    fps = base + [b ^ (rng.random(len(b)) < 0.3).astype(np.uint32) * np.uint32(1 << 7) for b in base[:10]]
    fps += [np.concatenate([b[1:], b[:1]]) for b in base[10:15]]
    for thr in (0.05, 0.2, 0.45):
        got = {tuple(p) for p in near_pairs(fps, thr).tolist()}
        want = {(i, j) for i in range(len(fps)) for j in range(i + 1, len(fps))
                if abs(len(fps[i]) - len(fps[j])) <= max(6, int(0.1 * min(len(fps[i]), len(fps[j]))))
                and bit_error_rate(fps[i], fps[j]) <= thr}
        assert got == want, thr
    # the chance bound: one word (32 bits) may differ in 1 bit (P = 33 / 2^32 = 7.7e-9 <= 1e-8), not 2
    one = [words(0), words(1), words(3)]
    assert near_pairs(one, 0.25).tolist() == [[0, 1], [0, 2], [1, 2]]
    assert near_pairs(one, 0.25, chance=1e-8).tolist() == [[0, 1], [1, 2]]
    # 64 bits: P(<= 10) = 9.9e-9, P(<= 11) = 5.0e-8; from 4 words on the 0.25 bound is the tighter one
    assert allowed_bits(np.array([1, 2, 4, 40]), 0.25, 1e-8).tolist() == [1, 10, 32, 320]
    assert allowed_bits(np.array([1, 2, 40]), 0.25, None).tolist() == [8, 16, 320]
    assert parse_fingerprints(["0000000a0000000b"])[0].tolist() == [10, 11]
    with pytest.raises(DataError, match="whole number of 32-bit"):
        parse_fingerprints(["abc"])


def test_open_class_rule_properties():
    groups = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2"], "c": ["c1"], "d": ["d1", "d2", "d3"],
              "e": ["e1", "e2", "e3", "e4", "e5"]}
    for seed in range(6):
        og, of = choose_open_classes(groups, seed, SplitRule())
        held = {c for g in og for c in groups[g]} | set(of)
        assert len(held) >= 4  # ceil(0.25 * 15)
        assert og and of, "both whole groups and fine classes must be held out"
        for g, classes in groups.items():
            if g not in og:
                assert set(classes) - held, f"seen group {g} lost all its classes"
        assert not set(of) & {c for g in og for c in groups[g]}
    assert choose_open_classes(groups, 1, SplitRule()) == choose_open_classes(groups, 1, SplitRule())


def test_splits_pass_check_and_keep_promises(bank):
    s = make_splits(bank, seed=0)
    report = check_splits(bank, s)
    assert report.ok, report.problems
    sets = {k: set(v) for k, v in s.clips.items()}
    assert not (sets["train"] & sets["test-closed"]) and not (sets["train"] & sets["test-open"])
    assert all(sets[k] for k in SPLITS)
    cls = {k: {bank.clips[c].cls for c in v} for k, v in sets.items()}
    assert cls["test-closed"] <= cls["train"]
    assert not cls["test-open"] & (cls["train"] | cls["test-closed"])
    assert len(cls["test-open"]) >= 0.25 * len({c.cls for c in bank.clips.values()})
    assert s.open_groups and s.open_fine
    where = s.split_of()
    copies = [c for c in bank.clips if "-copy" in c]
    assert copies
    for c in copies:  # a near-copy sits with its original (or both were dropped)
        orig = c.split("-copy")[0]
        assert where.get(c) == where.get(orig)
    assert make_splits(bank, seed=0).to_dict() == s.to_dict()
    assert make_splits(bank, seed=1).to_dict() != s.to_dict()


def test_check_catches_every_kind_of_leak(bank):
    s = make_splits(bank, seed=0)
    base = s.to_dict()

    def tampered(fn):
        d = json.loads(json.dumps(base))
        fn(d["clips"])
        return check_splits(bank, Splits.from_dict(d))

    r = tampered(lambda c: c["test-closed"].append(c["train"][0]))
    assert any("in both train and test-closed" in p for p in r.problems)
    copy = next(c for c in bank.clips if "-copy" in c and c in s.split_of())
    orig, split = copy.split("-copy")[0], s.split_of()[copy]
    other = "test-closed" if split == "train" else "train"

    def move(c):
        c[split].remove(orig)
        c[other].append(orig)

    r = tampered(move)
    assert any("near-duplicate pair" in p for p in r.problems), r.problems
    twin = next(c for c in bank.clips if c.endswith("-event1"))  # cut from one recording with "-event0"
    split = s.split_of()[twin]
    assert s.split_of()[twin.replace("-event1", "-event0")] == split
    other = "test-closed" if split == "train" else "train"

    def separate(c):
        c[split].remove(twin)
        c[other].append(twin)

    r = tampered(separate)
    assert any("recording(s) cut into events" in p for p in r.problems), r.problems
    r = tampered(lambda c: c["train"].append(c["test-open"].pop()))
    assert any("test-open class" in p for p in r.problems)
    assert "FAIL" in r.format()


def test_cli_splits_writes_checks_and_fails_on_tamper(bank, tmp_path, capsys):
    out = tmp_path / "s.json"
    md = tmp_path / "s.md"
    assert main(["data", "splits", "--bank", str(bank.root), "--out", str(out), "--markdown", str(md)]) == 0
    text = capsys.readouterr().out
    assert "PASS" in text and "test-open" in text
    assert "| synthetic |" in md.read_text() and "### test-open" in md.read_text()
    d = json.loads(out.read_text())
    d["clips"]["test-closed"].append(d["clips"]["train"][0])
    out.write_text(json.dumps(d))
    assert main(["data", "splits", "--bank", str(bank.root), "--check", str(out)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["data", "splits", "--bank", str(bank.root), "--out", str(out)]) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err


def test_bad_bank_inputs(tmp_path, capsys):
    with pytest.raises(DataError, match="sound bank folder not found"):
        load_bank(tmp_path / "nope")
    (tmp_path / "b").mkdir()
    with pytest.raises(DataError, match="manifest not found"):
        load_bank(tmp_path / "b")
    (tmp_path / "b" / "manifest.jsonl").write_text('{"id": "x", "class": "c"}\n')
    with pytest.raises(DataError, match=r"manifest.jsonl:1: missing field"):
        load_bank(tmp_path / "b")
    assert main(["data", "splits", "--bank", str(tmp_path / "nope"), "--out", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sound bank folder not found" in err
