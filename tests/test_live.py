"""Live FoleyWorld rendering (``data.foleyworld.live``): the grid and pooling by hand, agreement with the
render -> mp4 -> extract path up to the codec, determinism, and prefetching workers that change nothing."""

import dataclasses

import numpy as np
import pytest
import torch

from openfoley.config import get_preset
from openfoley.config.tools import RenderConfig
from openfoley.data.extract import extract
from openfoley.data.foleyworld.live import LiveStore, frames_on_grid, stack_event_frames
from openfoley.data.foleyworld.render import render_split
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.errors import ConfigError
from openfoley.features.store import FeatureStore
from openfoley.training.data import StoreBatches

CFG = get_preset("tiny")  # 2 s, 8 kHz, 12.5 fps, 32 px
RENDER = RenderConfig(seconds=2.0, fps=25, size=64, sample_rate=8000)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_synth_bank(tmp_path_factory.mktemp("live") / "bank", seed=0, sample_rate=8000)


def test_frames_on_grid_by_hand():
    fr = np.arange(4 * 3 * 4 * 4, dtype=np.uint8).reshape(4, 3, 4, 4)  # 4 frames at 25 fps, 4 px
    out = frames_on_grid(fr, 25.0, 12.5, 2)
    assert out.shape == (2, 3, 2, 2) and out.dtype == np.uint8
    # frames 0 and 2; each output pixel is the rounded mean of a 2x2 block
    want = np.stack([fr[i].reshape(3, 2, 2, 2, 2).astype(float).mean(axis=(2, 4)) for i in (0, 2)])
    np.testing.assert_array_equal(out, np.rint(want).astype(np.uint8))
    assert out[0, 0, 0, 0] == 2  # mean of 0, 1, 4, 5 = 2.5 -> rint -> 2 (round half to even)
    with pytest.raises(ConfigError, match="whole numbers"):
        frames_on_grid(fr, 25.0, 10.0, 2)
    with pytest.raises(ConfigError, match="whole numbers"):
        frames_on_grid(fr, 25.0, 12.5, 3)


def test_live_items_match_the_rendered_and_extracted_clips(bank, tmp_path):
    render_split(bank, tmp_path / "fw", "train", clips=2, seed=0, cfg=RENDER, progress=False)
    extract(tmp_path / "fw" / "train" / "manifest.jsonl", tmp_path / "store", CFG, progress=False)
    store = FeatureStore(tmp_path / "store")
    live = LiveStore(bank, CFG, split="train", seed=0, render=RENDER)
    for j in range(2):
        a = live[j]
        b = store[store.index_of(a["id"])]
        assert a["frames"].shape == b["frames"].shape and a["frames"].dtype == torch.uint8
        assert a["mel"].shape == b["mel"].shape
        err = (a["frames"].float() - b["frames"].float()).abs().mean()
        shifted = (a["frames"][1:].float() - b["frames"][:-1].float()).abs().mean()
        print(f"clip {j}: frame error {float(err):.2f} (one frame off: {float(shifted):.2f})")
        assert err < 4.0 and err < shifted  # H.264 only; the same frames, on the same grid
        loud = b["mel"] > b["mel"].max() - 6  # AAC differs most where the signal is quiet
        merr = (a["mel"] - b["mel"])[loud].abs().mean()
        print(f"clip {j}: log-mel error on loud bins {float(merr):.3f}")
        assert merr < 0.5
        events = [e["time"] for e in store.records[store.index_of(a["id"])]["extra"]["events"]]
        np.testing.assert_allclose(a["events"], events, atol=1e-6)


def test_h264_items_are_the_rendered_files_frames_as_the_pipeline_reads_them(bank, tmp_path):
    """``h264=True``: an item's frames at the event path's 25 fps are, bit for bit, what ``read_video`` gives
    from ``openfoley data render``'s file of the same clip (the same frames through the same encoder), its
    model-rate frames every second one of them; the mel and events are the plain item's."""
    from openfoley.io import read_video

    render_split(bank, tmp_path / "fw", "train", clips=2, seed=0, cfg=RENDER, progress=False)
    a = dataclasses.replace(CFG.alignment, onset_weight=1.0, onset_head_kernel=3, event_path=True, event_fps=25.0)
    fast = dataclasses.replace(CFG, alignment=a)
    coded = LiveStore(bank, fast, split="train", seed=0, render=RENDER, event_frames=True, h264=True)
    plain = LiveStore(bank, fast, split="train", seed=0, render=RENDER, event_frames=True)
    for j in range(2):
        item, ref = coded[j], plain[j]
        got = read_video(tmp_path / "fw" / "train" / f"{item['id']}.mp4", 25.0, CFG.video.size, duration=2.0).frames
        np.testing.assert_array_equal(item["event_frames"].numpy(), np.asarray(got))
        assert torch.equal(item["frames"], item["event_frames"][::2])
        err = (item["event_frames"].float() - ref["event_frames"].float()).abs().mean()
        assert 0 < err < 4.0  # the codec's artefacts, nothing else
        assert torch.equal(item["mel"], ref["mel"]) and np.array_equal(item["events"], ref["events"])


