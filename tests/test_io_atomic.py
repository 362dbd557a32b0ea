"""atomic_output: the target appears whole or not at all, and bad output paths are refused up front."""

import os

import pytest

from openfoley.errors import OutputError
from openfoley.io import atomic_output


def test_success_moves_temp_into_place(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp != target
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done" and os.listdir(tmp_path) == ["out.txt"]


def test_error_leaves_nothing(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError, match="boom"), atomic_output(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_existing_needs_force(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(OutputError, match=r"out\.txt: output file exists"), atomic_output(target):
        pass
    assert target.read_text() == "old"
    with atomic_output(target, force=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_output_equal_to_input(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"x")
    link = tmp_path / "link.mp4"
    link.symlink_to(src)
    for out in (src, tmp_path / "." / "in.mp4", link):
        with pytest.raises(OutputError, match="same file as the input"), atomic_output(out, True, [src]):
            pass
    assert src.read_bytes() == b"x"


def test_folder_missing_or_unwritable_or_directory(tmp_path, unwritable_folder):
    with pytest.raises(OutputError, match="does not exist"), atomic_output(tmp_path / "no" / "x.wav"):
        pass
    with pytest.raises(OutputError, match="cannot write in folder"):
        with atomic_output(unwritable_folder / "x.wav"):
            pass
    with pytest.raises(OutputError, match="is a directory"), atomic_output(tmp_path, force=True):
        pass
