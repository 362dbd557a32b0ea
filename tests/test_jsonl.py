"""``openfoley.io.iter_jsonl``: the one JSON-lines reader (manifests, shard indexes, resume logs)."""

import pytest

from openfoley.errors import DataError
from openfoley.io import iter_jsonl


def test_values_with_their_line_numbers(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"id": 1}\n\n  \n[2, 3]\n"x"\n')
    assert list(iter_jsonl(p)) == [(1, {"id": 1}), (4, [2, 3]), (5, "x")]


def test_bad_line_is_an_error_naming_path_and_line_or_is_skipped(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"id": 1}\n{"id": 2}\n{"id": ')  # the last line cut by an interruption
    with pytest.raises(DataError, match=r"log\.jsonl:3: not valid JSON"):
        list(iter_jsonl(p))
    assert [v["id"] for _, v in iter_jsonl(p, skip_bad=True)] == [1, 2]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.jsonl: not found"):
        list(iter_jsonl(tmp_path / "nope.jsonl"))
