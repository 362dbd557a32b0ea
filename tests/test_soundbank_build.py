"""End to end: build a small bank from fake Debian packages the test makes (nothing is downloaded).

Three packages laid out like the real ones: plain ogg files (minetest-data), a pk3 zip (ufoai-sound),
a Qt .rcc written by our own writer holding sounds and pictures (gcompris-qt-data). They contain a
gain-changed copy, a re-encoded copy, a byte-identical copy across packages, a silence-padded clip,
a long walking recording to split, an over-long continuous sound to crop, and unlabelled files.
"""

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from openfoley.data.soundbank import BankSettings, build_sound_bank, write_rcc
from openfoley.data.soundbank.finalise import MANIFEST_KEYS
from openfoley.data.soundbank.images import PNG_SIGNATURE
from openfoley.errors import OutputError

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is needed to make .debs")

SR = 16000
MT = "usr/share/games/minetest/games/minetest_game/mods"


def burst(seed: int, seconds: float = 0.4, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.06 * sr))
    k = int(rng.integers(2, 10))
    x = np.convolve(x, np.ones(k) / k, mode="same")
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def enc(x: np.ndarray, fmt: str = "OGG", sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype="VORBIS" if fmt == "OGG" else "PCM_16")
    return buf.getvalue()


def png_bytes() -> bytes:
    import av

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    c = av.CodecContext.create("png", "w")
    c.width = c.height = 8
    c.pix_fmt = "rgba"
    return b"".join(bytes(p) for p in c.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")) + c.encode(None))


def make_deb(tmp: Path, name: str, files: dict[str, bytes], out: Path, copyright: str) -> None:
    root = tmp / f"pkg-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 0.0-test\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n")
    files = {**files, f"usr/share/doc/{name}/copyright": copyright.encode()}
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root),
                    str(out / f"{name}_0.0-test_all.deb")], check=True, capture_output=True)


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("debs")
    out = tmp / "debs"
    out.mkdir()
    wood1, wood2, wood3 = burst(1), burst(2), burst(3)
    steps = np.concatenate([np.concatenate([burst(20 + i, 0.3), np.zeros(int(0.45 * SR), np.float32)])
                            for i in range(4)])
    padded = np.concatenate([np.zeros(int(0.5 * SR), np.float32), burst(7, 0.3), np.zeros(int(0.7 * SR), np.float32)])
    fire = (0.1 * np.random.default_rng(9).standard_normal(12 * SR)).astype(np.float32)
    mt = {
        f"{MT}/default/sounds/default_wood_footstep.1.ogg": enc(wood1),
        f"{MT}/default/sounds/default_wood_footstep.2.ogg": enc(wood2),
        f"{MT}/default/sounds/default_wood_footstep.3.ogg": enc(wood3),
        f"{MT}/default/sounds/default_gravel_footstep.1.ogg": enc(burst(5)),
        f"{MT}/default/sounds/default_gravel_footstep.2.ogg": enc(padded),
        f"{MT}/default/sounds/default_snow_footstep.1.ogg": enc(burst(6)),
        f"{MT}/default/sounds/default_hard_footstep.1.ogg": enc(steps),
        # duplicates (met after their originals: members go in path order): wood1 at -10 dB gain,
        # wood2 re-encoded as 22.05 kHz PCM wav
        f"{MT}/tnt/sounds/tnt_explode.ogg": enc(0.316 * wood1),
        f"{MT}/xpanes/sounds/xpanes_steel_bar_door_close.wav": enc(
            np.interp(np.arange(int(0.4 * 22050)) / 22050, np.arange(wood2.size) / SR, wood2).astype(np.float32),
            "WAV", 22050),
        f"{MT}/fire/sounds/fire_fire.1.ogg": enc(fire),
        f"{MT}/fire/sounds/fire_small.ogg": enc((0.1 * np.random.default_rng(12).standard_normal(3 * SR)).astype(np.float32)),
        f"{MT}/soundstuff/sounds/soundstuff_mono.ogg": enc(burst(8)),  # no rule: unlabelled
    }
    make_deb(tmp, "minetest-data", mt, out,
             "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
             "Files: *\nCopyright: x\nLicense: LGPL-2.1+\n\nFiles: *.ogg\nCopyright: x\nLicense: CC-BY-SA-3.0\n\n"
             "Files: mtg/mods/fire/*\nCopyright: x\nLicense: CC0-1.0\n")
    pk3 = io.BytesIO()
    with zipfile.ZipFile(pk3, "w") as z:
        z.writestr("sound/footsteps/wood1.ogg", enc(burst(10)))
        z.writestr("sound/footsteps/wood2.ogg", mt[f"{MT}/default/sounds/default_wood_footstep.3.ogg"])  # same bytes
        z.writestr("sound/geoscape/info.ogg", enc(burst(11)))  # UI: unlabelled
    make_deb(tmp, "ufoai-sound", {"usr/share/games/ufoai/base/0snd.pk3": pk3.getvalue()}, out,
             "Files: *\nCopyright: x\nLicense: GPL-2+\n")
    base = "gcompris/src/activities/explore_farm_animals/resource/animals"
    rcc = write_rcc({f"{base}/horse.ogg": enc(burst(30, 0.8)), f"{base}/horse.png": png_bytes(),
                     f"{base}/pig.ogg": enc(burst(31, 0.8)), f"{base}/pig.svg": b"<svg/>"})
    make_deb(tmp, "gcompris-qt-data", {"usr/share/gcompris-qt/rcc/explore_farm_animals.rcc": rcc}, out,
             "Files: *\nCopyright: x\nLicense: GPL-3+\n")
    public = io.BytesIO()  # 0 A.D.: a second horse and pig, so those classes reach min_clips
    with zipfile.ZipFile(public, "w") as z:
        z.writestr("audio/actor/fauna/animal/horse_idle_01.ogg", enc(burst(40, 0.6)))
        z.writestr("audio/actor/fauna/animal/pig_01.ogg", enc(burst(41, 0.6)))
        z.writestr("audio/music/theme.ogg", enc(burst(42, 0.6)))  # music: dropped
    make_deb(tmp, "0ad-data", {"usr/share/games/0ad/mods/public/public.zip": public.getvalue()}, out,
             "Files: *\nCopyright: x\nLicense: CC-BY-SA-3.0\n")
    return out


