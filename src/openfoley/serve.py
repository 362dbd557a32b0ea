"""The web page: upload a silent video, generate its sound, watch it back (``openfoley serve``).

Three pieces, so that everything but the page itself is testable without a browser or Gradio:

    check_upload(path, max_mb, max_seconds) -> ProbeResult   size from the file system, then duration
                                                              from ``openfoley.io.probe`` (headers and
                                                              one frame), before anything is decoded
    FoleyService(pipeline, options, workdir)                 one model, loaded once and shared; a lock
                                                              so that one request at a time uses it;
                                                              each request writes into its own folder
    build_app(service) -> gradio.Blocks / serve(options)     the page (Gradio, the optional ``[demo]``
                                                              extra, imported only here, lazily)

Requests are queued by Gradio with a concurrency limit of 1 on the model's event, so several users get
answers in turn; the service lock makes this hold even for callers that bypass the queue. Outputs are
written to ``WORKDIR/requests/<random>/`` (never a shared name), Gradio copies them into its cache as it
sends them, and the request folder is deleted straight after (plus a sweep of abandoned folders). Gradio's
own cache (the uploads and those copies) lives in ``WORKDIR/gradio`` when ``serve`` starts Gradio, and
``WORKDIR`` is removed when the server stops.

A bad upload (not a video, too big, too long, corrupt) becomes one line in the page's status box; the
server keeps serving. Shapes: s audio samples.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openfoley.config.tools import ServeOptions  # defined with the other settings (config/tools.py)
from openfoley.errors import ConfigError, MediaError, OpenFoleyError, OutputError
from openfoley.io import VIDEO_MODES, ProbeResult, copy_refusal, mux, probe, write_audio

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)
_MB = 1_000_000  # "MB" is 10^6 bytes here, as in Gradio's max_file_size
# Codecs that browsers play from an MP4 (the page's <video>). "auto" on the page copies only these; any
# other stream (MPEG-4 Part 2, MJPEG, MPEG-2, ProRes, ...) fits in an MP4 but would not play, so it is
# re-encoded as H.264.
BROWSER_CODECS = ("h264", "vp9", "av1")


@dataclass(frozen=True)
class ServeOutput:
    """What one request produced, all inside ``folder`` (deleted by ``FoleyService.release``)."""

    folder: Path
    video: Path  # the upload's picture with the generated sound (mp4: the video copied or re-encoded + AAC)
    audio: Path  # the generated sound (WAV, 16-bit)
    plot: Path  # key frames, spectrogram and onsets (PNG, as ``generate --plot``)
    summary: str  # one line for the page's status box


def check_upload(path: str | os.PathLike, max_mb: float, max_seconds: float) -> ProbeResult:
    """Validate an uploaded file before any decoding; returns its probe.

    Order: exists -> size (``os.stat``, nothing read) -> ``probe`` (headers, stream index, one frame:
    rejects non-media and corrupt files) -> has a video stream -> duration. Raises ``MediaError`` with a
    one-line message naming the file (by its base name: server paths are not shown to users).
    """
    p = Path(path)
    name = p.name
    if not p.is_file():
        raise MediaError(f"{name}: the upload did not arrive (no such file); try again")
    size = p.stat().st_size
    if size > max_mb * _MB:
        raise MediaError(f"{name}: too big ({size / _MB:.1f} MB); this server takes videos up to {max_mb:g} MB")
    try:
        info = probe(p, count_frames=False)
    except MediaError as e:
        raise MediaError(_public(str(e), p)) from None
    if info.video is None:
        raise MediaError(f"{name}: not a video (no video stream found in this {info.container} file)")
    duration = info.video.duration or info.duration
    if not duration > 0:
        raise MediaError(f"{name}: the video has no duration (empty or damaged stream)")
    if duration > max_seconds:
        raise MediaError(f"{name}: too long ({duration:.1f} s); this server takes videos up to {max_seconds:g} s")
    return info


def _public(message: str, path: Path) -> str:
    """A message with the server-side path replaced by the file's base name."""
    return message.replace(str(path), path.name)


