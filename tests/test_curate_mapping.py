"""The shipped ontology, the reviewed VGGSound -> AudioSet table, and the label exclusion rule."""

import collections
import csv

import pytest

from openfoley.data.curate.classmap import ExclusionRule, load_mapping, load_vggsound_classes, normalise, propose
from openfoley.data.curate.ontology import Ontology, resource_path
from openfoley.errors import DataError


@pytest.fixture(scope="module")
def onto():
    return Ontology.load()


@pytest.fixture(scope="module")
def rows(onto):
    return load_mapping(None, onto)


def test_ontology_closures(onto):
    assert len(onto) == 632
    dog = onto.by_name("Dog")
    assert onto.descendants([dog]) == {dog} | {onto.by_name(n) for n in (
        "Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)", "Bay")}
    # Growling has four parents; its ancestors follow every path to the root.
    anc = {onto.name(i) for i in onto.ancestors([onto.by_name("Growling")])}
    assert anc == {"Dog", "Cat", "Roaring cats (lions, tigers)", "Canidae, dogs, wolves",
                   "Domestic animals, pets", "Wild animals", "Animal"}
    assert onto.depth(onto.by_name("Animal")) == 0 and onto.depth(dog) == 2
    with pytest.raises(DataError, match="unknown ontology id"):
        onto.descendants(["/m/nope"])


def test_table_covers_every_class_once(onto, rows):
    classes = [c for c, _ in load_vggsound_classes()]
    assert len(classes) == 309
    assert [r.vggsound_class for r in rows] == classes
    counts = collections.Counter(r.how for r in rows)
    # The figures quoted in docs/open-set-benchmark.md.
    assert counts == {"exact": 30, "normalised": 82, "synonym": 101, "manual": 44, "unmapped": 52}
    for r in rows:
        assert r.caption_terms, f"{r.vggsound_class} has no caption terms"
        assert (r.how == "unmapped") == (not r.audioset_ids)
        assert r.how not in ("manual", "unmapped") or r.note, f"{r.vggsound_class}: manual rows need a note"


def test_automatic_rows_are_reproducible(onto, rows):
    """Every exact/normalised row is what ``propose`` computes; a manual row overriding an automatic
    proposal says why in its note."""
    auto = propose([r.vggsound_class for r in rows], onto)
    for r in rows:
        if r.how in ("exact", "normalised"):
            assert auto[r.vggsound_class] == (r.how, r.audioset_ids), r.vggsound_class
        elif r.vggsound_class in auto:
            assert r.how == "manual" and "override" in r.note, r.vggsound_class
    assert normalise("playing Electric Guitar") == normalise("Electric guitar") == ("electric", "guitar")


def test_classes_common_with_audioset_are_all_mapped(rows):
    """VGGSound's own list of classes shared with AudioSet: none of them may be unmapped."""
    common = {ln.strip() for ln in open(resource_path("vggsound_common_with_audioset.txt")) if ln.strip()}
    assert len(common) == 164
    by = {r.vggsound_class: r for r in rows}
    assert not [c for c in common if by[c].how == "unmapped"]


def test_bad_table_is_rejected(tmp_path, onto):
    p = tmp_path / "m.tsv"
    head = "vggsound_class\taudioset_ids\taudioset_names\thow\tcaption_terms\tnote\n"
    p.write_text(head + "dog barking\t/m/nope\tx\tsynonym\tdog\t\n")
    with pytest.raises(DataError, match=r"m.tsv:2: .*unknown ontology id"):
        load_mapping(p, onto)
    p.write_text(head + "dog barking\t\t\tguess\tdog\t\n")
    with pytest.raises(DataError, match="how must be"):
        load_mapping(p, onto)
    p.write_text("class\tids\n")
    with pytest.raises(DataError, match=":1: header"):
        load_mapping(p, onto)


def _ids(onto, *names):
    return [onto.by_name(n) for n in names]


def test_exclusion_rule_on_the_real_ontology(onto, rows):
    rule = ExclusionRule(rows, onto)
    # The class's own node ("dog barking" -> Bark), and a descendant of a mapped node (Rimshot lies
    # under Snare drum, under Drum, which "playing bongo" maps).
    assert rule.check(_ids(onto, "Bark")) == ("class", "dog barking")
    assert rule.check(_ids(onto, "Rimshot"))[0] == "class"
    # An ancestor with no finer label below it: "Dog" alone might be any dog class.
    assert rule.check(_ids(onto, "Dog"))[0] == "ancestor"
    assert rule.check(_ids(onto, "Music"))[0] == "ancestor"
    # An ancestor explained by an unmapped finer label is kept: Bird + Gull, Music + Pop music.
    assert rule.check(_ids(onto, "Bird", "Gull, seagull")) is None
    assert rule.check(_ids(onto, "Music", "Pop music")) is None
    # Unrelated classes are kept.
    assert rule.check(_ids(onto, "Sawing", "Jackhammer")) is None
    assert rule.check(_ids(onto, "Silence")) is None
    # Switching the ancestor rule off keeps the bare ancestor; "any" removes even explained ones.
    off = ExclusionRule(rows, onto, exclude_ancestors=False)
    assert off.check(_ids(onto, "Dog")) is None and off.check(_ids(onto, "Bark"))[0] == "class"
    anyr = ExclusionRule(rows, onto, ancestor_rule="any")
    assert anyr.check(_ids(onto, "Music", "Pop music"))[0] == "ancestor"


def test_every_mapped_node_blocks_its_subtree(onto, rows):
    rule = ExclusionRule(rows, onto)
    mapped = {i for r in rows for i in r.audioset_ids}
    blocked = onto.descendants(mapped)
    assert set(rule.blocked) == blocked
    assert not set(rule.ancestor_of) & blocked
    assert set(rule.ancestor_of) == onto.ancestors(mapped) - blocked


def test_shipped_class_list_matches_shared_metadata():
    rows = list(csv.reader(open(resource_path("vggsound_classes.csv"))))
    assert len(rows) == 309 and all(len(r) == 3 for r in rows)