PKGS = ["minetest-data", "ufoai-sound", "gcompris-qt-data", "0ad-data"]
SETTINGS = BankSettings(min_clips=2)


@pytest.fixture(scope="module")
def bank(debs, tmp_path_factory):
    out = tmp_path_factory.mktemp("bank") / "bank"
    cache = tmp_path_factory.mktemp("cache")
    summary = build_sound_bank(out, PKGS, from_dir=debs, cache=cache, settings=SETTINGS, progress=False)
    return out, cache, summary


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_manifest_rows_and_audio(bank):
    out, _, summary = bank
    rows = manifest(out)
    assert rows and all(tuple(r) == MANIFEST_KEYS for r in rows)
    assert len({r["id"] for r in rows}) == len(rows) == summary["clips"]
    for r in rows:
        info = sf.info(out / r["audio"])
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert info.frames / SR == pytest.approx(r["duration"], abs=1e-4)
        assert r["duration"] <= SETTINGS.max_seconds


def test_labels_merge_and_licences(bank):
    out, _, _ = bank
    rows = manifest(out)
    by_class = {}
    for r in rows:
        by_class.setdefault(r["class"], []).append(r)
    # wood: 3 minetest + 1 pk3 (its byte-identical copy and the two re-encoded/gain copies are gone)
    assert len(by_class["footstep on wood"]) == 4
    # the long walk split into its 4 steps
    assert len(by_class["footstep on stone"]) == 4
    # gravel (2) stays; snow (1) merges into its parent "footstep", still 1 < 2 clips with no parent: dropped
    assert len(by_class["footstep on gravel"]) == 2 and "footstep on snow" not in by_class
    assert "footstep" not in by_class
    classes = json.loads((out / "classes.json").read_text())
    assert set(classes) == set(by_class)
    assert all(classes[c]["clips"] == len(v) for c, v in by_class.items())
    bank_json = json.loads((out / "bank.json").read_text())
    assert bank_json["dropped_rare_classes"] == {"footstep on snow": 1}
    assert len(by_class["horse"]) == 2 and {r["package"] for r in by_class["horse"]} == {"gcompris-qt-data", "0ad-data"}
    lic = {r["path"].rsplit("/", 1)[-1]: r["licence"] for r in rows}
    assert lic["default_wood_footstep.1.ogg"] == "CC-BY-SA-3.0"
    assert lic["wood1.ogg"] == "GPL-2+"


