"""The web page (``openfoley serve``): upload checks, the shared model service, and the page in Chromium.

All on real files (mp4s written with ``openfoley.io.write_video``) and a real tiny model trained for one
step here. The browser test starts ``openfoley serve`` in a subprocess on a free loopback port, drives
headless Chromium (Debian's ``chromium``) through Playwright, downloads what the page shows and probes
it, and takes a screenshot (written to ``docs/img/serve.png`` only with OPENFOLEY_UPDATE_DOCS=1). It
skips, saying why, where Gradio, Playwright or Chromium is absent (``pip install -e '.[demo,test]'``; ``apt-get install chromium``).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from openfoley.errors import ConfigError, MediaError, OutputError
from openfoley.io import probe, read_audio, write_audio, write_video
from openfoley.serve import FoleyService, ServeOptions, check_upload

REPO = Path(__file__).resolve().parents[1]
FPS = 12.5
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def make_video(path: Path, frames: int, seed: int = 0, scale: int = 2) -> Path:
    """A silent H.264 mp4 of synthetic drop clips (the kind the tiny model trains on) at 12.5 fps."""
    from openfoley.config import get_preset
    from openfoley.training.synthetic import synthetic_clip

    cfg = get_preset("tiny")
    rng = np.random.default_rng(seed)
    clips = [synthetic_clip(cfg, rng)[0] for _ in range(-(-frames // cfg.video_frames))]
    x = np.concatenate(clips)[:frames]  # (t, 3, h, w)
    x = x.repeat(scale, axis=2).repeat(scale, axis=3)
    return write_video(path, x, FPS)


# --- upload checks: no model, no Gradio -------------------------------------------------------------


def test_check_upload_accepts_a_video_within_limits(tmp_path):
    v = make_video(tmp_path / "clip.mp4", 30)
    info = check_upload(v, max_mb=1, max_seconds=5)
    assert info.video is not None and abs(info.video.duration - 30 / FPS) < 0.01


@pytest.mark.parametrize("case", ["text", "audio-only", "truncated", "empty", "too-big", "too-long", "missing"])
def test_check_upload_rejects_bad_uploads_with_one_clear_line(tmp_path, case):
    folder = tmp_path / "server-side-folder"
    folder.mkdir()
    good = make_video(folder / "good.mp4", 30)
    limits = {"max_mb": 1, "max_seconds": 5}
    if case == "text":
        p = folder / "notes.mp4"
        p.write_text("this is not a video\n" * 50)
        expect = "notes.mp4"
    elif case == "audio-only":
        p = write_audio(folder / "sound.wav", np.zeros(8000, np.float32), 8000)
        expect = "not a video"
    elif case == "truncated":
        p = folder / "cut.mp4"
        p.write_bytes(good.read_bytes()[:400])
        expect = "truncated"
    elif case == "empty":
        p = folder / "empty.mp4"
        p.write_bytes(b"")
        expect = "empty.mp4"
    elif case == "too-big":
        p, limits["max_mb"] = good, good.stat().st_size / 2e6
        expect = "too big"
    elif case == "too-long":
        p, limits["max_seconds"] = good, 1.5
        expect = "too long (2.4 s)"
    else:
        p = folder / "gone.mp4"
        expect = "did not arrive"
    with pytest.raises(MediaError) as e:
        check_upload(p, **limits)
    msg = str(e.value)
    assert expect in msg, msg
    assert "\n" not in msg and msg.startswith(p.name), msg
    assert str(folder) not in msg, f"server path leaked into the page's message: {msg}"


def test_options_refuse_bad_limits_and_bind_loopback_by_default():
    assert ServeOptions().host == "127.0.0.1"
    with pytest.raises(ConfigError, match="max-mb"):
        ServeOptions(max_mb=0)
    with pytest.raises(ConfigError, match="max-seconds"):
        ServeOptions(max_seconds=-1)


def test_cli_without_gradio_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    from openfoley.cli import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ImportError
    monkeypatch.setenv("GRADIO_TEMP_DIR", "unchanged")  # serve() sets it; restored after the test
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert main(["serve", "--model", "nowhere"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "openfoley serve: error: the web page needs Gradio, which is not installed: pip install 'openfoley[demo]'"]
    assert list(tmp_path.iterdir()) == [], "the failed start left temporary files"


# --- the shared model service: a real tiny model -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """Weights of the tiny preset after one training step; trained once per test run (xdist workers
    share one copy through a lock file)."""
    from openfoley.config import get_preset
    from openfoley.features.store import FeatureStore
    from openfoley.training.loop import train
    from openfoley.training.synthetic import make_synthetic_store

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "serve-tiny-model"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        weights = root / "run" / "weights"
        if not (weights / "config.json").exists():
            cfg = get_preset("tiny")
            store = FeatureStore(make_synthetic_store(root / "store", cfg, clips=cfg.train.batch_size))
            weights = train(cfg, store, root / "run", device="cpu", max_steps=1, progress=False).weights
    return Path(weights)


@pytest.fixture(scope="module")
def service(tiny_weights, tmp_path_factory):
    from openfoley.pipeline import FoleyPipeline

    pipe = FoleyPipeline.from_pretrained(tiny_weights, device="cpu")
    svc = FoleyService(pipe, ServeOptions(max_mb=2, max_seconds=10), tmp_path_factory.mktemp("serve-work"))
    yield svc
    svc.close()
    assert not svc.workdir.exists()


def test_service_writes_video_audio_and_plot_then_releases_them(service, tmp_path):
    v = make_video(tmp_path / "drop.mp4", 30, seed=1)
    seen = []
    out = service.generate(v, 2, 1.5, 7, progress=lambda f, d: seen.append(f))
    assert out.folder.parent == service.requests
    info = probe(out.video)
    assert info.video is not None and info.audio is not None
    assert abs(info.audio.duration - 30 / FPS) < 0.05, info
    wav = read_audio(out.audio, 8000)
    assert abs(len(wav) / 8000 - 30 / FPS) < 0.01 and float(abs(wav).max()) > 0
    assert out.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0
    assert "2 steps, guidance 1.5, seed 7" in out.summary
    service.release(out.folder)
    assert not out.folder.exists()
    service.release(v.parent)  # not one of the server's request folders: left alone
    assert v.exists()


def test_service_refuses_bad_settings_and_bad_uploads_without_leftovers(service, tmp_path):
    v = make_video(tmp_path / "drop.mp4", 30)
    bad_settings = [(0, 1, 0, "steps"), (2, -1, 0, "guidance"), (2, 1, -3, "seed"), ("x", 1, 0, "numbers")]
    for steps, cfg, seed, what in bad_settings:
        with pytest.raises(ConfigError, match=what):
            service.generate(v, steps, cfg, seed)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(v.read_bytes()[:500])
    with pytest.raises(MediaError, match="^bad.mp4: "):
        service.generate(bad, 2, 1, 0)
    one = tmp_path / "one.mp4"
    write_video(one, np.zeros((1, 3, 32, 32), np.uint8), FPS)
    with pytest.raises(MediaError) as e:  # the pipeline's own refusal, with the path shown as the name
        service.generate(one, 2, 1, 0)
    assert str(e.value).startswith("one.mp4: too short") and str(tmp_path) not in str(e.value)
    assert list(service.requests.iterdir()) == []


def test_service_video_modes(service, tmp_path):
    """auto re-encodes a stream browsers cannot play from an MP4 and copies one they can; copy refuses
    what MP4 cannot hold, with one line and no leftovers."""
    import av
    from mediagen import make_media, video_packets

    mpeg4 = make_media(tmp_path / "old.avi", n_frames=25, fps=FPS, vcodec="mpeg4", acodec=None)
    out = service.generate(mpeg4, 2, 1.0, 0)
    with av.open(str(out.video)) as c:
        assert c.streams.video[0].codec_context.codec.name == "h264"
    assert out.summary.endswith("; video re-encoded as H.264")
    service.release(out.folder)
    h264 = make_video(tmp_path / "drop.mp4", 25)
    out = service.generate(h264, 2, 1.0, 0)
    assert video_packets(out.video) == video_packets(h264) and "re-encoded" not in out.summary
    service.release(out.folder)
    out = service.generate(mpeg4, 2, 1.0, 0, video_mode="copy")  # MP4 holds MPEG-4 Part 2: copied
    assert video_packets(out.video) == video_packets(mpeg4)
    service.release(out.folder)
    ms = make_media(tmp_path / "ms.avi", n_frames=25, fps=FPS, vcodec="msmpeg4", acodec=None)
    with pytest.raises(OutputError, match="^ms.avi: its msmpeg4 video cannot go into .mp4 .*; choose auto or reencode"):
        service.generate(ms, 2, 1.0, 0, video_mode="copy")
    with pytest.raises(ConfigError, match="video must be one of"):
        service.generate(h264, 2, 1.0, 0, video_mode="bogus")
    assert list(service.requests.iterdir()) == []


def test_concurrent_requests_get_their_own_outputs(service, tmp_path):
    """Two users at once: the model runs one at a time and each gets the sound of their own video."""
    frames = {"a": 20, "b": 45}
    videos = {k: make_video(tmp_path / f"{k}.mp4", n, seed=i) for i, (k, n) in enumerate(frames.items())}
    outs, errors = {}, []

    def user(k):
        try:
            outs[k] = service.generate(videos[k], 2, 1.0, 0)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=user, args=(k,)) for k in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert outs["a"].folder != outs["b"].folder
    for k, n in frames.items():
        assert outs[k].video.name == f"{k}-foley.mp4"
        assert abs(probe(outs[k].video).audio.duration - n / FPS) < 0.05
        assert abs(len(read_audio(outs[k].audio, 8000)) / 8000 - n / FPS) < 0.01
        service.release(outs[k].folder)


def test_sweep_removes_abandoned_request_folders(service):
    old = service.requests / "old-request"
    old.mkdir()
    (old / "x.wav").write_bytes(b"0")
    t = time.time() - service.options.stale_after_s - 5
    os.utime(old, (t, t))
    fresh = service._new_folder()
    assert not old.exists() and fresh.exists()
    service.release(fresh)


# --- the page in headless Chromium ----------------------------------------------------------------------


def _browser_missing() -> str | None:
    if importlib.util.find_spec("gradio") is None:
        return "gradio is not installed (pip install -e '.[demo]')"
    if importlib.util.find_spec("playwright") is None:
        return "playwright (the Python package) is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium is not installed (apt-get install chromium)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listen_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (Linux /proc/net/tcp*, hex as the kernel writes them)."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(name):
            for line in Path(name).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if int(p, 16) == port and state == "0A":  # 0A: LISTEN
                    found.add(addr)
    return found


def _wait_ready(proc: subprocess.Popen, log: Path, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if "running on" in log.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"openfoley serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"openfoley serve not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _download(page, locator, dest: Path, attr: str = "src") -> Path:
    src = locator.get_attribute(attr)
    assert src and src.startswith("http://127.0.0.1:"), src
    r = page.request.get(src)
    assert r.ok, (src, r.status)
    dest.write_bytes(r.body())
    return dest


@pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")
def test_page_in_chromium(tiny_weights, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    a = make_video(tmp_path / "drops.mp4", 30, seed=3, scale=4)  # 2.4 s, 128x128
    b = make_video(tmp_path / "short.mp4", 20, seed=4, scale=4)  # 1.6 s
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(a.read_bytes()[:600])
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    port = _free_port()
    log = tmp_path / "server.log"
    env = dict(os.environ, TMPDIR=str(server_tmp), GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "openfoley", "serve", "--port", str(port), "--model", str(tiny_weights),
           "--device", "cpu", "--max-mb", "2", "--max-seconds", "10"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    external: list[str] = []
    t0 = time.monotonic()
    phase = lambda what: print(f"{time.monotonic() - t0:6.1f} s  {what}", file=sys.stderr)  # noqa: E731
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # while the server starts
            _wait_ready(proc, log, 90)
            phase("server ready")
            assert _listen_addresses(port) <= {"0100007F"}, "the server must bind 127.0.0.1 only by default"
            url = f"http://127.0.0.1:{port}/"
            ctx = browser.new_context(viewport={"width": 1280, "height": 1000})

            def local_only(route):  # the page must work offline; count anything that reaches out
                if route.request.url.startswith(url) or route.request.url.startswith(("data:", "blob:")):
                    route.continue_()
                else:
                    external.append(route.request.url)
                    route.abort()

            ctx.route("**/*", local_only)
            pages = [ctx.new_page(), ctx.new_page()]
            for p in pages:
                p.set_default_timeout(30_000)
                p.goto(url)
            one, two = pages
            phase("pages loaded")
            one.locator("#upload input[type=file]").set_input_files(str(corrupt))
            expect(one.locator("#status")).to_contain_text("Error: corrupt.mp4: truncated")
            one.locator("#generate").click()  # generating anyway gives the same reason, not a crash
            expect(one.locator("#status")).to_contain_text("Not generated: corrupt.mp4: truncated")
            one.locator("#upload button[aria-label=Clear]").first.click()
            one.locator("#upload input[type=file]").set_input_files(str(a))
            two.locator("#upload input[type=file]").set_input_files(str(b))
            expect(one.locator("#status")).to_contain_text("Ready: drops.mp4: 2.40 s")
            expect(two.locator("#status")).to_contain_text("Ready: short.mp4: 1.60 s")
            phase("uploads checked")
            one.locator("#generate").click()  # two users at once: served in turn, each their own result
            two.locator("#generate").click()
            for p, name in ((one, "drops"), (two, "short")):
                expect(p.locator("#status")).to_contain_text(f"Done: {name}.mp4", timeout=60_000)
                expect(p.locator("#result-video video")).to_have_attribute("src", re.compile(f"/{name}-foley\\.mp4$"))
            phase("both generated")
            for p, name, seconds in ((one, "drops", 2.4), (two, "short", 1.6)):
                got = probe(_download(p, p.locator("#result-video video"), tmp_path / f"{name}-got.mp4"))
                assert got.video is not None and got.audio is not None, got
                assert abs(got.audio.duration - seconds) < 0.05 and abs(got.video.duration - seconds) < 0.05, got
                link = p.locator("#result-audio a.download-link")
                wav = read_audio(_download(p, link, tmp_path / f"{name}.wav", "href"), 8000)
                assert abs(len(wav) / 8000 - seconds) < 0.01
            png = _download(one, one.locator("#result-plot img"), tmp_path / "plot.png")
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            one.wait_for_function("() => { const i = document.querySelector('#result-plot img');"
                                  " return i !== null && i.complete && i.naturalWidth > 0; }")
            for close in one.locator("button.toast-close").all():  # the corrupt upload's browser toast
                try:  # toasts also close themselves; one that is already going away needs no click
                    close.click(timeout=2000)
                except Exception:  # noqa: BLE001 - playwright's TimeoutError/detached element
                    pass
            # a toast that would not take the click (inert while it animates) is already checked above;
            # keep it out of the documentation screenshot
            one.evaluate("document.querySelectorAll('[data-testid=\"toast-body\"], .toast-wrap')"
                         ".forEach(e => e.remove())")
            shot = tmp_path / "serve.png"
            one.screenshot(path=str(shot), full_page=True)
            browser.close()
            phase("downloads checked, screenshot taken")
        assert shot.stat().st_size > 10_000
        if os.environ.get("OPENFOLEY_UPDATE_DOCS") == "1":  # refresh the documentation screenshot on request only
            (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
            os.replace(shutil.copy(shot, REPO / "docs" / "img" / ".serve.png.tmp"), REPO / "docs" / "img" / "serve.png")
        assert external == [], f"the page reached outside the machine: {external}"
        work = [d for d in server_tmp.iterdir() if d.name.startswith("openfoley-serve-")]
        assert len(work) == 1
        deadline = time.monotonic() + 10  # each request's folder goes once Gradio has its copies
        while any((work[0] / "requests").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list((work[0] / "requests").iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert list(server_tmp.iterdir()) == [], "temporary files left after the server stopped"
