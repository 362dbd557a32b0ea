"""Key frames: exact saliency terms, selection of the frames where motion happens (also through a real
H.264 file made with PyAV), sorted indices with their true timestamps, budgets."""

import dataclasses

import av
import numpy as np
import pytest
import torch

from openfoley.alignment.keyframes import (
    frame_saliency,
    gather,
    key_frames,
    motion_energy,
    nearest_in_time,
    scene_change,
    select_budget,
    select_key_frames,
)
from openfoley.config import KeyFrameConfig, get_preset


def _clip(t=24, size=32, events=(6, 15), cut=None):
    """Black clip with a white square that jumps to a new place at each event frame; optional
    background colour cut. (1, t, 3, size, size) in [0, 1]."""
    frames = torch.zeros(1, t, 3, size, size)
    pos = 2
    for i in range(t):
        if i in events:
            pos = (pos + 9) % (size - 8)
        if cut is not None and i >= cut:
            frames[0, i, 2] = 0.6  # the scene turns blue
        frames[0, i, :, 4:12, pos:pos + 8] = 1.0
    return frames


def test_motion_and_scene_terms_exact():
    f = torch.zeros(1, 3, 3, 4, 4)
    f[0, 1, :, :2, :] = 1.0  # half the frame turns white at frame 1
    torch.testing.assert_close(motion_energy(f), torch.tensor([[0.0, 0.5, 0.5]]))
    # histogram TV distance: half of the mass moves from bin 0 to bin 15 -> 0.5, and back
    torch.testing.assert_close(scene_change(f), torch.tensor([[0.0, 0.5, 0.5]]))
    u8 = (f * 255).to(torch.uint8)
    torch.testing.assert_close(motion_energy(u8), motion_energy(f))


def test_frames_with_motion_are_selected_with_true_times():
    frames = _clip()
    times = (torch.arange(24.0) + 0.5)[None] / 12.5
    sal = frame_saliency(frames, KeyFrameConfig())
    kf = select_key_frames(sal, times, 2)
    print("saliency", tuple(sal.shape), "indices", kf.indices.tolist())
    assert kf.indices.tolist() == [[6, 15]]
    torch.testing.assert_close(kf.times, times[:, [6, 15]])
    cut = _clip(cut=20)
    kf3 = select_key_frames(frame_saliency(cut, KeyFrameConfig()), times, 3)
    assert kf3.indices.tolist() == [[6, 15, 20]]


def test_selection_through_a_real_h264_file(tmp_path):
    frames = _clip(t=30, size=64, events=(7, 19))
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "18"}
        for fr in frames[0]:
            img = (fr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    with av.open(str(path)) as inp:
        pairs = [(f.to_ndarray(format="rgb24"), float(f.time)) for f in inp.decode(video=0)]
    decoded, pts = zip(*pairs, strict=True)
    times = torch.tensor(pts)[None]  # presentation times of the decoded frames
    video = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2)[None]  # (1, t, 3, h, w) uint8
    assert video.shape == (1, 30, 3, 64, 64)
    kf = key_frames(video, times, dataclasses.replace(get_preset("tiny"), keyframes=KeyFrameConfig(budget=2)))
    assert kf.indices.tolist() == [[7, 19]]
    torch.testing.assert_close(kf.times, torch.tensor([[7 / 25, 19 / 25]]))


def test_static_clip_is_covered_evenly_and_indices_sorted():
    sal = torch.zeros(2, 10)
    sal[1, 3] = 1.0
    kf = select_key_frames(sal, torch.arange(10.0).expand(2, 10), 4)
    assert kf.indices[0].tolist() == [0, 3, 6, 9]
    assert kf.indices[1].tolist() == [0, 3, 6, 9]  # the salient frame 3 is kept, ties fill the rest
    sal[1] = torch.rand(10, generator=torch.Generator().manual_seed(0))
    kf = select_key_frames(sal, torch.arange(10.0).expand(2, 10), 5)
    assert (kf.indices[:, 1:] > kf.indices[:, :-1]).all()
    top = sal[1].topk(5).indices.sort().values
    assert kf.indices[1].tolist() == top.tolist()


def test_budget_and_gather():
    assert select_budget(100, KeyFrameConfig(budget=0.5)) == 50
    assert select_budget(100, KeyFrameConfig(budget=8)) == 8
    assert select_budget(5, KeyFrameConfig(budget=8)) == 5
    assert select_budget(10, KeyFrameConfig(budget=0.01, min_frames=2)) == 2
    assert get_preset("small").key_frames == select_budget(100, get_preset("small").keyframes)
    feats = torch.arange(2 * 6 * 3, dtype=torch.float32).view(2, 6, 3)
    idx = torch.tensor([[0, 4], [1, 5]])
    assert torch.equal(gather(feats, idx), torch.stack([feats[0, [0, 4]], feats[1, [1, 5]]]))
    with pytest.raises(ValueError, match=r"saliency \(1, 4\)"):
        select_key_frames(torch.zeros(1, 4), torch.zeros(1, 4), 5)


def test_nearest_in_time():
    feats = torch.tensor([[[1.0], [2.0], [3.0]]])  # key frames at 0.1, 0.5, 0.9 s
    times = torch.tensor([[0.1, 0.5, 0.9]])
    q = torch.tensor([[0.0, 0.29, 0.31, 0.7, 2.0]])
    assert nearest_in_time(feats, times, q)[0, :, 0].tolist() == [1.0, 1.0, 2.0, 2.0, 3.0]
