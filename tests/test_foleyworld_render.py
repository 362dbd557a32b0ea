"""FoleyWorld renderer: sound onset on the contact frame, determinism, split-only bank clips, real mp4s."""

import json

import numpy as np
import pytest

from openfoley.cli import main
from openfoley.data.foleyworld.bank import load_bank
from openfoley.data.foleyworld.render import render_clip, render_split, resolve_splits, split_pool
from openfoley.data.foleyworld.scenes import RenderConfig, build_scene, draw_frames, envelope, kind_of, mix
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.data.manifest import read_manifest
from openfoley.errors import ConfigError, DataError

SMALL = RenderConfig(seconds=2.0, fps=25.0, size=64, margin=4)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return load_bank(make_synth_bank(tmp_path_factory.mktemp("bank"), seed=1, clips_per_class=(2, 3)))


def _pool(bank, cls):
    return {cls: [c for c in bank.clips if bank.clips[c].cls == cls]}


def _source_mask(scene, frames):
    """Pixels that belong to the sounding sources at ``frames``: drawn with them minus without (no
    nuisances), (len(frames), h, w) bool."""
    with_src = draw_frames(scene, sources=True, nuisances=False)[frames].astype(np.int16)
    without = draw_frames(scene, sources=False, nuisances=False)[frames].astype(np.int16)
    return np.abs(with_src - without).sum(1) > 30


def test_impact_sound_onset_on_contact_frame(bank):
    cfg = RenderConfig(seconds=4.0)
    for seed in range(2):
        scene = build_scene(np.random.default_rng(seed), cfg, bank, _pool(bank, "arrow on metal"), n_sources=1)
        src = scene.sources[0]
        assert src.kind == "impact" and src.events
        audio = mix(scene)
        floor = np.abs(scene.floor).max() * 1.01
        first = scene.sources[0].events[0]
        onset = int(np.argmax(np.abs(audio) > 10 * floor))  # audio: first sample well above the noise floor
        assert onset == cfg.frame_sample(first.frame) == round(first.frame / cfg.fps * cfg.sample_rate)
        ground = round(src.region.ground - cfg.margin)
        wanted = [f for ev in src.events for f in (ev.frame - 1, ev.frame)]
        mask = dict(zip(wanted, _source_mask(scene, wanted), strict=True))
        for ev in src.events:
            s = cfg.frame_sample(ev.frame)
            assert np.abs(audio[s]) > 20 * np.abs(audio[s - 32:s]).max()  # silence, then the hit
            rows = [np.nonzero(mask[f].any(1))[0] for f in (ev.frame - 1, ev.frame)]
            assert len(rows[0]) and len(rows[1]), "the object is visible before and at contact"
            before, at = rows[0].max(), rows[1].max()  # lowest object row
            assert at >= ground - 2, f"frame {ev.frame}: object bottom {at}, ground {ground}"
            assert before < at - 2, f"frame {ev.frame - 1} already touches: {before} vs {at}"


@pytest.mark.parametrize("cls", ["wooden door", "cow", "snare drum", "footstep on snow"])
def test_other_kinds_move_onto_the_event_frame(bank, cls):
    cfg = RenderConfig(seconds=4.0)
    scene = build_scene(np.random.default_rng(7), cfg, bank, _pool(bank, cls), n_sources=1)
    src = scene.sources[0]
    frames = draw_frames(scene, nuisances=False).astype(int)
    changed = np.abs(np.diff(frames, axis=0)).sum((1, 2, 3)) > 0  # changed[f]: frame f -> f + 1
    audio = mix(scene, floor=False)
    for ev in src.events:
        k = ev.frame
        assert changed[k - 1], f"{cls}: nothing happens on event frame {k}"
        assert np.abs(audio[cfg.frame_sample(k) - 64:cfg.frame_sample(k)]).max() < np.abs(audio[cfg.frame_sample(k)])
        if src.kind == "door":
            assert not changed[k], "the door must stop on the frame it shuts"
        if src.kind == "call":
            assert not changed[k - 2], "the picture is at rest before it calls"
        if src.kind == "strike":
            a = src._angle(k)
            tip = (src.pivot[0] + src.reach * np.cos(a), src.pivot[1] + src.reach * np.sin(a))
            assert np.hypot(tip[0] - src.hit[0], tip[1] - src.hit[1]) < 1e-6
            a1 = src._angle(k - 1)
            assert np.hypot(src.pivot[0] + src.reach * np.cos(a1) - src.hit[0],
                            src.pivot[1] + src.reach * np.sin(a1) - src.hit[1]) > 2
        if src.kind == "walk":
            landed = src._feet(k)
            assert any(lift == 0.0 and abs(x - ev.position[0]) < 1e-6 for x, lift in landed)
            assert all(lift > 1.0 for x, lift in src._feet(k - 1) if abs(x - ev.position[0]) < 3)


def test_envelope_exact():
    cfg = RenderConfig(seconds=0.4, fps=25.0, sample_rate=16000)  # 10 frames of 640 samples
    stem = np.zeros(cfg.samples, np.float32)
    stem[3 * 640:5 * 640] = 0.5
    stem[7 * 640:8 * 640] = 0.125
    np.testing.assert_allclose(envelope(stem, cfg), [0, 0, 0, 1, 1, 0, 0, 0.5, 0, 0], atol=1e-6)
    assert kind_of("footstep on snow", "footsteps") == "walk" and kind_of("gunshot", "weapon") == "flash"
    assert kind_of("river", "water") == "continuous" and kind_of("horse", "animal") == "call"
    assert kind_of("wind instrument", "instrument") == "call" and kind_of("thunder", "weather") == "flash"


@pytest.mark.parametrize("cls", ["arrow on metal", "snare drum"])
def test_walker_share_draws_strikes_and_impacts_as_walkers_landing_on_their_sounds(bank, cls):
    cfg = RenderConfig(seconds=4.0, walker_share=1.0)
    scene = build_scene(np.random.default_rng(7), cfg, bank, _pool(bank, cls), n_sources=1)
    src = scene.sources[0]
    assert kind_of(cls, bank.class_group(cls)) in ("impact", "strike")
    assert src.kind == "walk" and src.cls == cls and len(src.events) >= 2
    class_clips = {c for c in bank.clips if bank.clips[c].cls == cls}
    audio = mix(scene, floor=False)
    for ev in src.events:
        assert ev.clip in class_clips  # the class's own sounds, on the walker's landings
        assert any(lift == 0.0 and abs(x - ev.position[0]) < 1e-6 for x, lift in src._feet(ev.frame))
        assert all(lift > 1.0 for x, lift in src._feet(ev.frame - 1) if abs(x - ev.position[0]) < 3)
        k = cfg.frame_sample(ev.frame)
        assert np.abs(audio[k - 64:k]).max() < np.abs(audio[k])


def test_walker_share_zero_or_other_kinds_leave_the_scene_as_it_was(bank):
    def scene_of(cls, share):
        sc = build_scene(np.random.default_rng(3), RenderConfig(seconds=2.0, walker_share=share), bank,
                         _pool(bank, cls), n_sources=1)
        return sc.sources[0].kind, [(e.frame, e.clip) for e in sc.sources[0].events], mix(sc)

    plain = scene_of("arrow on metal", 0.0)
    assert plain[0] == "impact"
    door, door_all = scene_of("wooden door", 0.0), scene_of("wooden door", 1.0)  # not swappable: no draw made
    assert door[:2] == door_all[:2] and np.array_equal(door[2], door_all[2])
    with pytest.raises(ConfigError, match="walker_share"):
        RenderConfig(walker_share=1.5)


def test_deterministic_by_seed_and_index(bank):
    sp = resolve_splits(bank, None)
    pool = split_pool(bank, sp, "train")
    a = render_clip(bank, pool, SMALL, 5, "train", 3)
    b = render_clip(bank, pool, SMALL, 5, "train", 3)
    c = render_clip(bank, pool, SMALL, 5, "train", 4)
    assert a.frames.shape == (50, 3, 64, 64) and a.frames.dtype == np.uint8
    assert a.audio.shape == (32000,) and a.audio.dtype == np.float32
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio) and a.truth == b.truth
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("step", [2, 3])
def test_drawing_every_nth_frame_gives_those_frames_of_the_full_render(bank, step):
    pool = split_pool(bank, resolve_splits(bank, None), "train")
    for index in (0, 1, 2):  # clips with different kinds of sources and distractors
        full = render_clip(bank, pool, SMALL, 5, "train", index)
        part = render_clip(bank, pool, SMALL, 5, "train", index, frame_step=step)
        assert part.frames.shape == (len(range(0, 50, step)), 3, 64, 64)
        assert np.array_equal(part.frames, full.frames[::step])
        assert np.array_equal(part.audio, full.audio) and part.truth == full.truth
    with pytest.raises(ValueError, match="step must be >= 1"):
        draw_frames(build_scene(np.random.default_rng(0), SMALL, bank, pool), step=0)


