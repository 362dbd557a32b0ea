"""FoleyPipeline end to end on the tiny smoke-trained model and real mp4 files, plus its exact parts:
flow-path inpainting, the window plan, the crossfading stitcher, onsets, devices, model loading."""

from __future__ import annotations

import itertools
import json
import shutil
import tracemalloc

import numpy as np
import pytest
import torch
from smokemodel import smoke_weights

from openfoley.config import get_preset
from openfoley.errors import ConfigError, MediaError, ModelError
from openfoley.flow import FlowCondition, build_generator
from openfoley.io import read_video, write_audio, write_video
from openfoley.io.image import decode_png
from openfoley.pipeline import (
    FoleyPipeline,
    Stitcher,
    builtin_model_dir,
    detect_onsets,
    plan_windows,
    plot_result,
    resolve_device,
)
from openfoley.pipeline.result import ResultBuilder
from openfoley.pipeline.windows import fade_in, onset_peaks, unit_tokens

FPS = 12.5


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return smoke_weights(tmp_path_factory)


@pytest.fixture(scope="module")
def pipe(weights):
    return FoleyPipeline.from_pretrained(weights, device="cpu")


@pytest.fixture(scope="module")
def clip5(tmp_path_factory, moving_square):
    """5 s at 25 fps, 64x48 (not the model's fps or size)."""
    return write_video(tmp_path_factory.mktemp("media") / "clip.mp4", moving_square(125, 48, fps=25), 25,
                       preset="ultrafast")


# --- flow-path inpainting (CFMGenerator.sample known/known_mask) ----------------------------------

@pytest.mark.parametrize("solver", ["euler", "midpoint", "heun"])
def test_inpainting_keeps_known_tokens_exactly(solver):
    cfg = get_preset("tiny")
    gen = build_generator(cfg).eval()
    with torch.no_grad():  # a non-zero field, so the unknown tokens really move
        g1 = torch.Generator().manual_seed(1)
        for p in gen.parameters():
            p.normal_(0.0, 0.05, generator=g1)
    g = torch.Generator().manual_seed(0)
    b, n, d = 2, cfg.audio_tokens, cfg.encoder.width
    cond = FlowCondition(tokens=torch.randn(b, n, d, generator=g), keys=torch.randn(b, 3, d, generator=g),
                         key_times=torch.rand(b, 3, generator=g) * cfg.seconds,
                         key_mask=torch.ones(b, 3, dtype=torch.bool))
    known = torch.randn(b, n, cfg.audio_token_dim, generator=g) * 3
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[0, :5], mask[1, -7:] = True, True
    out = gen.sample(cond, torch.Generator().manual_seed(3), steps=4, solver=solver, known=known, known_mask=mask)
    assert torch.equal(out[mask], known[mask])
    free = gen.sample(cond, torch.Generator().manual_seed(3), steps=4, solver=solver)
    assert not torch.allclose(out[~mask], known[~mask])
    # no known tokens: exactly the plain sample; the trajectory follows the path on known tokens
    none = gen.sample(cond, torch.Generator().manual_seed(3), steps=4, solver=solver, known=known,
                      known_mask=torch.zeros(b, n, dtype=torch.bool))
    assert torch.equal(none, free)
    traj = gen.sample(cond, torch.Generator().manual_seed(3), steps=4, solver=solver, known=known, known_mask=mask,
                      return_trajectory=True)
    x0 = traj.states[0]
    for t, s in zip(traj.times[:-1], traj.states[:-1], strict=True):
        assert torch.allclose(s[mask], ((1 - t) * x0 + t * known)[mask], atol=1e-6)
    assert torch.equal(traj.states[-1], out)
    with pytest.raises(ValueError, match="known"):
        gen.sample(cond, g, steps=2, known=known)


# --- window plan, stitcher, onsets ---------------------------------------------------------------

def test_window_plan_units_and_counts():
    assert [unit_tokens(get_preset(p)) for p in ("tiny", "small", "paper")] == [1, 1, 8]
    small = plan_windows(get_preset("small"))  # 1 s overlap = 12.5 tokens -> 12
    assert (small.overlap_tokens, small.overlap_frames, small.overlap_samples, small.hop_frames) == (12, 12, 15360, 88)
    paper = plan_windows(get_preset("paper"), overlap=1.0)  # 12.8 tokens -> 16 (2 units of 5 frames)
    assert (paper.overlap_tokens, paper.overlap_frames, paper.overlap_samples) == (16, 10, 10000)
    assert plan_windows(get_preset("tiny"), overlap=100).overlap_tokens == 24  # capped below one window
    assert [small.count(n) for n in (2, 100, 101, 188, 189)] == [1, 1, 2, 2, 3]