def describe(info: ProbeResult) -> str:
    """One line about an accepted upload, for the status box."""
    v = info.video
    assert v is not None
    w, h = v.display_size
    n = info.size_bytes
    size = f"{n / _MB:.1f} MB" if n >= _MB else f"{max(1, round(n / 1000))} kB"
    return f"{info.path.name}: {v.duration or info.duration:.2f} s, {w}x{h}, {v.fps:.2f} fps, {size}"


class FoleyService:
    """The model shared by all requests of one server, and the request folders under ``workdir``.

    ``pipeline`` is a loaded ``FoleyPipeline`` (or anything with the same call). ``generate`` may be
    called from several threads: the model runs for one request at a time (``self._lock``).
    """

    def __init__(self, pipeline: Any, options: ServeOptions, workdir: str | os.PathLike):
        self.pipeline = pipeline
        self.options = options
        self.workdir = Path(workdir)
        self.requests = self.workdir / "requests"
        self.requests.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    # --- request folders ---------------------------------------------------------------------------

    def _new_folder(self) -> Path:
        self.sweep()
        folder = self.requests / f"{time.strftime('%H%M%S')}-{secrets.token_hex(6)}"
        folder.mkdir()
        return folder

    def release(self, folder: str | os.PathLike | None) -> None:
        """Delete one request's folder (after Gradio has copied its files into its cache)."""
        if not folder:
            return
        f = Path(folder).resolve()
        if f.parent != self.requests.resolve():  # only ever our own request folders
            log.warning("release: %s is not a request folder of this server; left alone", f)
            return
        shutil.rmtree(f, ignore_errors=True)

    def sweep(self) -> int:
        """Delete request folders older than ``options.stale_after_s`` (abandoned requests)."""
        cutoff = time.time() - self.options.stale_after_s
        n = 0
        for f in self.requests.iterdir():
            try:
                if f.stat().st_mtime < cutoff:
                    shutil.rmtree(f, ignore_errors=True)
                    n += 1
            except FileNotFoundError:
                pass
        return n

    # --- one request -------------------------------------------------------------------------------

    def check_settings(self, steps: Any, cfg_scale: Any, seed: Any) -> tuple[int, float, int]:
        """The page's settings as (steps, cfg_scale, seed), or ``ConfigError`` saying which is wrong."""
        try:
            steps_i, cfg_f, seed_i = int(steps), float(cfg_scale), int(seed)
        except (TypeError, ValueError):
            raise ConfigError(
                f"steps, guidance and seed must be numbers, got {steps!r}, {cfg_scale!r}, {seed!r}") from None
        if not 1 <= steps_i <= self.options.max_steps:
            raise ConfigError(f"steps must be in 1..{self.options.max_steps}, got {steps_i}")
        if not 0.0 <= cfg_f <= 20.0:
            raise ConfigError(f"guidance must be in 0..20, got {cfg_f:g}")
        if not 0 <= seed_i < 2**63:
            raise ConfigError(f"seed must be a non-negative integer, got {seed_i}")
        return steps_i, cfg_f, seed_i

    def generate(
        self,
        video: str | os.PathLike,
        steps: Any,
        cfg_scale: Any,
        seed: Any,
        progress: ProgressFn | None = None,
        video_mode: str = "auto",
    ) -> ServeOutput:
        """Check ``video``, run the model on it, and write the muxed video, the WAV and the plot.

        video_mode: "auto" (copy the upload's video stream if browsers can play it from an MP4,
        ``BROWSER_CODECS``, else re-encode it as H.264), "copy" (an error if MP4 cannot hold it) or
        "reencode". Raises ``OpenFoleyError`` subclasses for bad input (with the upload's base name,
        not its path). On any failure the request folder is removed before the error propagates.
        """
        report = progress or (lambda frac, desc: None)
        src = Path(video)
        report(0.0, "checking the upload")
        if video_mode not in VIDEO_MODES:
            raise ConfigError(f"video must be one of {', '.join(VIDEO_MODES)}, got {video_mode!r}")
        info = check_upload(src, self.options.max_mb, self.options.max_seconds)
        steps_i, cfg_f, seed_i = self.check_settings(steps, cfg_scale, seed)
        mode = video_mode
        if mode == "auto" and info.video is not None and info.video.codec not in BROWSER_CODECS:
            mode = "reencode"
        if mode == "copy":  # before the model runs
            refused = copy_refusal(src, "out.mp4")
            if refused:
                raise OutputError(f"{src.name}: its {refused}; choose auto or reencode for this video")
        reencoded: list[str] = []
        folder = self._new_folder()
        try:
            report(0.02, "waiting for the model")
            with self._lock:
                t0 = time.perf_counter()
                result = run_pipeline(self.pipeline, src, steps_i, cfg_f, seed_i, report)
                elapsed = time.perf_counter() - t0
            report(0.92, "writing the video")
            stem = _safe_stem(src)
            audio = write_audio(folder / f"{stem}-foley.wav", result.wav, result.sample_rate)
            out_video = mux(src, result.wav, result.sample_rate, folder / f"{stem}-foley.mp4", video=mode,
                            on_reencode=reencoded.append,
                            progress=lambda done, total: report(0.92 + 0.04 * done / max(total, 1),
                                                                "re-encoding the video"))
            report(0.96, "drawing the plot")
            plot = save_plot(result, folder / f"{stem}-plot.png")
            report(1.0, "done")
        except OpenFoleyError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise type(e)(_public(str(e), src).replace(f"{folder}{os.sep}", "")) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        summary = (f"{describe(info)} -> {len(result.wav) / result.sample_rate:.2f} s of sound at "
                   f"{result.sample_rate} Hz; {steps_i} steps, guidance {cfg_f:g}, seed {seed_i}; {elapsed:.1f} s"
                   + ("; video re-encoded as H.264" if reencoded else ""))
        return ServeOutput(folder=folder, video=out_video, audio=audio, plot=plot, summary=summary)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _safe_stem(p: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in p.stem)[:60]
    return stem or "video"


