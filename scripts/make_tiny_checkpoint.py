#!/usr/bin/env python
"""Generate a tiny, random-weight SD1.5-layout checkpoint for tests.

The file is a single ``.safetensors`` that ComfyUI's CheckpointLoaderSimple
detects as SD1.5:

* UNet under ``model.diffusion_model.``: model_channels 320, context_dim 768,
  conv (not linear) proj_in/proj_out, but only one resolution level
  (channel_mult [1], no down/upsampling), one res block, transformer depth 1
  and, by default, no middle block (``transformer_depth_middle`` -2: ComfyUI
  builds none), the smallest UNet ComfyUI still detects as SD1.5.
  ``middle_block=True`` / ``--middle-block`` adds the usual middle block (res,
  transformer, res) for code that patches "middle" (PAG, SAG); it costs ~70%
  more time per UNet call.
* full-size CLIP-L text encoder under ``cond_stage_model.transformer.text_model.``
  (ComfyUI builds a full CLIP-L for SD1.5, so it must be full size);
* TAESD (the real weights from ``<shared>/models/taesd``) as the VAE under
  ``first_stage_model.taesd_{encoder,decoder}.`` plus ``first_stage_model.vae_scale``
  (0.18215) / ``vae_shift`` (0): the keys ComfyUI's ``VAE`` recognises as TAESD.

The UNet weights are random except for a hand-set "identity eps path": the
model's output is close to its input latent, i.e. eps(x_in) ~= x_in, where
ComfyUI feeds x_in = x / sqrt(sigma^2 + 1).  That makes it a rough stand-in for
a denoiser of unit-variance data, so sampled latents stay O(1) instead of
blowing up.  How the path is built:

* conv_in writes latent channel c as +x_c into channel 10c and -x_c into
  channel 10c+1 (both in GroupNorm group c of the final ``out.0`` norm), and
  puts constant +B/-B biases (4 each) into the other 8 channels of that group;
* every residual branch (ResBlock out conv, transformer proj_out) is random but
  scaled small, ResBlock skips are identities (for the concatenating output
  blocks: the average of both halves), so the residual stream keeps the
  embedding nearly unchanged;
* the final GroupNorm sees group c = {+x, -x, 4 x +B, 4 x -B}: its mean is 0
  and its std is ~sqrt(0.8)*B whatever x is (B >> |x|), so it is a fixed
  linear scaling; SiLU(z) - SiLU(-z) == z exactly, so the out conv reading
  +k from channel 10c and -k from 10c+1 with k = sqrt(0.8)*B gives back x_c.

Deterministic for a given seed.  Usable as a script (``--out PATH``) and as a
module loaded by file path (no package imports): ``ensure_tiny_checkpoint()``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import pathlib
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / ".cache" / "tiny_sd15.safetensors"
DEFAULT_OUT_MID = REPO_ROOT / ".cache" / "tiny_sd15_mid.safetensors"
DEFAULT_TAESD_DIR = REPO_ROOT.parent / "shared" / "models" / "taesd"
SEED = 20240610
# Bump when the generated content changes, so cached files get regenerated.
FORMAT_VERSION = "3"
META_KEY = "powers_of_ten.tiny_sd15"

log = logging.getLogger("powers_of_ten.scripts")

MODEL_CHANNELS = 320
CONTEXT_DIM = 768
TIME_EMBED_DIM = MODEL_CHANNELS * 4
LATENT_CHANNELS = 4
GROUPS = 32  # GroupNorm groups in ComfyUI's SD1.5 UNet
BIAS_LEVEL = 10.0  # B: the constant channels that pin the final GroupNorm's scale
BRANCH_SCALE = 0.05  # gain of the random residual branches (0 = exact identity)

UNET = "model.diffusion_model."
CLIP = "cond_stage_model.transformer.text_model."
VAE = "first_stage_model."

CLIP_VOCAB = 49408
CLIP_POSITIONS = 77
CLIP_WIDTH = 768
CLIP_LAYERS = 12
CLIP_MLP = 3072


class _Builder:
    """Collects tensors with shape-based random init from one seeded generator."""

    def __init__(self, seed: int, dtype):
        import torch

        self.torch = torch
        self.gen = torch.Generator().manual_seed(seed)
        self.dtype = dtype
        self.sd = {}

    def randn(self, *shape, std=1.0):
        t = self.torch.randn(*shape, generator=self.gen)
        return t.mul_(std)

    def put(self, key, tensor):
        assert key not in self.sd, key
        self.sd[key] = tensor.to(self.dtype).contiguous()

    # layers -------------------------------------------------------------
    def linear(self, key, n_in, n_out, bias=True, gain=1.0):
        self.put(key + ".weight", self.randn(n_out, n_in, std=gain / math.sqrt(n_in)))
        if bias:
            self.put(key + ".bias", self.torch.zeros(n_out))

    def conv(self, key, n_in, n_out, k=3, bias=True, gain=1.0):
        self.put(key + ".weight", self.randn(n_out, n_in, k, k, std=gain / math.sqrt(n_in * k * k)))
        if bias:
            self.put(key + ".bias", self.torch.zeros(n_out))

    def norm(self, key, n):
        self.put(key + ".weight", self.torch.ones(n))
        self.put(key + ".bias", self.torch.zeros(n))

    # SD1.5 UNet blocks (ComfyUI / ldm naming) --------------------------------
    def resblock(self, key, ch_in, ch_out, skip_weight=None):
        self.norm(key + ".in_layers.0", ch_in)
        self.conv(key + ".in_layers.2", ch_in, ch_out)
        self.linear(key + ".emb_layers.1", TIME_EMBED_DIM, ch_out)
        self.norm(key + ".out_layers.0", ch_out)
        self.conv(key + ".out_layers.3", ch_out, ch_out, gain=BRANCH_SCALE)
        if ch_in != ch_out:
            assert skip_weight is not None
            self.put(key + ".skip_connection.weight", skip_weight)
            self.put(key + ".skip_connection.bias", self.torch.zeros(ch_out))

    def transformer(self, key, ch):
        self.norm(key + ".norm", ch)
        self.conv(key + ".proj_in", ch, ch, k=1)
        b = key + ".transformer_blocks.0"
        for attn, kv_dim in (("attn1", ch), ("attn2", CONTEXT_DIM)):
            self.linear(f"{b}.{attn}.to_q", ch, ch, bias=False)
            self.linear(f"{b}.{attn}.to_k", kv_dim, ch, bias=False)
            self.linear(f"{b}.{attn}.to_v", kv_dim, ch, bias=False)
            self.linear(f"{b}.{attn}.to_out.0", ch, ch)
        self.linear(f"{b}.ff.net.0.proj", ch, ch * 4 * 2)  # GEGLU
        self.linear(f"{b}.ff.net.2", ch * 4, ch)
        for n in ("norm1", "norm2", "norm3"):
            self.norm(f"{b}.{n}", ch)
        self.conv(key + ".proj_out", ch, ch, k=1, gain=BRANCH_SCALE)


def _identity_channels():
    """(plus, minus, const_pos, const_neg) channel index lists of the identity path."""
    per_group = MODEL_CHANNELS // GROUPS  # 10
    plus, minus, pos, neg = [], [], [], []
    for c in range(LATENT_CHANNELS):
        base = c * per_group
        plus.append(base)
        minus.append(base + 1)
        pos.extend(range(base + 2, base + 6))
        neg.extend(range(base + 6, base + 10))
    return plus, minus, pos, neg


def build_unet(b: _Builder, middle_block: bool = False):
    torch = b.torch
    ch = MODEL_CHANNELS
    plus, minus, pos, neg = _identity_channels()
    used = plus + minus + pos + neg

    b.linear(UNET + "time_embed.0", ch, TIME_EMBED_DIM)
    b.linear(UNET + "time_embed.2", TIME_EMBED_DIM, TIME_EMBED_DIM)

    # conv_in: random features in the free channels, the identity embedding in
    # channels 0..39 (centre tap +-1, constant +-B biases).
    w = b.randn(ch, LATENT_CHANNELS, 3, 3, std=1.0 / math.sqrt(LATENT_CHANNELS * 9))
    bias = torch.zeros(ch)
    w[used] = 0.0
    for c in range(LATENT_CHANNELS):
        w[plus[c], c, 1, 1] = 1.0
        w[minus[c], c, 1, 1] = -1.0
    bias[pos] = BIAS_LEVEL
    bias[neg] = -BIAS_LEVEL
    b.put(UNET + "input_blocks.0.0.weight", w)
    b.put(UNET + "input_blocks.0.0.bias", bias)

    # one level, one res block + transformer
    b.resblock(UNET + "input_blocks.1.0", ch, ch)
    b.transformer(UNET + "input_blocks.1.1", ch)

    if middle_block:  # res, transformer, res
        b.resblock(UNET + "middle_block.0", ch, ch)
        b.transformer(UNET + "middle_block.1", ch)
        b.resblock(UNET + "middle_block.2", ch, ch)

    # output blocks concatenate [h, skip]: their 1x1 skip averages both halves
    eye = torch.eye(ch)
    skip = torch.cat([eye, eye], dim=1).mul_(0.5)[:, :, None, None]
    for i in range(2):
        b.resblock(UNET + f"output_blocks.{i}.0", 2 * ch, ch, skip_weight=skip)
        b.transformer(UNET + f"output_blocks.{i}.1", ch)

    # out: GroupNorm (plain affine) -> SiLU -> conv reading the identity pairs back
    b.norm(UNET + "out.0", ch)
    w = torch.zeros(LATENT_CHANNELS, ch, 3, 3)
    k = math.sqrt(0.8) * BIAS_LEVEL  # the group std is sqrt((2x^2 + 8B^2) / 10)
    for c in range(LATENT_CHANNELS):
        w[c, plus[c], 1, 1] = k
        w[c, minus[c], 1, 1] = -k
    b.put(UNET + "out.2.weight", w)
    b.put(UNET + "out.2.bias", torch.zeros(LATENT_CHANNELS))


def build_clip(b: _Builder):
    """Full-size CLIP-L text model (openai/clip-vit-large-patch14 shapes), CLIP-style init."""
    d = CLIP_WIDTH
    b.put(CLIP + "embeddings.token_embedding.weight", b.randn(CLIP_VOCAB, d, std=0.02))
    b.put(CLIP + "embeddings.position_embedding.weight", b.randn(CLIP_POSITIONS, d, std=0.01))
    attn_std = d**-0.5 * (2 * CLIP_LAYERS) ** -0.5
    for i in range(CLIP_LAYERS):
        p = f"{CLIP}encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            b.put(p + f"self_attn.{proj}.weight", b.randn(d, d, std=attn_std))
            b.put(p + f"self_attn.{proj}.bias", b.torch.zeros(d))
        b.norm(p + "layer_norm1", d)
        b.norm(p + "layer_norm2", d)
        b.put(p + "mlp.fc1.weight", b.randn(CLIP_MLP, d, std=(2 * d) ** -0.5))
        b.put(p + "mlp.fc1.bias", b.torch.zeros(CLIP_MLP))
        b.put(p + "mlp.fc2.weight", b.randn(d, CLIP_MLP, std=attn_std))
        b.put(p + "mlp.fc2.bias", b.torch.zeros(d))
    b.norm(CLIP + "final_layer_norm", d)


def add_taesd(b: _Builder, taesd_dir: pathlib.Path):
    from safetensors.torch import load_file

    torch = b.torch
    for part in ("encoder", "decoder"):
        path = taesd_dir / f"taesd_{part}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"TAESD weights not found: {path}")
        for k, v in load_file(str(path)).items():
            b.put(f"{VAE}taesd_{part}.{k}", v)
    b.put(VAE + "vae_scale", torch.tensor(0.18215))
    b.put(VAE + "vae_shift", torch.tensor(0.0))


def _meta_value(seed: int, dtype: str, middle_block: bool) -> str:
    return f"version={FORMAT_VERSION} seed={seed} dtype={dtype} middle={int(middle_block)}"


def generate(
    out=None, seed: int = SEED, dtype: str = "fp16", taesd_dir=None, middle_block: bool = False
) -> pathlib.Path:
    """Build the checkpoint and write it atomically to ``out``; returns the path."""
    import torch

    out = pathlib.Path(out) if out is not None else DEFAULT_OUT
    taesd_dir = pathlib.Path(taesd_dir) if taesd_dir is not None else DEFAULT_TAESD_DIR
    torch_dtype = {"fp16": torch.float16, "fp32": torch.float32}[dtype]

    b = _Builder(seed, torch_dtype)
    build_unet(b, middle_block=middle_block)
    build_clip(b)
    add_taesd(b, taesd_dir)

    write_stamped(b.sd, out, META_KEY, _meta_value(seed, dtype, middle_block))
    return out


def write_stamped(state: dict, path: pathlib.Path, key: str, stamp: str) -> None:
    """Write ``state`` to ``path`` as safetensors, atomically, stamped ``{key: stamp}`` for :func:`is_stamped`."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    try:
        # One metadata entry only: safetensors writes several in hash order, so the bytes would vary between runs.
        save_file(state, tmp, metadata={key: stamp})
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_stamped(path: pathlib.Path, key: str, stamp: str) -> bool:
    """Whether ``path`` is a safetensors file whose metadata ``key`` is ``stamp`` (False when missing or unreadable)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception:  # missing, truncated or not a safetensors file
        return False
    return meta.get(key) == stamp


def ensure_tiny_checkpoint(path=None, *, middle_block: bool = False) -> pathlib.Path:
    """Return the tiny checkpoint's path, generating it first if it is missing or stale.

    Default path: ``<repo>/.cache/tiny_sd15.safetensors`` (with ``middle_block``:
    ``tiny_sd15_mid.safetensors``).  A file at ``path`` from another generator
    version or config is regenerated.
    """
    if path is None:
        path = DEFAULT_OUT_MID if middle_block else DEFAULT_OUT
    path = pathlib.Path(path)
    if not is_stamped(path, META_KEY, _meta_value(SEED, "fp16", middle_block)):
        generate(path, middle_block=middle_block)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help=f"output file (default: {DEFAULT_OUT}, or {DEFAULT_OUT_MID.name} with --middle-block)",
    )
    ap.add_argument("--middle-block", action="store_true", help="include the UNet middle block (slower)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--dtype", choices=("fp16", "fp32"), default="fp16")
    ap.add_argument("--taesd-dir", type=pathlib.Path, default=DEFAULT_TAESD_DIR)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    out = args.out or (DEFAULT_OUT_MID if args.middle_block else DEFAULT_OUT)
    path = generate(out, seed=args.seed, dtype=args.dtype, taesd_dir=args.taesd_dir, middle_block=args.middle_block)
    size = path.stat().st_size / 2**20
    log.info("wrote %s (%.0f MiB) in %.1f s", path, size, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