def test_live_store_is_deterministic_and_mel_matches(bank):
    live = LiveStore(bank, CFG, split="train", seed=3, render=RENDER, clips=10)
    a, b = live[4], live[4]
    assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["mel"], b["mel"])
    assert torch.equal(live.mel(4), a["mel"])
    assert not torch.equal(live[5]["mel"], a["mel"])
    assert len(live) == 10
    with pytest.raises(IndexError):
        live[10]
    with pytest.raises(ConfigError, match="sample rate"):
        LiveStore(bank, CFG, render=dataclasses.replace(RENDER, sample_rate=16000))


def test_event_frames_for_a_path_at_twice_the_models_rate(bank):
    """``event_frames=True`` for a model whose event path reads 25 fps (``Config.event_rate`` 2): items also hold
    the render's every frame on the model's size, and their every second frame is the plain item's frames; for a
    model at one rate, or without the flag, items are as before."""
    a = dataclasses.replace(CFG.alignment, onset_weight=1.0, onset_head_kernel=3, event_path=True)
    pathed = dataclasses.replace(CFG, alignment=a)
    fast = dataclasses.replace(pathed, alignment=dataclasses.replace(a, event_fps=25.0))
    plain = LiveStore(bank, CFG, split="train", seed=3, render=RENDER, clips=4)[2]
    item = LiveStore(bank, fast, split="train", seed=3, render=RENDER, clips=4, event_frames=True)[2]
    ev = item["event_frames"]
    assert ev.shape == (2 * CFG.video_frames, 3, CFG.video.size, CFG.video.size) and ev.dtype == torch.uint8
    assert torch.equal(ev[::2], plain["frames"]) and torch.equal(item["frames"], plain["frames"])
    assert not torch.equal(ev[1::2], ev[::2])  # the odd frames are the render's own, not copies
    want = frames_on_grid(LiveStore(bank, CFG, split="train", seed=3, render=RENDER, clips=4).clip(2).frames,
                          25.0, 25.0, CFG.video.size)
    np.testing.assert_array_equal(ev.numpy(), want)
    assert torch.equal(item["mel"], plain["mel"])
    assert torch.equal(stack_event_frames([item, item])[1], ev) and stack_event_frames([plain]) is None
    for cfg, flag in ((fast, False), (pathed, True)):
        assert "event_frames" not in LiveStore(bank, cfg, split="train", seed=3, render=RENDER, clips=4,
                                               event_frames=flag)[2]


def test_one_source_of_one_kind(bank):
    """``n_sources`` and ``kind``: each clip is ``render_clip``'s with that many sources, drawn from the split's
    classes of that kind only; a kind the split lacks is a DataError."""
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.data.foleyworld.render import render_clip, resolve_splits, split_pool
    from openfoley.data.foleyworld.scenes import kind_of
    from openfoley.errors import DataError

    live = LiveStore(bank, CFG, split="train", seed=2, render=RENDER, clips=6, n_sources=1, kind="impact")
    b = load_bank(bank)
    pool = {c: ids for c, ids in split_pool(b, resolve_splits(b, None), "train").items()
            if kind_of(c, b.class_group(c)) == "impact"}
    for i in range(6):
        clip = live.clip(i)
        want = render_clip(b, pool, RENDER, 2, "train", i, n_sources=1)
        assert np.array_equal(clip.frames, want.frames) and np.array_equal(clip.audio, want.audio)
        assert len(clip.truth["sources"]) == 1 and clip.truth["sources"][0]["class"] in pool
        assert torch.equal(live.mel(i), live[i]["mel"])
    with pytest.raises(DataError, match="kind 'nothing'"):
        LiveStore(bank, CFG, split="train", render=RENDER, kind="nothing")[0]


def test_prefetching_workers_give_the_same_batches(bank):
    live = LiveStore(bank, CFG, split="train", seed=0, render=RENDER, clips=12)
    plain = StoreBatches(live, 4, 2, seed=0)
    ahead = StoreBatches(live, 4, 2, seed=0, workers=1, prefetch=3, micros_per_step=2)
    try:
        for step, g in [(0, 0), (0, 1), (1, 0), (3, 1), (3, 0)]:  # in order, a jump (resume), then back
            x, y = plain.get(step, g), ahead.get(step, g)
            assert x.ids == y.ids and torch.equal(x.frames, y.frames) and torch.equal(x.mel, y.mel)
    finally:
        ahead.close()


def test_frames_on_grid_equals_torch_area_pooling_on_random_frames():
    """The numpy block sums equal torch's avg_pool2d + round-half-even, for k = 2, 3, 4 and both layouts."""
    import torch
    import torch.nn.functional as F

    g = np.random.default_rng(0)
    for k in (2, 3, 4):
        hwc = g.integers(0, 256, (5, 12 * k, 12 * k, 3), dtype=np.uint8)
        for fr in (hwc.transpose(0, 3, 1, 2), np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))):
            want = F.avg_pool2d(torch.from_numpy(np.ascontiguousarray(fr)).float(), k).round().to(torch.uint8)
            got = frames_on_grid(fr, 12.5, 12.5, 12)
            assert got.flags["C_CONTIGUOUS"] and got.shape == (5, 3, 12, 12)
            np.testing.assert_array_equal(got, want.numpy())
