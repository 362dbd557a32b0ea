"""VGGish and CNN14: published sizes and parameter names, forward shapes, weight-file round trips and
the errors for bad weight files. Never downloads; full-size models are built on the meta device."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from openfoley.errors import ModelError
from openfoley.evaluation.cnn14 import FRONTEND_PREFIXES, Cnn14, load_cnn14
from openfoley.evaluation.frontends import cnn14_log_mel, vggish_patches
from openfoley.evaluation.vggish import VGGish, load_vggish, load_weights, read_state_dict

TINY_VGG = dict(channels=(4, 8, 8, 8), hidden=16, embed_dim=12)
TINY_CNN = dict(channels=(4, 4, 8, 8, 8, 8), embed_dim=16, n_classes=5)


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Explicitly seeded random weights and batch-norm statistics (running_var kept positive)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
    return model.eval()


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_published_sizes_and_names():
    with torch.device("meta"):
        vgg, cnn = VGGish(), Cnn14()
    assert _n_params(vgg) == 72_141_184
    assert _n_params(cnn) == 80_753_615
    conv = [0, 3, 6, 8, 11, 13]
    assert list(vgg.state_dict()) == [f"features.{i}.{p}" for i in conv for p in ("weight", "bias")] + [
        f"embeddings.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    assert vgg.state_dict()["embeddings.0.weight"].shape == (4096, 512 * 6 * 4)
    assert cnn.state_dict()["fc_audioset.weight"].shape == (527, 2048)
    assert "conv_block6.conv2.weight" in cnn.state_dict() and "bn0.running_mean" in cnn.state_dict()


def test_vggish_on_frontend_patches():
    model = _randomise(VGGish(**TINY_VGG), 0)
    wav = np.random.default_rng(0).standard_normal(32000) * 0.1
    with torch.no_grad():
        emb = model(vggish_patches(wav))
    assert emb.shape == (2, 12) and torch.isfinite(emb).all()
    with pytest.raises(AssertionError, match="patches"):
        model(torch.zeros(1, 1, 95, 64))


def test_vggish_final_relu_option():
    a = _randomise(VGGish(**TINY_VGG), 1)
    b = VGGish(**TINY_VGG, final_relu=True).eval()
    b.load_state_dict(a.state_dict())  # same parameter names either way
    x = torch.randn(3, 1, 96, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        raw, relu = a(x), b(x)
    assert (raw < 0).any()
    torch.testing.assert_close(relu, raw.clamp(min=0))


def test_vggish_flatten_order_is_height_width_channel():
    """Weights converted from TensorFlow index the flattened features as (h, w, c)."""
    model = _randomise(VGGish(**TINY_VGG), 2)
    x = torch.randn(1, 1, 96, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        feats = model.features(x)[0]  # (c, 6, 4)
        lin = model.embeddings[0]
        h, w, c = 2, 3, 5
        flat_index = (h * 4 + w) * feats.shape[0] + c
        only = torch.zeros_like(lin.weight)
        only[:, flat_index] = lin.weight[:, flat_index]
        lin.weight.copy_(only)
        lin.bias.zero_()
        hidden = model.embeddings[1](lin(model.features(x).permute(0, 2, 3, 1).flatten(1)))
        expected = torch.relu(only[:, flat_index] * feats[c, h, w])
    torch.testing.assert_close(hidden[0], expected)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_vggish_weights_round_trip(tmp_path, suffix):
    src = _randomise(VGGish(**TINY_VGG), 3)
    path = tmp_path / f"vggish{suffix}"
    state = {k: v.contiguous() for k, v in src.state_dict().items()}
    torch.save(state, path) if suffix == ".pt" else save_file(state, str(path))
    dst = load_weights(_randomise(VGGish(**TINY_VGG), 4), path)
    x = torch.randn(2, 1, 96, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x), rtol=0, atol=0)
    assert not dst.training


def test_cnn14_forward_and_round_trip_with_frontend_keys(tmp_path):
    src = _randomise(Cnn14(**TINY_CNN), 5)
    x = cnn14_log_mel(np.random.default_rng(5).standard_normal(16000) * 0.1)  # 0.5 s: 51 frames
    with torch.no_grad():
        logits, emb = src(x), src.embed(x)
    assert logits.shape == (1, 5) and emb.shape == (1, 16)
    # Published checkpoints wrap the state dict under "model" and carry their front end's tensors.
    wrapped = {"model": {**src.state_dict(), "spectrogram_extractor.stft.conv_real.weight": torch.ones(3),
                         "logmel_extractor.melW": torch.ones(2, 2)}}
    torch.save(wrapped, tmp_path / "cnn14.pth")
    dst = load_weights(_randomise(Cnn14(**TINY_CNN), 6), tmp_path / "cnn14.pth",
                       ignore_prefixes=FRONTEND_PREFIXES)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), logits, rtol=0, atol=0)
    with pytest.raises(AssertionError, match="m >= 32"):
        src(torch.zeros(1, 1, 20, 64))


def test_weight_file_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_vggish(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="garbage.pt: cannot read"):
        read_state_dict(garbage)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(ModelError, match="state dict"):
        read_state_dict(listed)
    # CNN14 weights into VGGish: mismatched keys.
    torch.save(Cnn14(**TINY_CNN).state_dict(), tmp_path / "cnn.pt")
    with pytest.raises(ModelError, match=r"missing \[embeddings.0.bias.*unexpected \[bn0"):
        load_weights(VGGish(**TINY_VGG), tmp_path / "cnn.pt")
    # Same keys, other widths: mismatched shapes.
    torch.save(VGGish(**TINY_VGG).state_dict(), tmp_path / "tiny.pt")
    with pytest.raises(ModelError, match="shapes do not match"):
        load_weights(VGGish(channels=(4, 8, 8, 16), hidden=16, embed_dim=12), tmp_path / "tiny.pt")
    with pytest.raises(ModelError, match="do not match Cnn14"):
        load_cnn14(tmp_path / "tiny.pt")