def test_stitcher_crossfade_exact():
    plan = plan_windows(get_preset("tiny"), overlap=0.24)  # 3 tokens = 960 samples, hop 22 of 25 frames
    S, O, H = plan.samples, plan.overlap_samples, plan.hop_samples
    st = Stitcher(plan, 2 * H + S - 100, 2)
    levels = [1.0, -2.0, 0.5]
    for j, c in enumerate(levels):
        st.add(j, np.full(S, c, np.float32), np.full((2, plan.mel_frames), c, np.float32))
    r = fade_in(O)
    np.testing.assert_allclose(st.wav[:H], 1.0)
    np.testing.assert_allclose(st.wav[H : H + O], 1.0 * (1 - r) + -2.0 * r, atol=1e-6)
    np.testing.assert_allclose(st.wav[H + O : 2 * H], -2.0)
    np.testing.assert_allclose(st.wav[2 * H + O :], 0.5)  # the last window, trimmed to the total
    assert st.wav.shape == (2 * H + S - 100,)
    # no step at the seams: the largest jump is the fade's, |c1 - c0| * max ramp slope <= |dc| * pi / (2 O)
    assert np.abs(np.diff(st.wav)).max() <= 3.0 * np.pi / (2 * O) + 1e-6
    # a signal both windows agree on passes through unchanged
    sig = np.sin(np.arange(2 * H + S) * 0.01).astype(np.float32)
    st2 = Stitcher(plan, 2 * H + S, 1)
    for j in range(3):
        st2.add(j, sig[j * H : j * H + S], np.zeros((1, plan.mel_frames), np.float32))
    np.testing.assert_allclose(st2.wav, sig, atol=1e-6)


def test_onset_peaks_exact():
    onset = np.array([0.1, 0.5, 0.5, 0.2, 0.4, 0.3, 0.9])
    # a plateau counts once (above the left, at least the right); the last frame can be a peak
    np.testing.assert_array_equal(onset_peaks(onset, 0.35), [1, 4, 6])
    np.testing.assert_array_equal(onset_peaks(onset, 0.45), [1, 6])
    assert onset_peaks(onset, 0.95).size == 0 and onset_peaks(np.zeros(0), 0.1).size == 0
    with pytest.raises(ValueError, match=r"\(t,\)"):
        onset_peaks(np.zeros((2, 3)), 0.1)


def test_video_events_are_owned_once_across_windows():
    """Each window contributes the peaks in the frames it owns (window 0: all its real frames; later
    windows: their real frames past the overlap), at frame centres on the video's clock."""
    plan = plan_windows(get_preset("small"))  # T 100 frames, overlap 12, hop 88 at 12.5 fps
    T, O, H = plan.frames, plan.overlap_frames, plan.hop_frames
    b = ResultBuilder(plan, 2.0, (H + T) / plan.fps, 4, 50.0, onset_threshold=0.5)
    n_mels = 4
    for j, (peaks, real) in enumerate((([2, T - 2], T), ([1, O + 1, O + 5], O + 3))):
        onset = np.zeros(T)
        onset[peaks] = 1.0
        b.add(j, j * H, real, np.zeros(plan.samples, np.float32), np.zeros((n_mels, plan.mel_frames), np.float32),
              np.zeros(0, np.int64), np.zeros(T), np.zeros((T, 3, 4, 4), np.uint8), {}, onset)
    r = b.result("x", 2, 0, {})
    # window 1's frame 1 is in the overlap (window 0's), frame O + 5 past its real frames
    np.testing.assert_allclose(r.video_events, 2.0 + (np.array([2, T - 2, H + O + 1]) + 0.5) / plan.fps)
    # without a track (no onset head) there are none
    b0 = ResultBuilder(plan, 0.0, T / plan.fps, n_mels, 50.0, onset_threshold=0.5)
    b0.add(0, 0, T, np.zeros(plan.samples, np.float32), np.zeros((n_mels, plan.mel_frames), np.float32),
           np.zeros(0, np.int64), np.zeros(T), np.zeros((T, 3, 4, 4), np.uint8), {})
    assert b0.result("x", 1, 0, {}).video_events.shape == (0,)


def test_a_sound_past_full_scale_is_scaled_to_099_quietly(caplog):
    """The whole waveform is scaled so its peak is 0.99 when it exceeds 1 (the writers would clip it), the
    shape kept; it is routine for the built-in model, so it is said at INFO (``-v``), not as a warning."""
    import logging

    plan = plan_windows(get_preset("small"))
    T, n_mels = plan.frames, 4
    wav = np.sin(np.linspace(0, 60, plan.samples)).astype(np.float32)
    for gain, want in ((2.5, 0.99), (0.5, 0.5 * float(np.abs(wav).max()))):
        b = ResultBuilder(plan, 0.0, T / plan.fps, n_mels, 50.0)
        b.add(0, 0, T, gain * wav, np.zeros((n_mels, plan.mel_frames), np.float32), np.zeros(0, np.int64),
              np.zeros(T), np.zeros((T, 3, 4, 4), np.uint8), {})
        with caplog.at_level(logging.INFO, logger="openfoley"):
            caplog.clear()
            r = b.result("x", 1, 0, {})
        peak = np.abs(r.wav).max()
        np.testing.assert_allclose(peak, want, rtol=1e-6)
        np.testing.assert_allclose(r.wav / peak, wav / np.abs(wav).max(), atol=1e-6)
        assert not [x for x in caplog.records if x.levelno >= logging.WARNING]
        assert ("scaled to 0.99" in caplog.text) == (gain > 1)


