"""``openfoley generate VIDEO|DIR [-o OUT]``: sound for silent video, muxed under the original picture.

A thin layer over ``openfoley.lite.LitePipeline`` (numpy + ONNX Runtime, the default on a CPU: no torch
import) or ``openfoley.pipeline.FoleyPipeline`` (torch: GPUs, the neural vocoder); ``--runtime``. For a file it writes ``OUT.mp4`` (the input's
video packets copied, or re-encoded as H.264 when the output container cannot hold them (``--video``);
the generated sound as AAC; the original audio dropped unless ``--keep-original-audio``), ``OUT.wav``
next to it and, with ``--plot``, ``OUT.png``. A re-encode is announced in one line on stderr and has a
progress bar. The default OUT
is ``VIDEO_foley.mp4`` beside the input, never the input itself. For a folder, every video in it is
generated into the output folder (default ``DIR_foley``) with a progress bar; a file that fails is
reported and skipped, and the exit code is 2 unless all succeeded.

Every output is checked before any work and written to a temporary file that is renamed into place
only when all of a video's outputs are complete, so a failure leaves no partial file.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

from openfoley.errors import ConfigError, MediaError, OpenFoleyError, OutputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ogv", ".ogg", ".mpg", ".mpeg", ".vob", ".flv", ".ts",
                  ".mts", ".m2ts", ".3gp", ".wmv", ".asf", ".gif")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate Foley sound for a video (or a folder of videos)",
                       description="Generate synchronised sound for a video with the built-in model (or "
                                   "--model). Writes OUT.mp4 (the video, copied or re-encoded: --video; "
                                   "+ the generated audio) and "
                                   "OUT.wav; a folder in gives a folder out.")
    p.add_argument("video", metavar="VIDEO|DIR", help="a video file, or a folder of videos")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output .mp4/.mkv/.mov (file input) or folder (folder input); "
                        "default VIDEO_foley.mp4 / DIR_foley")
    p.add_argument("--model", default="builtin", help="weights folder or training run folder (default: built-in)")
    p.add_argument("--steps", type=int, default=None, help="ODE steps (default: the model's flow.steps)")
    p.add_argument("--cfg-scale", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--onset-guidance", type=float, default=None,
                   help="steer sound onsets to the video's predicted onsets (0 = off; default: the model's "
                        "flow.onset_guidance; models with an onset head only)")
    p.add_argument("--solver", default=None, help="euler, midpoint or heun (ddpm models: ddim or ancestral)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same sound (default: 0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--vocoder", default="auto", help="auto (default), neural or griffinlim")
    p.add_argument("--plot", action="store_true",
                   help="also write OUT.png: key frames with their times, the spectrogram, the video's predicted "
                        "events and the detected onsets")
    p.add_argument("--start", type=float, default=0.0, help="section start in seconds (default: 0)")
    p.add_argument("--duration", type=float, default=None, help="section length in seconds (default: to the end)")
    p.add_argument("--keep-original-audio", action="store_true", help="keep the input's audio as a second track")
    p.add_argument("--video", dest="video_mode", choices=("auto", "copy", "reencode"), default="auto",
                   help="auto (default): copy the video stream if the output container can hold it, else "
                        "re-encode it as H.264; copy: never re-encode (an error if it cannot be copied); "
                        "reencode: always H.264")
    p.add_argument("--runtime", choices=("auto", "lite", "torch"), default="auto",
                   help="auto (default): lite on a CPU for models it runs, else torch; lite: numpy + ONNX "
                        "Runtime, no torch import (built once per model into a cache); torch: the PyTorch "
                        "pipeline (GPUs, the neural vocoder, every generator kind)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def outputs_for(mp4: Path, plot: bool) -> dict[str, Path]:
    """The files one video produces, keyed by kind."""
    out = {"video": mp4, "wav": mp4.with_suffix(".wav")}
    if plot:
        out["png"] = mp4.with_suffix(".png")
    return out


def default_output(video: Path) -> Path:
    return video.with_name(f"{video.stem}_foley.mp4")


def check_outputs(video: Path, outs: dict[str, Path], force: bool, video_mode: str = "auto") -> None:
    """Refuse unusable outputs before any work (same file as the input, exists without --force, a video
    stream that ``--video copy`` cannot copy into the output's container, ...)."""
    from openfoley.io import check_copy, check_output

    if outs["video"].suffix.lower() not in (".mp4", ".mkv", ".mov", ".m4v"):
        raise OutputError(f"{outs['video']}: output must end in .mp4, .mkv, .mov or .m4v")
    for p in outs.values():
        check_output(p, force=force, inputs=(video,))
    if video_mode == "copy":
        check_copy(video, outs["video"])


def generate_one(pipe, video: Path, outs: dict[str, Path], args: argparse.Namespace, progress=None) -> None:
    """Generate for ``video`` and write ``outs`` all-or-nothing."""
    from openfoley.io import atomic_output, write_audio
    from openfoley.pipeline import plot_result

    check_outputs(video, outs, args.force, args.video_mode)
    res = pipe(video, steps=args.steps, cfg_scale=args.cfg_scale, solver=args.solver, seed=args.seed,
               start=args.start, duration=args.duration, progress=progress, onset_guidance=args.onset_guidance)
    with contextlib.ExitStack() as stack:
        tmp = {k: stack.enter_context(atomic_output(p, force=args.force, inputs=(video,))) for k, p in outs.items()}
        write_audio(tmp["wav"], res.wav, res.sample_rate, force=True)
        bar = stack.enter_context(_ReencodeBar(video.name, disable=args.no_progress))
        try:
            res.mux(video, tmp["video"], video=args.video_mode, keep_original_audio=args.keep_original_audio,
                    force=True, progress=bar.update, on_reencode=bar.announce)
        except OutputError as e:  # name the output the user asked for, not its temporary file
            raise OutputError(str(e).replace(str(tmp["video"]), str(outs["video"]))) from None
        if "png" in tmp:
            plot_result(res, tmp["png"], force=True)


class _ReencodeBar:
    """The one line that says a video is re-encoded, then a progress bar of its frames (stderr)."""

    def __init__(self, name: str, disable: bool) -> None:
        self.name, self.disable, self.bar = name, disable, None

    def announce(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"openfoley generate: {line}", file=sys.stderr)
        self.bar = tqdm(total=None, desc=f"re-encode {self.name}", unit="frame", disable=self.disable,
                        file=sys.stderr, leave=False)

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def __enter__(self) -> _ReencodeBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def load_pipeline(args: argparse.Namespace):
    """The pipeline ``lite.cache.pick_runtime`` picks for ``--runtime``, ``--device``, ``--vocoder`` and
    ``--model``, loaded: ``LitePipeline`` or ``FoleyPipeline``."""
    from openfoley.lite.cache import pick_runtime

    if pick_runtime(args.runtime, args.model, args.device, args.vocoder) == "lite":
        from tqdm import tqdm

        from openfoley.lite.runtime import LitePipeline

        return LitePipeline.from_pretrained(
            args.model, on_build=lambda line: tqdm.write(f"openfoley generate: {line}", file=sys.stderr))
    from openfoley.pipeline import FoleyPipeline

    return FoleyPipeline.from_pretrained(args.model, device=args.device, vocoder=args.vocoder)


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                  and not p.name.startswith("."))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    src = Path(args.video)
    if args.onset_guidance is not None and not (args.onset_guidance >= 0 and math.isfinite(args.onset_guidance)):
        raise ConfigError(f"--onset-guidance must be a finite number >= 0, got {args.onset_guidance}")
    if not src.exists():
        raise MediaError(f"{src}: no such file or folder")
    if src.is_dir():
        videos = _videos_in(src)
        if not videos:
            raise MediaError(f"{src}: no video files in this folder ({', '.join(VIDEO_SUFFIXES)})")
        out_dir = Path(args.output) if args.output else src.with_name(f"{src.name}_foley")
        if out_dir.resolve() == src.resolve():
            raise OutputError(f"{out_dir}: output folder is the input folder; choose another")
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputError(f"{out_dir}: output must be a folder for a folder of videos")
        pipe = load_pipeline(args)
        out_dir.mkdir(parents=True, exist_ok=True)
        failed: list[tuple[Path, str]] = []
        bar = tqdm(videos, desc="generate", unit="video", disable=args.no_progress, file=sys.stderr)
        for v in bar:
            bar.set_postfix_str(v.name)
            try:
                generate_one(pipe, v, outputs_for(out_dir / f"{v.stem}.mp4", args.plot), args)
            except OpenFoleyError as e:
                if args.debug:
                    raise
                failed.append((v, str(e)))
                tqdm.write(f"openfoley generate: error: {e}", file=sys.stderr)
        bar.close()
        done = len(videos) - len(failed)
        print(f"generated {done} of {len(videos)} videos into {out_dir}"
              + (f"; {len(failed)} failed: " + ", ".join(v.name for v, _ in failed) if failed else ""))
        return 2 if failed else 0
    out = Path(args.output) if args.output else default_output(src)
    outs = outputs_for(out, args.plot)
    check_outputs(src, outs, args.force, args.video_mode)  # refuse bad outputs before loading anything
    pipe = load_pipeline(args)
    # One step per model window, with the elapsed time and an ETA (tqdm's remaining time from the mean
    # window time so far); the pipeline reports the window count before the first window.
    with tqdm(total=None, desc=src.name, unit="window", disable=args.no_progress, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(done - bar.n)
            if done == total:
                bar.close()  # before a re-encode's line and bar

        generate_one(pipe, src, outs, args, progress)
    print("\n".join(f"wrote {p}" for p in outs.values()))
    return 0
