"""Feature store: write shards, read them back exactly, atomic visibility, bad stores, compatibility."""

import json
import pickle

import numpy as np
import pytest
import torch

from openfoley.config import get_preset
from openfoley.errors import DataError
from openfoley.features import store as st
from openfoley.features.store import FeatureStore, ShardWriter, complete_parts, store_shapes, write_store_json

CFG = get_preset("tiny")


def _clip(rng, i):
    shapes = store_shapes(CFG)
    frames = rng.integers(0, 256, shapes["frames"], dtype=np.uint8)
    mel = rng.normal(-4, 2, shapes["mel"]).astype(np.float32)
    rec = {"id": f"c{i}", "path": f"v{i}.mp4", "label": ["dog", None, "drum"][i % 3], "group": "g"}
    return frames, mel, rec


def _build(tmp_path, sizes=(3, 2), capacity=3, seed=0):
    """A store with len(sizes) shards; returns the path and the clips written, in store order."""
    rng = np.random.default_rng(seed)
    out, clips, i = tmp_path / "store", [], 0
    for k, n in enumerate(sizes):
        w = ShardWriter(out, st.part_name(0, 0, k), capacity, store_shapes(CFG))
        for _ in range(n):
            c = _clip(rng, i)
            w.add(*c, valid_seconds=CFG.seconds - 0.1 * i)
            clips.append(c)
            i += 1
        assert w.close() == n
    write_store_json(out, CFG)
    return out, clips


def test_round_trip(tmp_path):
    out, clips = _build(tmp_path)
    s = FeatureStore(out)
    assert len(s) == 5 and s.ids == [f"c{i}" for i in range(5)]
    assert [r["id"] for r in s.records] == s.ids
    for i, (frames, mel, rec) in enumerate(clips):
        item = s[i]
        assert item["frames"].dtype == torch.uint8 and item["mel"].dtype == torch.float32
        np.testing.assert_array_equal(item["frames"].numpy(), frames)
        np.testing.assert_array_equal(item["mel"].numpy(), mel.astype(np.float16).astype(np.float32))
        assert (item["id"], item["label"], item["group"], item["index"]) == (rec["id"], rec["label"], "g", i)
        assert item["valid_seconds"] == pytest.approx(CFG.seconds - 0.1 * i)
        assert torch.equal(s.mel(i), item["mel"])  # the mel alone, same values
    assert s[-1]["id"] == "c4" and torch.equal(s.mel(-1), s[4]["mel"])
    with pytest.raises(IndexError):
        s[5]
    with pytest.raises(IndexError):
        s.mel(5)
    # Last shard was trimmed from capacity 3 to the 2 rows written.
    assert np.load(out / "parts" / "part-r0-w0-00001.frames.npy", mmap_mode="r").shape[0] == 2
    s.check_compatible(CFG)
    assert s.index_of("c3") == 3


def test_bounded_open_maps_and_pickle(tmp_path):
    out, clips = _build(tmp_path, sizes=(1, 1, 1, 1), capacity=1)
    s = FeatureStore(out, max_open=2)
    for i in range(4):
        s[i]
        assert len(s._open) <= 2
    s2 = pickle.loads(pickle.dumps(s))
    assert not s2._open
    np.testing.assert_array_equal(s2[3]["frames"].numpy(), clips[3][0])


def test_unfinished_shard_is_invisible(tmp_path):
    out, _ = _build(tmp_path)
    rng = np.random.default_rng(1)
    w = ShardWriter(out, st.part_name(1, 0, 0), 4, store_shapes(CFG))
    w.add(*_clip(rng, 9), valid_seconds=1.0)  # killed before close(): temp files only
    assert complete_parts(out) == ["part-r0-w0-00000", "part-r0-w0-00001"]
    assert write_store_json(out, CFG)["clips"] == 5
    w.abort()
    assert not [p for p in (out / "parts").iterdir() if p.name.startswith(".tmp")]
    empty = ShardWriter(out, st.part_name(1, 0, 1), 4, store_shapes(CFG))
    assert empty.close() == 0 and complete_parts(out) == ["part-r0-w0-00000", "part-r0-w0-00001"]


def test_duplicate_ids_rejected(tmp_path):
    out, _ = _build(tmp_path, sizes=(1,), capacity=1)
    w = ShardWriter(out, st.part_name(0, 1, 0), 1, store_shapes(CFG))
    w.add(*_clip(np.random.default_rng(5), 0), valid_seconds=1.0)  # id c0 again
    w.close()
    with pytest.raises(DataError, match="'c0' appears in two shards"):
        write_store_json(out, CFG)


def test_bad_stores(tmp_path):
    with pytest.raises(DataError, match="not found"):
        FeatureStore(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="not a feature store"):
        FeatureStore(tmp_path / "plain")
    (tmp_path / "plain" / "store.json").write_text("{oops")
    with pytest.raises(DataError, match="corrupt store metadata"):
        FeatureStore(tmp_path / "plain")
    write_store_json(tmp_path / "empty", CFG)
    with pytest.raises(DataError, match="empty"):
        FeatureStore(tmp_path / "empty")

    out, _ = _build(tmp_path)
    np.save(out / "parts" / "part-r0-w0-00001.mel.npy", np.zeros((2, 3), np.float16))  # wrong shape
    s = FeatureStore(out)
    s[0]  # first shard still fine
    with pytest.raises(DataError, match=r"part-r0-w0-00001.mel.npy: shard holds float16 \(2, 3\)"):
        s[3]
    (out / "parts" / "part-r0-w0-00000.frames.npy").unlink()
    with pytest.raises(DataError, match="part-r0-w0-00000.frames.npy: unreadable shard"):
        FeatureStore(out)[0]
    (out / "parts" / "part-r0-w0-00000.index.jsonl").write_text('{"row": 0}\n')  # lost lines
    with pytest.raises(DataError, match="part-r0-w0-00000.index.jsonl"):
        _ = FeatureStore(out).records
    meta = json.loads((out / "store.json").read_text())
    meta["parts"][0]["clips"] = 2
    (out / "store.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="disagree on clip counts"):
        FeatureStore(out)
    (out / "index.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="index.npz: missing or corrupt store index"):
        FeatureStore(out)


def test_check_compatible_names_fields(tmp_path):
    out, _ = _build(tmp_path, sizes=(1,), capacity=1)
    with pytest.raises(DataError) as e:
        FeatureStore(out).check_compatible(get_preset("small"))
    msg = str(e.value)
    for field in ("seconds: store 2.0, config 8.0", "audio.sample_rate: store 8000, config 16000",
                  "video.size: store 32, config 64"):
        assert field in msg, msg
    assert "video.fps" not in msg  # tiny and small share 12.5 fps


def test_shrink_npy_in_place(tmp_path):
    for n_rows, keep in ((6, 4), (100_000, 7)):  # header must keep its length across digit counts
        q = tmp_path / f"{n_rows}.npy"
        a = np.arange(n_rows * 2, dtype=np.float16).reshape(n_rows, 2)
        np.save(q, a)
        st._shrink_npy(q, keep)
        np.testing.assert_array_equal(np.load(q), a[:keep])
        assert q.stat().st_size == np.load(q, mmap_mode="r").offset + keep * 2 * 2