def test_detect_onsets_finds_steps():
    mel = np.zeros((8, 200), np.float32)
    for i in (20, 90, 150):
        mel[:, i : i + 10] = 5.0  # a burst of 10 frames at each onset
    np.testing.assert_allclose(detect_onsets(mel, mel_fps=50.0), [0.4, 1.8, 3.0])
    assert detect_onsets(np.ones((8, 200), np.float32), 50.0).size == 0


# --- devices and model loading -------------------------------------------------------------------

def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("gpu9")


def test_model_loading_errors(weights, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        FoleyPipeline.from_pretrained(tmp_path / "nope", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        FoleyPipeline.from_pretrained(tmp_path / "empty", device="cpu")
    with pytest.raises(ModelError, match="not a model folder"):
        FoleyPipeline.from_pretrained(weights / "config.json", device="cpu")
    bad = shutil.copytree(weights, tmp_path / "future")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["flow"]["new_knob"] = 1  # a config from another version of the code
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="does not match this version"):
        FoleyPipeline.from_pretrained(bad, device="cpu")
    cfg["flow"].pop("new_knob")
    cfg["flow"]["depth"] = 2  # a config the weights were not trained with
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="weights do not match"):
        FoleyPipeline.from_pretrained(bad, device="cpu")
    if not (builtin_model_dir() / "model.safetensors").is_file():
        with pytest.raises(ModelError, match="built-in model is not in this install"):
            FoleyPipeline.from_pretrained("builtin", device="cpu")


# --- end to end ----------------------------------------------------------------------------------

def test_generate_file_deterministic_and_plot(pipe, clip5, tmp_path):
    sr = pipe.sample_rate
    r = pipe(clip5, seed=0)
    assert r.wav.dtype == np.float32 and r.wav.shape == (round(5.0 * sr),) and np.isfinite(r.wav).all()
    assert r.windows == pipe.plan.count(63) == 3 and r.sample_rate == sr
    assert r.mel.shape == (pipe.cfg.audio.n_mels, round(5.0 * r.mel_fps))
    assert 0 <= r.key_times.min() and r.key_times.max() < 5.0 and np.all(np.diff(r.key_times) > 0)
    assert set(r.timings) >= {"decode", "encoders", "flow", "vocoder"}
    assert np.array_equal(pipe(clip5, seed=0).wav, r.wav)
    assert not np.allclose(pipe(clip5, seed=1).wav, r.wav)
    # frames in memory give the same sound as the file they were read from
    frames = read_video(clip5, FPS, pipe.cfg.video.size).frames
    np.testing.assert_array_equal(pipe(frames, seed=0).wav[: len(r.wav)], r.wav)
    # a section: the second half, starting on the file's clock
    part = pipe(clip5, seed=0, start=2.0, duration=2.5)
    assert part.wav.shape == (round(2.5 * sr),) and part.start == 2.0 and part.key_times.min() >= 2.0
    png = plot_result(r, tmp_path / "plot.png")
    img = decode_png(png.read_bytes())
    assert img.shape[1] == 960 and img.shape[0] > 200 and len(r.strip) > 0


