"""Sound bank building blocks with exact answers: rcc reader/writer, fingerprints, trim, normalise, split,
taxonomy rules, the rare-class rule and DEP-5 licence matching."""

import io
import struct
import zlib

import numpy as np
import pytest
import soundfile as sf

from openfoley.data.soundbank import fingerprint as fpm
from openfoley.data.soundbank import process, taxonomy
from openfoley.data.soundbank.packages import _pair_images, read_copyright
from openfoley.data.soundbank.rcc import iter_rcc, write_rcc
from openfoley.errors import DataError

SR = 16000


def burst(seed: int, seconds: float = 0.4) -> np.ndarray:
    """A decaying noise burst (an impact-like sound), different for each seed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    env = np.exp(-np.arange(n) / (0.08 * SR))
    x = rng.standard_normal(n) * env
    # colour it per seed so bursts differ in spectrum too
    k = rng.integers(2, 12)
    x = np.convolve(x, np.ones(k) / k, mode="same")
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


# --- rcc ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("compress", [True, False])
def test_rcc_round_trip(version, compress):
    files = {"gcompris/src/a/horse.ogg": b"OggS" + bytes(range(200)), "gcompris/src/a/horse.png": b"\x89PNG..",
             "top.txt": b"", "gcompris/src/b/c/d.wav": b"RIFF" * 50}
    blob = write_rcc(files, compress=compress, version=version)
    assert dict(iter_rcc(blob)) == files


def test_rcc_hand_made_blob():
    """A blob assembled byte by byte from the documented layout (v1, one zlib file at the root)."""
    payload = b"hello qt"
    comp = struct.pack(">I", len(payload)) + zlib.compress(payload)
    data = struct.pack(">I", len(comp)) + comp
    name = "x.bin".encode("utf-16-be")
    names = struct.pack(">HI", 5, 0) + name
    root = struct.pack(">IHII", 0, 2, 1, 1)  # directory, 1 child, first child index 1
    child = struct.pack(">IHHHI", 0, 1, 0, 0, 0)  # name at 0, zlib, data at 0
    data_off = 20
    names_off = data_off + len(data)
    tree_off = names_off + len(names)
    blob = b"qres" + struct.pack(">IIII", 1, tree_off, data_off, names_off) + data + names + root + child
    assert list(iter_rcc(blob)) == [("x.bin", b"hello qt")]


def test_rcc_zstd_and_garbage_raise_data_error():
    blob = bytearray(write_rcc({"a.ogg": b"abc"}, compress=False, version=1))
    (tree_off,) = struct.unpack_from(">I", blob, 8)
    struct.pack_into(">H", blob, tree_off + 14 + 4, 4)  # child node flags := zstd
    try:
        import compression.zstd  # noqa: F401
        has_zstd = True
    except ImportError:
        try:
            import zstandard  # noqa: F401
            has_zstd = True
        except ImportError:
            has_zstd = False
    if not has_zstd:
        with pytest.raises(DataError, match="zstd"):
            list(iter_rcc(bytes(blob), "t.rcc"))
    with pytest.raises(DataError, match="not a Qt resource"):
        list(iter_rcc(b"PK\x03\x04" + bytes(30), "t.rcc"))


# --- fingerprints -----------------------------------------------------------------------------------

def test_fingerprint_gain_invariant_and_distinct():
    a, b = burst(1, 1.0), burst(2, 1.0)
    fa = fpm.fingerprint(a)
    steady = np.random.default_rng(0).standard_normal(SR)  # all frames loud: one word per hop but the first
    assert fpm.fingerprint(steady).size == (SR - fpm.FP_FRAME) // fpm.FP_HOP
    assert fa.dtype == np.uint32 and fa.size < fpm.fingerprint(steady).size  # the quiet tail is left out
    assert fpm.bit_error_rate(fa, fpm.fingerprint(0.1 * a)) < 0.01
    assert fpm.bit_error_rate(fa, fpm.fingerprint(b)) > 0.3
    assert np.array_equal(fpm.from_hex(fpm.to_hex(fa)), fa)


def test_fingerprint_survives_reencoding_and_shift():
    a = burst(3, 1.5)
    buf = io.BytesIO()
    sf.write(buf, a, SR, format="OGG", subtype="VORBIS")
    re = process.decode(buf.getvalue(), "x.ogg", SR)
    assert fpm.bit_error_rate(fpm.fingerprint(a), fpm.fingerprint(re)) < 0.15
    shifted = np.concatenate([np.zeros(2 * fpm.FP_HOP, np.float32), a])
    assert fpm.bit_error_rate(fpm.fingerprint(a), fpm.fingerprint(shifted)) < 0.05


def test_bit_error_rate_exact():
    a = np.array([0, 0, 0, 0, 0], np.uint32)
    b = np.array([0xFFFFFFFF, 0, 0, 0, 1], np.uint32)  # 33 differing bits over 5 words
    assert fpm.bit_error_rate(a, b, max_shift=0) == pytest.approx(33 / 160)


def test_dedup_index():
    idx = fpm.DedupIndex(threshold=0.15)
    fa = fpm.fingerprint(burst(1, 1.0))
    idx.add("a", fa, "k1")
    assert idx.find_exact("k1") == "a" and idx.find_exact("k2") is None
    assert idx.find_near(fpm.fingerprint(0.5 * burst(1, 1.0)))[0] == "a"
    assert idx.find_near(fpm.fingerprint(burst(2, 1.0))) is None


# --- signal steps -----------------------------------------------------------------------------------

def test_trim_exact():
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(0.3 * SR)) / SR).astype(np.float32)
    x = np.concatenate([np.zeros(int(0.5 * SR), np.float32), tone, np.zeros(int(0.4 * SR), np.float32)])
    y = process.trim(x, SR, pad=0.02)
    assert y.size == int(0.34 * SR)
    assert np.array_equal(y[int(0.02 * SR):int(0.32 * SR)], tone)
    assert process.trim(np.zeros(1000, np.float32), SR).size == 0


def test_normalise_sets_active_rms_and_caps_peak():
    tone = 0.01 * np.sin(2 * np.pi * 400 * np.arange(SR) / SR)  # RMS 0.01/sqrt(2)
    y, gain = process.normalise(tone, SR, target_db=-20.0, peak_db=-1.0)
    assert 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2))) == pytest.approx(-20.0, abs=1e-3)
    assert gain == pytest.approx(-20.0 - 20 * np.log10(0.01 / np.sqrt(2)), abs=1e-3)
    spike = np.zeros(SR)
    spike[100] = 0.5
    spike[200:400] = 0.001
    y, _ = process.normalise(spike, SR, target_db=-3.0, peak_db=-1.0)
    assert np.abs(y).max() == pytest.approx(10 ** (-1 / 20), rel=1e-5)


def test_split_events_exact_boundaries():
    parts = []
    for _ in range(3):
        parts += [np.full(int(0.2 * SR), 0.3, np.float32), np.zeros(int(0.3 * SR), np.float32)]
    x = np.concatenate(parts[:-1])
    got = process.split_events(x, SR, min_gap=0.15)
    step = int(0.5 * SR)
    assert got == [(k * step, k * step + int(0.2 * SR)) for k in range(3)]
    assert len(process.split_events(x, SR, min_gap=0.4)) == 1


# --- taxonomy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("package,path,label", [
    ("0ad-data", "usr/share/games/0ad/mods/public/public.zip!audio/attack/impact/arrow_metal_03.ogg",
     ("impact", "arrow on metal")),
    ("0ad-data", "x/public.zip!audio/actor/singlesteps/fs_rock3.ogg", ("footsteps", "footstep on stone")),
    ("0ad-data", "x/public.zip!audio/actor/fauna/animal/horse_idle_02.ogg", ("animal", "horse")),
    ("0ad-data", "x/public.zip!audio/music/Along_the_Nile.ogg", None),
    ("0ad-data", "x/public.zip!audio/voice/greek/civ/civ_female_attack_1.ogg", None),
    ("ufoai-sound", "x/base/0snd.pk3!sound/footsteps/snow3.ogg", ("footsteps", "footstep on snow")),
    ("ufoai-sound", "x/base/0snd.pk3!sound/misc/breakglass04.ogg", ("break", "glass breaking")),
    ("ufoai-sound", "x/base/0snd.pk3!sound/aliens/ortnok/die1.ogg", None),
    ("minetest-data", "x/mods/default/sounds/default_gravel_footstep.2.ogg", ("footsteps", "footstep on gravel")),
    ("minetest-data", "x/mods/doors/sounds/doors_steel_door_close.ogg", ("door", "door closing")),
    ("gcompris-qt-data", "r/instruments.rcc!gcompris/src/activities/instruments/resource/snare_drum.ogg",
     ("drum", "snare drum")),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/birds/rooster.ogg", ("animal", "chicken")),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/birds/rooster_desc.ogg", ("speech", "speech")),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/birds/rooster_desc_fr.ogg", None),
])
def test_classify(package, path, label):
    got = taxonomy.classify(package, path)
    assert (None if got is None else (got.group, got.fine)) == label


def test_drum_labels_from_instrument_names():
    names = {"Kick (Tama Superstar 22\")": "kick drum", "Snare Rimshot (Pearl)": "snare drum",
             "Rim Click": "rimshot", "Hi-Hat Pedal (Paiste)": "hi-hat", "Closed HH": "hi-hat",
             "Crash/Ride Bell (Paiste Rude Crash/Ride 18\")": "crash cymbal", "Floor Tom": "tom drum",
             "Hand Clap": "hand clap", "Zap 1": None}
    for name, fine in names.items():
        got = taxonomy.drum_label(name)
        assert (got.fine if got else None) == fine, name


def test_merge_rare_rule():
    counts = {"footstep on snow": 2, "footstep on ice": 2, "footstep on wood": 7, "footstep": 1,
              "horse": 3, "zebra": 2, "fireworks": 1}
    got = taxonomy.merge_rare(counts, min_clips=5)
    assert got == {"footstep on snow": "footstep", "footstep on ice": "footstep",
                   "footstep on wood": "footstep on wood", "footstep": "footstep",
                   "horse": "horse", "zebra": "horse", "fireworks": None}


def test_copyright_last_matching_stanza_wins(tmp_path):
    doc = tmp_path / "usr/share/doc/pkg"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: A\nLicense: GPL-2+\n\n"
        "Files: src/mods/doors/sounds/*\n data/extra.ogg\nCopyright: B\nLicense: CC0-1.0\n\n"
        "Files: debian/*\nCopyright: C\nLicense: MIT\n")
    rules = read_copyright(tmp_path, "pkg", "unknown")
    assert rules.licence_for("usr/share/games/x/mods/doors/sounds/a.ogg") == "CC0-1.0"
    assert rules.licence_for("usr/share/games/x/data/extra.ogg") == "CC0-1.0"
    assert rules.licence_for("usr/share/games/x/mods/tnt/sounds/a.ogg") == "GPL-2+"
    assert read_copyright(tmp_path, "absent", "unknown").licence_for("a.ogg") == "unknown"


def test_image_pairing():
    names = ["a/horse.ogg", "a/horse.svg", "a/horse.png", "a/chickens.ogg", "a/chicken.webp", "b/cow.ogg"]
    assert _pair_images(names) == {"a/horse.ogg": "a/horse.png", "a/chickens.ogg": "a/chicken.webp"}


def test_decode_falls_back_to_pyav_for_formats_libsndfile_lacks():
    import av

    buf = io.BytesIO()
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)).astype(np.float32)
    with av.open(buf, "w", format="adts") as c:  # raw AAC: libsndfile cannot read it
        s = c.add_stream("aac", rate=22050)
        s.layout = "mono"
        fr = av.AudioFrame.from_ndarray(x[None], format="flt", layout="mono")
        fr.sample_rate = 22050
        for p in list(s.encode(fr)) + list(s.encode(None)):
            c.mux(p)
    y = process.decode(buf.getvalue(), "x.aac", SR)
    assert abs(y.size - SR) < 0.1 * SR  # about 1 s (encoder priming/padding aside)
    assert np.sqrt(np.mean(y[2000:14000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_every_rule_names_a_known_group():
    rules = (taxonomy.RULES_0AD + taxonomy.RULES_UFO + taxonomy.RULES_MT + taxonomy.RULES_GC
             + [(None, g, f) for g, f in taxonomy.TUX_STEMS.values()] + taxonomy.DRUM_KEYWORDS)
    assert {g for _, g, _ in rules if g} <= set(taxonomy.GROUPS)


def test_hydrogen_kit_licence_prefers_debian_copyright(tmp_path):
    from openfoley.data.soundbank.build import _drumkit_licences, _licence
    from openfoley.data.soundbank.packages import Member

    doc = tmp_path / "usr/share/doc/hydrogen-drumkits"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files:\n drumkits/Gimme?A?Hand?1.0.h2drumkit\nCopyright: G\nLicense: GPL-2\n")
    kits = tmp_path / "usr/share/hydrogen/data/drumkits"
    for kit, lic in (("Gimme A Hand 1.0", "<license>GPL</license>"), ("Other", "<license>CC0</license>"),
                     ("Bare", "")):
        (kits / kit).mkdir(parents=True)
        (kits / kit / "drumkit.xml").write_text(f"<drumkit_info>{lic}</drumkit_info>")
    rules = read_copyright(tmp_path, "hydrogen-drumkits", "GPL-2+")
    kl = _drumkit_licences(tmp_path)
    rel = "usr/share/hydrogen/data/drumkits"

    def lic(kit):
        return _licence(Member(path=f"{rel}/{kit}/a.wav", read=bytes, logical=f"{rel}/{kit}/a.wav"), rules, kl)

    assert (lic("Gimme A Hand 1.0"), lic("Other"), lic("Bare")) == ("GPL-2", "CC0", "GPL-2+")


def test_split_peaks_separates_steps_over_background():
    rng = np.random.default_rng(0)
    x = 0.03 * rng.standard_normal(2 * SR)  # rustle ~ -30 dBFS, never silent
    onsets = [0.2, 0.7, 1.2, 1.7]
    for t in onsets:
        a = int(t * SR)
        x[a:a + 800] += 0.8 * np.exp(-np.arange(800) / 200.0) * rng.standard_normal(800)
    assert len(process.split_events(x, SR)) == 1  # no silent gaps
    got = process.split_peaks(x, SR)
    assert len(got) == 4 and got[0][0] == 0 and got[-1][1] == x.size
    for (a, b), t in zip(got, onsets, strict=True):
        assert a <= int(t * SR) < b  # each range holds its step's onset
    assert process.split_peaks(burst(1, 1.0), SR) == [(0, SR)]  # a single hit is not split