def test_renders_draw_only_from_their_split(bank):
    sp = resolve_splits(bank, None)
    open_classes = {bank.clips[c].cls for c in sp.clips["test-open"]}
    for split in ("test-open", "test-closed"):
        pool = split_pool(bank, sp, split)
        for i in range(6):
            t = render_clip(bank, pool, SMALL, 0, split, i).truth
            assert set(t["bank_clips"]) <= set(sp.clips[split])
            classes = {e["class"] for e in t["events"]}
            assert (classes <= open_classes) if split == "test-open" else not (classes & open_classes)


def test_render_split_writes_mp4_truth_manifest_and_resumes(bank, tmp_path):
    from openfoley.io import read_audio, read_video

    s = render_split(bank.root, tmp_path, "train", 2, seed=0, cfg=SMALL, progress=False, preset="ultrafast")
    assert (s.rendered, s.skipped) == (2, 0)
    recs = read_manifest(tmp_path / "train" / "manifest.jsonl")
    assert [r.id for r in recs] == ["fw-train-000000", "fw-train-000001"]
    r = recs[0]
    assert r.source == "foleyworld" and r.split == "train" and r.label and r.group and r.licence == "CC0-1.0"
    assert r.extra["events"] and r.extra["bank_clips"]
    truth = json.loads((tmp_path / "train" / f"{r.id}.json").read_text())
    mp4 = r.resolve(tmp_path / "train")
    video = read_video(mp4, SMALL.fps, SMALL.size, duration=SMALL.seconds)
    assert tuple(video.frames.shape) == (50, 3, 64, 64)
    audio = read_audio(mp4, SMALL.sample_rate, duration=SMALL.seconds).numpy()
    mixed = render_clip(bank, split_pool(bank, resolve_splits(bank, None), "train"), SMALL, 0, "train", 0).audio
    lags = np.arange(-400, 401)
    corr = [np.dot(audio[400 + k:len(audio) - 400 + k], mixed[400:-400]) for k in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 1, "the mp4's audio is shifted against the ground truth"
    first = truth["events"][0]["sample"]
    assert np.abs(audio[first - 1200:first - 200]).max() < 0.2 * np.abs(audio[first:first + 400]).max()
    mtime = mp4.stat().st_mtime_ns
    s2 = render_split(bank.root, tmp_path, "train", 3, seed=0, cfg=SMALL, progress=False, preset="ultrafast")
    assert (s2.rendered, s2.skipped) == (1, 2) and mp4.stat().st_mtime_ns == mtime
    assert len(read_manifest(tmp_path / "train" / "manifest.jsonl")) == 3
    assert not list((tmp_path / "train").glob(".*partial*"))
    with pytest.raises(Exception, match="other settings"):
        render_split(bank.root, tmp_path, "train", 3, seed=1, cfg=SMALL, progress=False, preset="ultrafast")


def test_bad_render_inputs(bank, tmp_path, capsys):
    with pytest.raises(DataError, match="sound bank folder not found"):
        render_split(tmp_path / "missing", tmp_path / "o", "train", 1)
    with pytest.raises(ConfigError, match="unknown split 'val'"):
        render_split(bank.root, tmp_path / "o", "val", 1, cfg=SMALL)
    with pytest.raises(ConfigError, match="--clips must be > 0"):
        render_split(bank.root, tmp_path / "o", "train", 0, cfg=SMALL)
    for argv, msg in [(["--bank", str(tmp_path / "missing"), "--split", "train", "--clips", "1"], "not found"),
                      (["--bank", str(bank.root), "--split", "nope", "--clips", "1"], "unknown split"),
                      (["--bank", str(bank.root), "--split", "train", "--clips", "-3"], "--clips must be > 0")]:
        assert main(["data", "render", "--out", str(tmp_path / "o"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err, err
    assert not (tmp_path / "o" / "train").exists() or not list((tmp_path / "o" / "train").glob("*.mp4"))


def test_parallel_workers_render_the_same_clips(bank, tmp_path):
    one = render_split(bank.root, tmp_path / "a", "test-closed", 3, cfg=SMALL, progress=False, workers=1)
    two = render_split(bank.root, tmp_path / "b", "test-closed", 3, cfg=SMALL, progress=False, workers=2)
    assert one.rendered == two.rendered == 3
    for i in range(3):
        name = f"fw-test-closed-{i:06d}.json"
        assert (tmp_path / "a" / "test-closed" / name).read_text() == (tmp_path / "b" / "test-closed" / name).read_text()
    assert [r.id for r in read_manifest(tmp_path / "b" / "test-closed" / "manifest.jsonl")] == [
        f"fw-test-closed-{i:06d}" for i in range(3)]