def test_dedupe_counts(bank):
    out, _, summary = bank
    mt = summary["per_package"]["minetest-data"]
    assert summary["per_package"]["ufoai-sound"]["duplicate_files"] == 1  # byte-identical across packages
    assert mt["duplicate_events"] == 2 and mt["duplicate_files"] == 0  # gain-changed and re-encoded copies
    assert mt["unlabelled"] == 1 and summary["per_package"]["ufoai-sound"]["unlabelled"] == 1
    paths = {r["path"].rsplit("/", 1)[-1] for r in manifest(out)}
    assert not paths & {"tnt_explode.ogg", "xpanes_steel_bar_door_close.wav", "0snd.pk3!sound/footsteps/wood2.ogg"}


def test_trim_and_crop(bank):
    out, _, _ = bank
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in manifest(out)}
    # 1.5 s file holding a 0.3 s burst padded with silence: cut to the burst, at most 2 pads of 20 ms and
    # one 10 ms frame of rounding at each end beyond it (Vorbis may smear the onset by a few ms)
    assert 0.2 < rows["default_gravel_footstep.2.ogg"]["duration"] <= 0.3 + 2 * SETTINGS.trim_pad + 0.02 + 1e-9
    assert rows["fire_fire.1.ogg"]["duration"] == pytest.approx(SETTINGS.max_seconds)


def test_images_from_rcc(bank):
    out, _, summary = bank
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in manifest(out)}
    horse = rows["explore_farm_animals.rcc!gcompris/src/activities/explore_farm_animals/resource/animals/horse.ogg"
                 .rsplit("/", 1)[-1]]
    assert horse["class"] == "horse" and horse["image"] == "images/gc-horse.png"
    assert (out / horse["image"]).read_bytes().startswith(PNG_SIGNATURE)
    assert rows["pig.ogg"]["image"] is None  # SVG only: not rasterised, counted
    assert summary["per_package"]["gcompris-qt-data"]["svg_images_skipped"] == 1
    assert json.loads((out / "classes.json").read_text())["horse"]["images"] == ["images/gc-horse.png"]
    assert summary["per_package"]["0ad-data"]["unlabelled"] == 1


def test_rerun_is_idempotent_and_resumes(bank, debs):
    out, cache, _ = bank
    before = {n: (out / n).read_bytes() for n in ("manifest.jsonl", "classes.json", "bank.json")}
    build_sound_bank(out, PKGS, from_dir=debs, cache=cache, settings=SETTINGS, progress=False)
    assert {n: (out / n).read_bytes() for n in before} == before
    # simulate an interruption: forget the last members of one package and its done marker
    state = out / ".work" / "minetest-data.jsonl"
    lines = state.read_text().splitlines()
    state.write_text("\n".join(lines[:-3]) + "\n" + lines[-3][:20])  # last line cut mid-way
    (out / ".work" / "minetest-data.done").unlink()
    build_sound_bank(out, PKGS, from_dir=debs, cache=cache, settings=SETTINGS, progress=False)
    assert {n: (out / n).read_bytes() for n in before} == before
    with pytest.raises(OutputError, match="other settings"):
        build_sound_bank(out, PKGS, from_dir=debs, cache=cache, settings=BankSettings(min_clips=3), progress=False)


def test_cli(debs, tmp_path):
    from openfoley.cli import main

    out = tmp_path / "b"
    rc = main(["data", "sound-bank", "--out", str(out), "--from", str(debs), "--cache", str(tmp_path / "c"),
               "--packages", "ufoai-sound", "--min-clips", "1", "--no-progress"])
    assert rc == 0
    rows = manifest(out)
    assert sorted(r["class"] for r in rows) == ["footstep on wood", "footstep on wood"]
    assert main(["data", "sound-bank", "--out", str(out), "--packages", "no-such-package-xyz",
                 "--from", str(debs), "--cache", str(tmp_path / "c2"), "--no-progress"]) == 2
