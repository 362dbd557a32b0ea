"""Bytes to tensors and back: probe, read/write video and audio, mux, atomic output files.

Everything here works on real files through PyAV (FFmpeg) and soundfile. Times are seconds on the
file's clock (0 = the container's start); see ``docs/io.md`` for the conventions and measurements.

    probe(path) -> ProbeResult
    read_video(path, fps, size, start, duration, resize) -> VideoClip   frames uint8 (t, 3, h, w)
    iter_video_windows(path, fps, size, window, hop, resize) -> Iterator[VideoClip]
    iter_frame_windows(...)  the same windows as numpy uint8 (t, 3, h, w) (no torch: the lite runtime)
    read_audio(path, sample_rate, start, duration) -> float32 (s,)
    write_audio(path, wav, sample_rate, force) / write_video(path, frames, fps, audio, ...)
    mux(video_in, audio, sample_rate, out, keep_original_audio, force, video="auto"|"copy"|"reencode")
    copy_refusal(video_in, out) -> why its video stream cannot be copied into out's container, or None
    check_copy(video_in, out)          the same as an OutputError naming the files
    atomic_output(path, force, inputs) -> temp path, moved into place on success
"""

from openfoley.io.atomic import atomic_output, check_output
from openfoley.io.audio import read_audio, write_audio
from openfoley.io.jsonl import iter_jsonl
from openfoley.io.mux import VIDEO_MODES, check_copy, copy_refusal, mux
from openfoley.io.probe import AudioInfo, ProbeResult, VideoInfo, open_media, probe
from openfoley.io.video import VideoClip, iter_frame_windows, iter_video_windows, read_video, write_video

__all__ = [
    "AudioInfo",
    "ProbeResult",
    "VideoClip",
    "VIDEO_MODES",
    "VideoInfo",
    "atomic_output",
    "iter_jsonl",
    "check_copy",
    "copy_refusal",
    "check_output",
    "iter_frame_windows",
    "iter_video_windows",
    "mux",
    "open_media",
    "probe",
    "read_audio",
    "read_video",
    "write_audio",
    "write_video",
]
