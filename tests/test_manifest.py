"""Manifest round trip and bad input."""

import pytest

from openfoley.data.manifest import ClipRecord, read_manifest, write_manifest
from openfoley.errors import DataError


def test_round_trip(tmp_path):
    recs = [ClipRecord(id="a", path="a.mp4", label="dog", extra={"events": [{"t": 1.5}]}),
            ClipRecord(id="b", path="/abs/b.mp4", start=2.0, duration=8.0)]
    m = tmp_path / "m.jsonl"
    assert write_manifest(m, recs) == 2
    assert read_manifest(m) == recs
    assert recs[0].resolve(tmp_path) == tmp_path / "a.mp4"
    assert str(recs[1].resolve(tmp_path)) == "/abs/b.mp4"


def test_bad_manifest(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "a", "path": "x"}\n{oops\n')
    with pytest.raises(DataError, match=r"m.jsonl:2: not valid JSON"):
        read_manifest(m)
    m.write_text('{"id": "a"}\n')
    with pytest.raises(DataError, match="missing field"):
        read_manifest(m)
    with pytest.raises(DataError, match="not found"):
        read_manifest(tmp_path / "none.jsonl")