def test_video_events_are_the_onset_heads_peaks(tmp_path, moving_square):
    """On a one-window clip, ``video_events`` are exactly the peaks of the onset head's track for the
    frames the pipeline read, at or above the model's threshold, at frame centres; and the plot marks
    them (blue) above the spectrogram."""
    pipe = FoleyPipeline.from_pretrained("builtin", device="cpu")
    assert pipe.has_onset_head
    fps, size, k = pipe.cfg.video.fps, pipe.cfg.video.size, pipe.cfg.event_rate
    video = write_video(tmp_path / "v.mp4", moving_square(int(6 * 25), 128, fps=25), 25, preset="ultrafast")
    r = pipe(video, seed=0)

    def padded(rate: float, total: int) -> torch.Tensor:
        frames = read_video(video, rate, size).frames
        return torch.cat([frames, frames[-1:].expand(total - frames.shape[0], -1, -1, -1)])[None]

    n = read_video(video, fps, size).frames.shape[0]
    # an event path at k times the model's rate (alignment.event_fps) reads a second decode at that rate
    ev = padded(fps * k, k * pipe.plan.frames) if k > 1 else None
    onset = pipe.model.video_condition(padded(fps, pipe.plan.frames), event_frames=ev).onset[0].numpy()  # (k T,)
    peaks = onset_peaks(onset, pipe.cfg.flow.onset_peak_threshold)
    expected = (peaks[peaks < k * n] + 0.5) / (k * fps)
    np.testing.assert_allclose(r.video_events, expected)
    assert r.video_events.size > 0  # the square's bounces are events for the built-in model
    img = decode_png(plot_result(r, tmp_path / "p.png").read_bytes())
    def blue_columns(img):
        return ((img[..., 2] > 200) & (img[..., 0] < 60) & (img[..., 1] < 120)).any(axis=0).sum()

    assert blue_columns(img) >= 3 * r.video_events.size - 2  # a 3 px mark per event (some may touch)
    r.video_events = np.zeros(0)
    assert blue_columns(decode_png(plot_result(r, tmp_path / "none.png").read_bytes())) == 0


def test_window_latents_carry_across_seams(pipe, tmp_path, moving_square):
    video = write_video(tmp_path / "v.mp4", moving_square(int(7 * FPS)), FPS, preset="ultrafast")
    o = pipe.plan.overlap_tokens
    ws = list(pipe.windows(video, seed=0))
    assert len(ws) == pipe.plan.count(int(7 * FPS)) >= 3 and o > 0
    for a, b in itertools.pairwise(ws):
        assert torch.equal(b.latent[:o], a.latent[-o:])  # the overlap tokens are the previous window's
        assert b.first_frame - a.first_frame == pipe.plan.hop_frames
    assert ws[-1].real_frames < pipe.plan.frames  # a padded last window


def _long_run(pipe, path):
    tracemalloc.start()
    r = pipe(path, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return r, peak - r.wav.nbytes - r.mel.nbytes


def _seams_and_memory(pipe, tmp_path, moving_square, seconds: float):
    short = write_video(tmp_path / "short.mp4", moving_square(int(15 * FPS), 64), FPS, preset="ultrafast")
    long = write_video(tmp_path / "long.mp4", moving_square(int(seconds * FPS), 64), FPS, preset="ultrafast")
    _, extra_short = _long_run(pipe, short)
    r, extra_long = _long_run(pipe, long)
    size = pipe.cfg.video.size
    all_frames = int(seconds * FPS) * 3 * size * size  # what holding the decoded video would cost
    # Memory beyond the output itself does not grow with the video (bounded by the window).
    assert extra_long < 1.5e6 and extra_long - extra_short < min(0.25e6, all_frames / 8), (extra_short, extra_long)
    assert r.wav.shape == (round(seconds * pipe.sample_rate),)
    # No clicks: the largest sample-to-sample jump in the crossfades is no larger than 1.5x the largest
    # jump elsewhere (a hard cut between unrelated windows would add up to twice the peak amplitude).
    plan = pipe.plan
    jumps = np.abs(np.diff(r.wav))
    seam = np.zeros(jumps.shape, bool)
    for j in range(1, r.windows):
        a = j * plan.hop_samples
        seam[max(0, a - 2) : a + plan.overlap_samples + 2] = True
    assert jumps[seam].max() <= 1.5 * jumps[~seam].max()


def test_long_video_stitching_bounded_memory(pipe, tmp_path, moving_square):
    _seams_and_memory(pipe, tmp_path, moving_square, 60.0)


@pytest.mark.slow
def test_three_minute_video(pipe, tmp_path, moving_square):
    _seams_and_memory(pipe, tmp_path, moving_square, 180.0)


# --- bad input -----------------------------------------------------------------------------------

def test_bad_inputs(pipe, tmp_path, moving_square):
    with pytest.raises(MediaError):
        pipe(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="directory"):
        pipe(tmp_path)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(MediaError):
        pipe(text)
    wav = write_audio(tmp_path / "a.wav", np.zeros(8000, np.float32), 8000)
    with pytest.raises(MediaError, match="no video"):
        pipe(wav)
    one = write_video(tmp_path / "one.mp4", moving_square(1), 25, preset="ultrafast")
    with pytest.raises(MediaError, match="too short"):
        pipe(one)
    with pytest.raises(MediaError, match="too short"):
        pipe(torch.from_numpy(moving_square(1, 32)))
    with pytest.raises(MediaError, match="frames must be"):
        pipe(torch.zeros(10, 3, 7, 7, dtype=torch.uint8))
    with pytest.raises(MediaError, match="past the end"):
        pipe(write_video(tmp_path / "v.mp4", moving_square(25), FPS, preset="ultrafast"), start=5.0)
