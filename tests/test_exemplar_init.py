"""benchmarks/exemplar_init.py: the start point and grid (exact answers), t0 = 0 is the model's own sampler
(bit for bit), t0 = 1 gives the exemplar back, and the one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from exemplar_init import grid_from, sample_from, start_point  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "exemplar_init.py"


def test_start_point_and_grid_exact():
    x0, x1 = torch.zeros(1, 2, 3), torch.full((1, 2, 3), 4.0)
    assert torch.equal(start_point(x0, x1, 0.25), torch.full((1, 2, 3), 1.0))
    assert torch.equal(start_point(x0, x1, 0.0), x0) and torch.equal(start_point(x0, x1, 1.0), x1)
    assert torch.allclose(grid_from(0.0, 8), torch.linspace(0, 1, 9))
    assert torch.allclose(grid_from(0.5, 8), torch.tensor([0.5, 0.625, 0.75, 0.875, 1.0]))
    assert torch.allclose(grid_from(0.95, 8), torch.tensor([0.95, 1.0]))  # at least one step


def test_t0_zero_is_the_model_sampler_and_t0_one_the_exemplar():
    from openfoley.pipeline import FoleyPipeline

    model = FoleyPipeline.from_pretrained("builtin", device="cpu").model
    cfg = model.cfg
    frames = torch.randint(0, 256, (1, cfg.video_frames, 3, cfg.video.size, cfg.video.size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    k = cfg.event_rate  # an event path at its own rate (alignment.event_fps) reads k frames per model frame
    ev = torch.randint(0, 256, (1, k * cfg.video_frames, 3, cfg.video.size, cfg.video.size), dtype=torch.uint8,
                       generator=torch.Generator().manual_seed(1)) if k > 1 else None
    vc = model.video_condition(frames, event_frames=ev)
    ex = torch.randn(1, cfg.audio_tokens, cfg.encoder.audio_patch * cfg.audio.n_mels)
    with torch.no_grad():
        own = model.sample_latent(vc, torch.Generator().manual_seed(3))
        ours = sample_from(model, vc, ex, 0.0, torch.Generator().manual_seed(3))
        assert torch.equal(ours, own)
        assert torch.equal(sample_from(model, vc, ex, 1.0, torch.Generator().manual_seed(3)), ex)


def test_bad_arguments_are_refused_in_one_line(tmp_path):
    for args in (["--clips", "0"], ["--t0", "1.5"], ["--foleyworld", str(tmp_path)]):
        r = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "o"), *args], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr
