"""Contact sheets and the PNG writer: exact round trips, a tone's spectrogram row, the CLI end to end."""

import numpy as np
import pytest

from openfoley.cli import main
from openfoley.data.foleyworld.bank import load_bank
from openfoley.data.foleyworld.contact import spectrogram, text
from openfoley.data.foleyworld.render import render_split
from openfoley.data.foleyworld.scenes import RenderConfig
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.errors import DataError
from openfoley.io.image import encode_png, read_png, write_png


def test_png_round_trip_exact(tmp_path):
    rng = np.random.default_rng(0)
    for c in (3, 4):
        im = rng.integers(0, 256, (13, 29, c), dtype=np.uint8)
        write_png(tmp_path / f"x{c}.png", im)
        back = read_png(tmp_path / f"x{c}.png")  # FFmpeg's decoder reads what our encoder wrote
        assert back.shape == (13, 29, 4)
        assert np.array_equal(back[..., :c], im) and (c == 4 or (back[..., 3] == 255).all())
    assert encode_png(np.zeros((1, 1, 3), np.uint8))[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(DataError, match="picture not found"):
        read_png(tmp_path / "none.png")
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4), np.uint8))


def test_spectrogram_puts_a_tone_on_its_row():
    sr, height = 16000, 65
    t = np.arange(sr) / sr
    for freq, row in [(4000.0, 32), (2000.0, 48), (6000.0, 16)]:  # rows run from 8 kHz (top) to 0 Hz
        pic = spectrogram(np.sin(2 * np.pi * freq * t).astype(np.float32), sr, height, 50)
        assert pic.shape == (height, 50, 3)
        brightness = pic.astype(int).sum((1, 2))
        assert int(np.argmax(brightness)) == row


def test_text_draws_known_glyph():
    im = np.zeros((10, 8, 3), np.uint8)
    assert text(im, 0, 0, "l", scale=1) == 4
    assert (im[:5, :3, 0] > 0).astype(int).tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 1]]


def test_contact_sheet_command(tmp_path, capsys):
    bank = load_bank(make_synth_bank(tmp_path / "bank", seed=2, clips_per_class=(2, 2)))
    cfg = RenderConfig(seconds=2.0, size=64, margin=4)
    render_split(bank.root, tmp_path / "fw", "test-closed", 2, cfg=cfg, progress=False, preset="ultrafast")
    out = tmp_path / "sheet.png"
    assert main(["data", "contact-sheet", "--clips", str(tmp_path / "fw" / "test-closed"), "--out", str(out),
                 "--thumbs", "4"]) == 0
    sheet = read_png(out)
    assert sheet.shape[1] == 4 * 96 + 3 * 4  # four thumbnails and three gaps
    assert sheet.shape[0] > 2 * 200
    assert main(["data", "contact-sheet", "--clips", str(tmp_path / "fw" / "test-closed"), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["data", "contact-sheet", "--clips", str(tmp_path / "none"), "--out", str(tmp_path / "b.png")]) == 2
    assert "not found" in capsys.readouterr().err