# --- the pipeline, as the service uses it -----------------------------------------------------------


def load_pipeline(model: str, device: str = "auto") -> Any:
    """The pipeline ``openfoley generate`` would pick (``lite.cache.pick_runtime`` with ``--runtime
    auto``): the lite runtime on a CPU, else ``FoleyPipeline``; loaded once per server."""
    from openfoley.lite.cache import pick_runtime

    if pick_runtime("auto", model, device) == "lite":
        from openfoley.lite.runtime import LitePipeline

        return LitePipeline.from_pretrained(model)
    from openfoley.pipeline import FoleyPipeline

    return FoleyPipeline.from_pretrained(model, device=device)


def run_pipeline(pipeline: Any, video: Path, steps: int, cfg_scale: float, seed: int, report: ProgressFn) -> Any:
    """One call of the pipeline over the whole video; progress mapped to 5%..90% of the page's bar."""

    def on_progress(done: Any, total: Any = None, *_: Any) -> None:
        frac = float(done) / float(total) if total else float(done)
        report(0.05 + 0.85 * min(max(frac, 0.0), 1.0), "generating")

    result = pipeline(str(video), steps=steps, cfg_scale=cfg_scale, seed=seed, progress=on_progress)
    assert result.wav.ndim == 1, f"pipeline returned wav of shape {tuple(result.wav.shape)}, expected (s,)"
    return result


def save_plot(result: Any, path: Path) -> Path:
    """The key-frame / spectrogram / onset PNG of ``result`` (``generate --plot``'s figure)."""
    from openfoley.pipeline import plot_result

    return plot_result(result, path)


# --- the page -------------------------------------------------------------------------------------


def build_app(service: FoleyService) -> Any:
    """The Gradio page over ``service``. Needs the ``[demo]`` extra (gradio)."""
    import gradio as gr

    opts = service.options
    flow = service.pipeline.cfg.flow  # the model's own defaults start the sliders
    steps0 = min(int(flow.steps), opts.max_steps)
    cfg0 = float(flow.cfg_scale)

    def on_upload(video: str | None) -> str:
        if not video:
            return ""
        try:
            return "Ready: " + describe(check_upload(video, opts.max_mb, opts.max_seconds))
        except OpenFoleyError as e:
            return f"**Error:** {e}"

    def on_generate(video: str | None, steps: float, cfg: float, seed: float, mode: str, progress=gr.Progress()):
        if not video:
            return None, None, None, "**Not generated:** upload a video first", None
        try:
            out = service.generate(video, steps, cfg, seed, progress=lambda f, d: progress(f, desc=d),
                                   video_mode=mode)
        except OpenFoleyError as e:
            return None, None, None, f"**Not generated:** {e}", None
        except Exception as e:  # a bug, not the user's fault: log it, say so, keep serving
            log.exception("generation failed for %s", Path(video).name)
            return None, None, None, f"**Not generated:** internal error ({type(e).__name__}); see the server log", None
        return str(out.video), str(out.audio), str(out.plot), "Done: " + out.summary, str(out.folder)

    limits = f"Videos up to {opts.max_mb:g} MB and {opts.max_seconds:g} s."
    with gr.Blocks(title="OpenFoley", analytics_enabled=False, delete_cache=(300, 900)) as app:
        gr.Markdown(f"# OpenFoley\nUpload a silent video and generate sound for it. {limits} "
                    "Requests are served one at a time, in order.")
        with gr.Row():
            with gr.Column():
                upload = gr.Video(label="Silent video", sources=["upload"], format=None, height=320, elem_id="upload")
                steps = gr.Slider(1, opts.max_steps, value=steps0, step=1, label="Steps", elem_id="steps")
                cfg = gr.Slider(0.0, 10.0, value=cfg0, step=0.5, label="Guidance (cfg scale)", elem_id="cfg")
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="seed")
                mode = gr.Radio(list(VIDEO_MODES), value="auto", label="Video stream", elem_id="video-mode",
                                info="auto: copy the picture if browsers can play it, else re-encode it as H.264; "
                                     "copy: never re-encode; reencode: always H.264")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
                status = gr.Markdown("", elem_id="status")
            with gr.Column():
                out_video = gr.Video(label="Video with generated sound", interactive=False, height=320,
                                     elem_id="result-video")
                out_audio = gr.Audio(label="Generated sound (WAV)", type="filepath", interactive=False,
                                     elem_id="result-audio")
                out_plot = gr.Image(label="Key frames, spectrogram and onsets", show_label=False, type="filepath",
                                    interactive=False, elem_id="result-plot")  # the figure has its own title
        folder = gr.State(None)
        upload.upload(on_upload, inputs=upload, outputs=status, concurrency_id="probe", concurrency_limit=2)
        button.click(
            on_generate, inputs=[upload, steps, cfg, seed, mode],
            outputs=[out_video, out_audio, out_plot, status, folder],
            concurrency_id="model", concurrency_limit=1,
        ).then(service.release, inputs=folder, outputs=None, concurrency_id="release", concurrency_limit=4)
    app.queue(default_concurrency_limit=1, max_size=opts.queue_size)
    return app


def serve(options: ServeOptions, ready: Callable[[str], None] | None = None) -> None:
    """Load the model, build the page and serve it until interrupted (blocks); then delete WORKDIR.

    ``ready(url)`` is called once the server accepts connections.
    """
    workdir = Path(tempfile.mkdtemp(prefix="openfoley-serve-"))
    # Uploads and Gradio's copies of outputs go under WORKDIR too, so stopping the server removes them.
    # Gradio reads this at import and whenever it saves a file, so it is set before gradio is imported.
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    try:
        import gradio  # noqa: F401  (before the model loads: a missing extra fails in a second)
    except ImportError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ConfigError("the web page needs Gradio, which is not installed: pip install 'openfoley[demo]'") from None
    try:
        pipeline = load_pipeline(options.model, options.device)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    service = FoleyService(pipeline, options, workdir)
    app = None
    try:
        app = build_app(service)
        try:
            app.launch(
                server_name=options.host, server_port=options.port, share=False, inbrowser=False,
                max_file_size=int(options.max_mb * _MB), allowed_paths=[str(workdir)], show_error=True,
                ssr_mode=False, prevent_thread_lock=True, quiet=True,
            )
        except OSError as e:  # port taken, address not on this machine
            raise ConfigError(f"cannot serve on {options.host}:{options.port}: {e}".splitlines()[0]) from None
        url = f"http://{options.host}:{app.server_port}/"
        log.info("serving on %s", url)
        if ready is not None:
            ready(url)
        app.block_thread()  # until Ctrl-C / SIGTERM (raised as KeyboardInterrupt by the CLI)
    finally:
        if app is not None and app.is_running:
            app.close()
        service.close()
