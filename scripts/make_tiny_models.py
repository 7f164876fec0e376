#!/usr/bin/env python
"""Tiny random-weight SDXL, SD3, SD3.5, Flux, SD2.x, Flux.2, HunyuanImage, Qwen-Image and Z-Image models for tests.

Every file lives in ``<repo>/.cache/models/tiny_<family>.safetensors`` and is
regenerated when it is missing or its metadata version stamp differs. Keys and
shapes come from ComfyUI itself: the family's diffusion module class is built
on the ``meta`` device with ``comfy.ops.disable_weight_init`` from the config
dict that ComfyUI's shape sniffing returns for such a file, and the generator
checks that the finished state dict is detected back as the intended family
and prediction type (``RuntimeError`` if not).
Weights are a seeded random fill (>=2-D weights N(0, 1/fan_in), norm weights 1,
biases 0, ``pos_embed`` N(0, 0.02^2)) plus the hand-set tensors below, which
keep sampled latents O(1) while the output still depends on the prompt. So
ComfyUI must be importable (booted, e.g. by the test host) to generate a file;
checking the cache needs only safetensors.

Families (``FAMILIES``), what each file holds and what loads it:

* ``sdxl``: SDXL UNet only, ``comfy.sd.load_diffusion_model`` (UNETLoader)
  detects ``SDXL``, EPS, latent format SDXL. 320 channels, channel_mult
  [1, 1, 1], 2 res blocks per level, input transformer depths exactly
  [0, 0, 2, 2, 10, 10] (SDXL's detection compares the whole list), no output
  transformers, no middle block, context 2048, adm 2816, linear proj; fp16,
  131.6 M parameters, 251 MiB.
* ``sdxl_vpred``: the same UNet plus a ``v_pred`` marker key, detected as
  ``SDXL`` with V_PREDICTION (ComfyUI logs the marker as an unexpected key); 251 MiB.
* ``koala``: the KOALA-700M layout (1 res block per level, input transformer
  depths [0, 2, 5]), detected as ``KOALA_700M`` (an SDXL subclass, EPS); fp16,
  60.6 M parameters, 116 MiB.
* ``sd3``: SD3 single-file checkpoint for
  ``comfy.sd.load_checkpoint_guess_config`` (CheckpointLoaderSimple): an MMDiT
  of depth 1 (hidden 64, one joint block), patch 2, 16 channels, adm 2048,
  context 4096 -> 64 and a 32x32 ``pos_embed`` table (latents up to 64x64)
  under ``model.diffusion_model.`` (bf16), detected as ``SD3`` (flow,
  ModelSamplingDiscreteFlow); the SD1.5 fixture's full random CLIP-L
  (``make_tiny_checkpoint.build_clip``, fp16) under
  ``text_encoders.clip_l.transformer.text_model.``, which ComfyUI builds into an
  ``SD3ClipModel`` with CLIP-L only; the real TAESD3 weights under
  ``first_stage_model.taesd_{encoder,decoder}.`` with ``vae_scale`` 1.5305 and
  ``vae_shift`` 0.0609, the keys ComfyUI's ``VAE`` loads as a 16-channel TAESD;
  241 MiB, almost all of it CLIP-L.
* ``sd35``: SD3.5-style MMDiT only (bf16), for ``comfy.sd.load_diffusion_model``:
  RMS q/k norms (``ln_q`` keys -> ``qk_norm`` "rms") and a second x-block
  attention in block 0 (``x_block_self_attn_layers`` [0]), detected as ``SD3``
  with those options; no ``pos_embed``, so ComfyUI makes a sin-cos table for
  any latent size; 1.1 MiB.
* ``flux``: a Flux-dev DiT at hidden 64 (2 heads, RoPE axes [8, 12, 12], one
  double and one single block, context 4096, vec 768, guidance embedder), bf16.
  ComfyUI's Flux detection hard-codes 24 heads and RoPE axes [16, 56, 56] (and,
  in v0.3.x, hidden 3072), so ComfyUI cannot load this file by itself:
  :func:`load_tiny_dit` does what ``load_diffusion_model_state_dict`` does
  after detection, with the config :func:`tiny_dit_config` gives: the running
  ComfyUI's own detection of the file (so each version's Flux config fields,
  e.g. v0.8.0's ``txt_ids_dims``), with the widths it hard-codes replaced by
  the family's in :data:`TINY_DITS`; 1.1 MiB, the same bytes from v0.3.64 and v0.8.0.
* ``flux2``: a Flux.2 DiT at hidden 64 (2 heads, RoPE axes [8, 8, 8, 8], one
  double and one single block, shared modulation, no biases, guidance
  embedder), 128 latent channels at patch 1, 15360-wide text, bf16. Detection
  hard-codes 48 heads and RoPE axes [32] * 4, so it loads like the tiny Flux,
  through ``supported_models.Flux2`` (ComfyUI v0.8.0 and later).
* ``hunyuan_image``: a HunyuanImage 2.1 DiT (ComfyUI's HunyuanVideo module with
  a 2-D patch) at hidden 128, one head, one double and one single block, 64
  latent channels (the VAE downscales by 32), 3584-wide text, bf16, for
  ``comfy.sd.load_diffusion_model`` (UNETLoader): detection reads its widths
  from the file and finds ``HunyuanImage21``, flow.
* ``qwen_image``: a Qwen-Image DiT (``QwenImageTransformer2DModel``) with one
  block of 2 heads of 32 (RoPE axes [8, 12, 12]), 16 latent channels packed
  2x2, Qwen2.5-VL's 3584-wide text, bf16; its latents are 5-D (N, 16, 1, H, W)
  and its text positions follow the latent's size. Detection reads only the
  input channels and the block count (24 heads of 128 are the module's
  defaults), so it loads like the tiny Flux, through ``supported_models.QwenImage``;
  0.6 MiB.
* ``zimage``: a Z-Image NextDiT (Lumina 2 with Z-Image's modulation, RoPE
  theta 256 and text padded to multiples of 32 tokens) at width 256, 8 heads,
  RoPE axes [8, 12, 12], one block, Qwen3-4B's 2560-wide text, 16 channels
  (the Flux VAE's latents), bf16. Detection sets heads and RoPE only at the
  full width 3840, so it loads through ``supported_models.ZImage`` (ComfyUI
  v0.8.0 and later).
* ``chroma``: a Chroma DiT (Flux's blocks, each modulated from one MLP of the
  timestep, no pooled text) at hidden 64 (2 heads, RoPE axes [8, 12, 12], one
  double and one single block, the MLP 32 wide in one layer), T5-XXL's
  4096-wide text, 16 latent channels packed 2x2, bf16; 0.8 MiB. Detection
  hard-codes the width, the heads and the MLP, so it loads like the tiny Flux,
  through ``supported_models.Chroma``.
* ``hidream``: a HiDream-I1 DiT at 2 heads of 32 (RoPE axes [8, 12, 12]), one
  double and one single block, a mixture of 2 experts both active, T5-XXL's
  and Llama 3.1's 4096-wide text (the blocks read Llama layers 0 and 3), the
  2048-wide pooled CLIP-L + CLIP-G vector, 16 channels, bf16; 2.7 MiB.
  Detection hard-codes every width, so it loads through
  ``supported_models.HiDream``.
* ``wan21_vae``: a Wan 2.1 VAE (Qwen-Image's) at base width 8 (the real one's
  96), 16 latent channels at 1/8 with a frames axis, randomly filled (RMS norm
  scales 1), float32; 3.5 MiB. ComfyUI v0.8.0's Load VAE reads the width from
  ``decoder.head.0.gamma``; v0.3.64 builds the full width whatever the file.
* ``flux2_vae``: Flux.2's VAE, randomly filled at its full width (84 M
  parameters, fp16, 160 MiB): Load VAE hard-codes the SD VAE's widths for it
  (``ch`` 128) and knows it by ``bn.running_mean``, the batch norm that turns
  32 channels at 1/8 into 128 at 1/16 (variances 1, means 0). Decoding three
  128 px images takes about 7 s on two cores. ComfyUI v0.8.0 only.
* ``sd2_v``: SD2.x 768-v UNet only (fp16), for ``comfy.sd.load_diffusion_model``:
  context 1024, linear proj, 4 levels x 2 res blocks (12 output blocks), one
  transformer in input block 1 and one in output block 11, detected as ``SD20``
  with V_PREDICTION. SD2 has no v-prediction marker: ComfyUI calls it
  v-prediction when ``output_blocks.11.1.transformer_blocks.0.norm1.bias`` has
  a std above 0.09, so that bias is drawn from N(0, 0.2^2); 71.7 M parameters,
  137 MiB.

Hand-set tensors, by prediction type:

* eps (``sdxl``, ``koala``): a random eps output would leave latents at
  sigma_max scale, so these UNets get the SD1.5 fixture's "identity eps path"
  (eps(x_in) ~= x_in, the rough denoiser of unit-variance data), adapted to a
  down/upsampling UNet: conv_in writes +x_c / -x_c and constant +B / -B
  channels into the GroupNorm groups 0-3 (40 channels); residual branches
  (ResBlock ``out_layers.3``, transformer ``proj_out``) are scaled 0.05; every
  output block's 1x1 ``skip_connection`` takes those 40 channels from the skip
  half (the encoder activation at its resolution, conv_in's output at the last
  block) and averages both halves elsewhere, so the random down- and upsampling
  convs never touch the identity channels that reach ``out``; ``out.2`` reads
  the +/- pairs back with k = sqrt(0.8) * B. The prompt still acts through the
  transformers and the small residual branches.
* v-prediction (``sdxl_vpred``, ``sd2_v``): zero v is the exact posterior mean
  for unit-Gaussian data, so a small output keeps latents O(1) without the
  identity path (an eps construction): the UNet is the plain random fill and
  only ``out.2`` is scaled, to gain 0.2 rather than zero so that the output
  depends on the prompt.
* flow (``sd3``, ``sd35``, ``flux``, ``flux2``, ``hunyuan_image``, ``qwen_image``,
  ``zimage``, ``chroma``, ``hidream``): x0 = x1 - integral of v, so any bounded velocity keeps latents
  O(1); the output layer (``final_layer.linear``, Qwen-Image's ``proj_out``) is
  random with gain 0.2, small enough not to be amplified much by CFG, large
  enough to make the output prompt-dependent.

Usable as a script (``python scripts/make_tiny_models.py [FAMILY ...]`` boots
ComfyUI through the test host first) and as a module loaded by file path once
ComfyUI is booted: :func:`ensure_tiny_model`, :func:`load_tiny_dit`.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.util
import logging
import math
import pathlib
import sys
import time
import typing
from collections.abc import Callable

import torch

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache" / "models"
TAESD3_DIR = REPO_ROOT.parent / "shared" / "models" / "taesd3"
SEED = 20251201
# Bump when the generated content changes, so cached files get regenerated.
FORMAT_VERSION = "1"
META_KEY = "powers_of_ten.tiny_model"

log = logging.getLogger("powers_of_ten.scripts")

OUT_GAIN = 0.2  # gain of the random output layer of the v-prediction and flow models
POS_EMBED_STD = 0.02
TAESD3_SCALE = 1.5305
TAESD3_SHIFT = 0.0609

CHECKPOINT_UNET = "model.diffusion_model."
CHECKPOINT_CLIP_L = "text_encoders.clip_l.transformer.text_model."
CHECKPOINT_VAE = "first_stage_model."

# The DiT families whose widths ComfyUI's detection does not read from a file (it hard-codes them for the full-size
# models): each is built at tiny widths and loaded through its own ComfyUI config class (:func:`load_tiny_dit`).
# ``layout`` is what detection does read from the keys and shapes; every other config field is what the running
# ComfyUI's detection makes of such a file (:func:`tiny_dit_config`), so the file follows each version's config.


@dataclasses.dataclass(frozen=True)
class _TinyDiT:
    config_class: str  # in comfy.supported_models
    module: str  # the diffusion module class, "module:Class"
    layout: dict
    widths: dict  # the widths detection hard-codes, replaced; RoPE axes must sum to the head width
    out_layer: str  # the output projection, given gain OUT_GAIN


FLUX_BLOCKS = {
    "context_in_dim": 4096,
    "mlp_ratio": 4.0,
    "depth": 1,
    "depth_single_blocks": 1,
    "theta": 10000,
    "qkv_bias": True,
}
"""Flux-dev's blocks as the tiny Flux has them, with T5-XXL's text: Chroma keeps them; only its modulation differs."""

TINY_DITS = {
    # Flux-dev (guidance embedder): detection hard-codes 24 heads, RoPE axes [16, 56, 56] (and, to v0.3.x, hidden 3072)
    "flux": _TinyDiT(
        "Flux",
        "comfy.ldm.flux.model:Flux",
        {
            "image_model": "flux",
            "in_channels": 16,
            "patch_size": 2,
            "out_channels": 16,
            "vec_in_dim": 768,
            **FLUX_BLOCKS,
            "guidance_embed": True,
        },
        {"hidden_size": 64, "num_heads": 2, "axes_dim": [8, 12, 12]},
        "final_layer.linear.weight",
    ),
    # Flux.2: 128 latent channels (the VAE's 32, packed 2x2 by the VAE) at patch 1; detection reads the width, the
    # 15360-wide text (Mistral 3's three layers) and the blocks, and hard-codes 48 heads and RoPE axes [32] * 4.
    "flux2": _TinyDiT(
        "Flux2",
        "comfy.ldm.flux.model:Flux",
        {
            "image_model": "flux2",
            "in_channels": 128,
            "patch_size": 1,
            "out_channels": 128,
            "vec_in_dim": None,
            "context_in_dim": 15360,
            "hidden_size": 64,
            "mlp_ratio": 3.0,
            "depth": 1,
            "depth_single_blocks": 1,
            "theta": 2000,
            "qkv_bias": False,
            "guidance_embed": True,
            "txt_ids_dims": [3],
            "global_modulation": True,
            "mlp_silu_act": True,
            "ops_bias": False,
            "default_ref_method": "index",
            "ref_index_scale": 10.0,
        },
        {"num_heads": 2, "axes_dim": [8, 8, 8, 8]},
        "final_layer.linear.weight",
    ),
    # Qwen-Image: detection reads the input channels (16 latent channels packed 2x2) and the block count; the
    # model's defaults are 24 heads of 128 and Qwen2.5-VL's 3584-wide text, which the tiny model keeps.
    "qwen_image": _TinyDiT(
        "QwenImage",
        "comfy.ldm.qwen_image.model:QwenImageTransformer2DModel",
        {"image_model": "qwen_image", "in_channels": 64, "num_layers": 1},
        {"attention_head_dim": 32, "num_attention_heads": 2, "axes_dims_rope": [8, 12, 12]},
        "proj_out.weight",
    ),
    # Z-Image (a Lumina 2 NextDiT): detection reads the width and Qwen3-4B's 2560-wide text from cap_embedder and
    # the block count, and sets heads, RoPE and modulation only for the full model's width 3840. Its timestep
    # embedding is 256 wide whatever the width, which the modulation layers read, so the width is at least 256.
    "zimage": _TinyDiT(
        "ZImage",
        "comfy.ldm.lumina.model:NextDiT",
        {"image_model": "lumina2", "patch_size": 2, "in_channels": 16, "dim": 256, "cap_feat_dim": 2560, "n_layers": 1},
        {
            "n_heads": 8,
            "n_kv_heads": 8,
            "axes_dims": [8, 12, 12],
            "axes_lens": [1536, 512, 512],
            "rope_theta": 256.0,
            "ffn_dim_multiplier": 8.0 / 3.0,
            "z_image_modulation": True,
            "time_scale": 1000.0,
            "pad_tokens_multiple": 32,
        },
        "final_layer.linear.weight",
    ),
    # Chroma (Flux with the modulation of every block from one "distilled guidance" MLP, no pooled text): detection
    # reads the blocks and hard-codes the width, heads, RoPE and the MLP's widths (its output is the block width).
    "chroma": _TinyDiT(
        "Chroma",
        "comfy.ldm.chroma.model:Chroma",
        {
            "image_model": "chroma",
            "in_channels": 64,
            "out_channels": 64,
            "patch_size": 2,
            **FLUX_BLOCKS,
            "in_dim": 64,
        },
        {"hidden_size": 64, "num_heads": 2, "axes_dim": [8, 12, 12], "out_dim": 64, "hidden_dim": 32, "n_layers": 1},
        "final_layer.linear.weight",
    ),
    # HiDream-I1: detection only recognises the caption projections and hard-codes every width. The text is T5-XXL's
    # (4096 wide) and Llama 3.1's hidden states (4096 wide), of which each block reads one layer (``llama_layers``);
    # the pooled vector is CLIP-L's and CLIP-G's side by side (2048). Both experts of the mixture run for every token,
    # so the routing has no ties to break differently in a batch.
    "hidream": _TinyDiT(
        "HiDream",
        "comfy.ldm.hidream.model:HiDreamImageTransformer2DModel",
        {"image_model": "hidream", "patch_size": 2, "in_channels": 16, "out_channels": 16},
        {
            "attention_head_dim": 32,
            "num_attention_heads": 2,
            "axes_dims_rope": [8, 12, 12],
            "caption_channels": [4096, 4096],
            "text_emb_dim": 2048,
            "num_layers": 1,
            "num_single_layers": 1,
            "llama_layers": [0, 3],
            "num_routed_experts": 2,
            "num_activated_experts": 2,
            "max_resolution": [128, 128],
        },
        "final_layer.linear.weight",
    ),
}


# HunyuanImage 2.1: detection reads every width from the file (heads = hidden / 128, RoPE axes [64, 64] for a 2-D
# patch), so the tiny model is detected as itself at hidden 128 with one head: 64 latent channels at patch 1 (the VAE
# downscales by 32), Qwen2.5-VL's 3584-wide text. Fields the running version's params do not have are left out.
HUNYUAN_IMAGE_LAYOUT = {
    "in_channels": 64,
    "out_channels": 64,
    "vec_in_dim": None,
    "context_in_dim": 3584,
    "hidden_size": 128,
    "mlp_ratio": 4.0,
    "num_heads": 1,
    "depth": 1,
    "depth_single_blocks": 1,
    "axes_dim": [64, 64],
    "theta": 256,
    "patch_size": [1, 1],
    "qkv_bias": True,
    "guidance_embed": False,
    "byt5": False,
    "meanflow": False,
    "use_cond_type_embedding": False,
    "vision_in_dim": None,
    "meanflow_sum": False,
}


def _sd15_maker():
    """``make_tiny_checkpoint`` (the SD1.5 fixture), imported by path under the name the tests use."""
    name = "make_tiny_checkpoint"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / "make_tiny_checkpoint.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# configs, as ComfyUI's detect_unet_config returns them ------------------------------------------


def _unet_config(
    *,
    context_dim: int,
    adm_in_channels: int | None,
    num_res_blocks: list[int],
    transformer_depth: list[int],
    transformer_depth_output: list[int],
) -> dict:
    """A 320-channel UNet with channel_mult 1 at every level and no middle block."""
    config = {
        "use_checkpoint": False,
        "image_size": 32,
        "use_spatial_transformer": True,
        "legacy": False,
        "adm_in_channels": adm_in_channels,
        "in_channels": 4,
        "out_channels": 4,
        "model_channels": 320,
        "num_res_blocks": num_res_blocks,
        "transformer_depth": transformer_depth,
        # one entry per output block, last block first (the UNet constructor pops from the end)
        "transformer_depth_output": transformer_depth_output,
        "channel_mult": [1] * len(num_res_blocks),
        "transformer_depth_middle": -2,
        "use_linear_in_transformer": True,
        "context_dim": context_dim,
        "use_temporal_resblock": False,
        "use_temporal_attention": False,
    }
    if adm_in_channels is not None:
        config["num_classes"] = "sequential"
    return config


def _sdxl_config(num_res_blocks: list[int], transformer_depth: list[int]) -> dict:
    outputs = sum(num_res_blocks) + len(num_res_blocks)
    return _unet_config(
        context_dim=2048,
        adm_in_channels=2816,
        num_res_blocks=num_res_blocks,
        transformer_depth=transformer_depth,
        transformer_depth_output=[0] * outputs,
    )


def _mmdit_config(**options) -> dict:
    config = {
        "in_channels": 16,
        "patch_size": 2,
        "out_channels": 16,
        "depth": 1,  # hidden 64 * depth, heads = blocks = depth
        "input_size": None,
        "adm_in_channels": 2048,
        "context_embedder_config": {
            "target": "torch.nn.Linear",
            "params": {"in_features": 4096, "out_features": 64},
        },
        "pos_embed_scaling_factor": None,
        "x_block_self_attn_layers": [],
    }
    config.update(options)
    return config


# state dicts ---------------------------------------------------------------------------------


def _random_state_dict(config_class, module_class, config: dict, generator: torch.Generator) -> dict:
    """ComfyUI's module for ``config`` (plus the family's extra config), randomly filled, in float32."""
    import comfy.ops

    unet_config = config_class(copy.deepcopy(config)).unet_config
    # the UNet constructor pops its depth lists, hence a deep copy
    module = module_class(**copy.deepcopy(unet_config), device="meta", operations=comfy.ops.disable_weight_init)
    return _random_fill(module.state_dict(), generator)


def _random_fill(state: dict, generator: torch.Generator) -> dict:
    """A module's ``state`` (shapes only; meta tensors do) randomly filled, in float32 (integer counters kept).

    Weights are N(0, 1 / fan_in), so activations stay O(1) through any depth of normalised blocks; norm scales and
    batch-norm variances are 1, biases and means 0.
    """
    out = {}
    for key, meta in state.items():
        if not meta.dtype.is_floating_point:  # batch-norm step counters
            out[key] = torch.zeros(meta.shape, dtype=meta.dtype)
        elif key.endswith(("gamma", "running_var")):  # RMS norm scales (Wan's are (C, 1, 1, 1)), variances
            out[key] = torch.ones(meta.shape)
        elif key.endswith("pos_embed"):
            out[key] = torch.randn(meta.shape, generator=generator).mul_(POS_EMBED_STD)
        elif meta.ndim >= 2:
            out[key] = torch.randn(meta.shape, generator=generator).mul_(math.prod(meta.shape[1:]) ** -0.5)
        elif key.endswith(("bias", "running_mean")):
            out[key] = torch.zeros(meta.shape)
        else:  # norm weights and scales
            out[key] = torch.ones(meta.shape)
    return out


def _identity_eps_path(sd: dict) -> None:
    """Hand-set the identity eps path (see the module docstring) in a UNet state dict, in place."""
    maker = _sd15_maker()
    plus, minus, pos, neg = maker._identity_channels()
    used = plus + minus + pos + neg
    bias_level = maker.BIAS_LEVEL

    w = sd["input_blocks.0.0.weight"]
    w[used] = 0.0
    for c in range(len(plus)):
        w[plus[c], c, 1, 1] = 1.0
        w[minus[c], c, 1, 1] = -1.0
    bias = sd["input_blocks.0.0.bias"]
    bias[pos] = bias_level
    bias[neg] = -bias_level

    for key, value in sd.items():
        if key.endswith((".out_layers.3.weight", ".proj_out.weight")):
            value.mul_(maker.BRANCH_SCALE)
        elif key.endswith(".skip_connection.weight"):  # output blocks: input [h, skip]
            ch = value.shape[0]
            eye = torch.eye(ch)
            skip = torch.cat([eye, eye], dim=1).mul_(0.5)
            skip[used] = 0.0
            skip[used, [ch + i for i in used]] = 1.0
            value.copy_(skip[:, :, None, None])

    out = torch.zeros_like(sd["out.2.weight"])
    k = math.sqrt(0.8) * bias_level  # the group std is sqrt((2 x^2 + 8 B^2) / 10)
    for c in range(len(plus)):
        out[c, plus[c], 1, 1] = k
        out[c, minus[c], 1, 1] = -k
    sd["out.2.weight"] = out


def _cast(sd: dict, dtype: torch.dtype, prefix: str = "") -> dict:
    return {
        prefix + key: (value.to(dtype) if value.dtype.is_floating_point else value).contiguous()
        for key, value in sd.items()
    }


def _unet(config_class_name: str, config: dict, generator: torch.Generator) -> dict:
    import comfy.supported_models
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    return _random_state_dict(getattr(comfy.supported_models, config_class_name), UNetModel, config, generator)


def _mmdit(config: dict, generator: torch.Generator) -> dict:
    import comfy.supported_models
    from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper

    sd = _random_state_dict(comfy.supported_models.SD3, OpenAISignatureMMDITWrapper, config, generator)
    sd["final_layer.linear.weight"].mul_(OUT_GAIN)
    return sd


def _build_sdxl(generator: torch.Generator) -> dict:
    sd = _unet("SDXL", _sdxl_config([2, 2, 2], [0, 0, 2, 2, 10, 10]), generator)
    _identity_eps_path(sd)
    return _cast(sd, torch.float16)


def _build_sdxl_vpred(generator: torch.Generator) -> dict:
    sd = _unet("SDXL", _sdxl_config([2, 2, 2], [0, 0, 2, 2, 10, 10]), generator)
    sd["out.2.weight"].mul_(OUT_GAIN)
    sd["v_pred"] = torch.tensor([])  # the marker real SDXL v-prediction checkpoints carry
    return _cast(sd, torch.float16)


def _build_koala(generator: torch.Generator) -> dict:
    sd = _unet("KOALA_700M", _sdxl_config([1, 1, 1], [0, 2, 5]), generator)
    _identity_eps_path(sd)
    return _cast(sd, torch.float16)


def _build_sd2_v(generator: torch.Generator) -> dict:
    config = _unet_config(
        context_dim=1024,
        adm_in_channels=None,
        num_res_blocks=[2, 2, 2, 2],
        transformer_depth=[1] + [0] * 7,
        transformer_depth_output=[1] + [0] * 11,  # last block first: the transformer sits in output block 11
    )
    sd = _unet("SD20", config, generator)
    sniffed = "output_blocks.11.1.transformer_blocks.0.norm1.bias"
    sd[sniffed] = torch.randn(sd[sniffed].shape, generator=generator).mul_(0.2)
    sd["out.2.weight"].mul_(OUT_GAIN)
    return _cast(sd, torch.float16)


def _build_sd3(generator: torch.Generator) -> dict:
    from safetensors.torch import load_file

    mmdit = _mmdit(_mmdit_config(num_patches=1024, pos_embed_max_size=32), generator)
    sd = _cast(mmdit, torch.bfloat16, CHECKPOINT_UNET)

    maker = _sd15_maker()
    clip = maker._Builder(maker.SEED, torch.float16)
    maker.build_clip(clip)
    sd.update({CHECKPOINT_CLIP_L + key.removeprefix(maker.CLIP): value for key, value in clip.sd.items()})

    for part in ("encoder", "decoder"):
        path = TAESD3_DIR / f"taesd3_{part}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"TAESD3 weights not found: {path}")
        sd.update({f"{CHECKPOINT_VAE}taesd_{part}.{key}": value for key, value in load_file(str(path)).items()})
    sd[CHECKPOINT_VAE + "vae_scale"] = torch.tensor(TAESD3_SCALE)
    sd[CHECKPOINT_VAE + "vae_shift"] = torch.tensor(TAESD3_SHIFT)
    return sd


def _build_sd35(generator: torch.Generator) -> dict:
    return _cast(_mmdit(_mmdit_config(qk_norm="rms", x_block_self_attn_layers=[0]), generator), torch.bfloat16)


def _module_class(spec: _TinyDiT) -> type:
    module, name = spec.module.split(":")
    return getattr(importlib.import_module(module), name)


def _layout_state_dict(spec: _TinyDiT) -> dict:
    """A tiny DiT's keys and shapes (``meta`` tensors), from ComfyUI's module at its layout and widths.

    Fields of the params dataclass the module takes (``<Class>Params`` beside it: Flux's ``FluxParams``) that
    the layout does not name and that have no default (``txt_ids_dims`` since
    v0.8.0) are set to the empty value of their type: they only need to let the
    module be built, since :func:`tiny_dit_config` then takes every field from
    ComfyUI's detection.
    """
    import comfy.ops

    config = {**copy.deepcopy(spec.layout), **copy.deepcopy(spec.widths)}
    module_class = _module_class(spec)
    params = getattr(sys.modules[module_class.__module__], f"{module_class.__name__}Params", None)
    if params is not None:
        hints = typing.get_type_hints(params)
        for field in dataclasses.fields(params):
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            if required and field.name not in config:
                kind = typing.get_origin(hints[field.name]) or hints[field.name]
                try:
                    config[field.name] = kind()
                except TypeError as error:
                    raise RuntimeError(
                        f"tiny dit: no empty value for {params.__name__}.{field.name} ({kind})"
                    ) from error
    module = module_class(**config, device="meta", operations=comfy.ops.disable_weight_init)
    return module.state_dict()


def tiny_dit_config(family: str, sd: dict | None = None) -> dict:
    """A tiny DiT's config for the running ComfyUI: its detection of the file, with the family's tiny widths.

    This is the config ``comfy.sd.load_diffusion_model_state_dict`` would build
    the model from if detection could size it: every field, including those a
    ComfyUI version adds (``txt_ids_dims``, ``yak_mlp``, ``txt_norm`` in v0.8.0's
    Flux), is what that version reads from the keys, except the widths it hard-codes.

    Args:
        family: a key of :data:`TINY_DITS`.
        sd: the tiny model's state dict; default: its keys and shapes, built from the family's layout.

    Raises:
        RuntimeError: ComfyUI does not detect the state dict as the family's DiT.
    """
    import comfy.model_detection

    spec = TINY_DITS[family]
    if sd is None:
        sd = _layout_state_dict(spec)
    config = comfy.model_detection.detect_unet_config(sd, "")
    expected = spec.layout["image_model"]
    if config is None or config.get("image_model") != expected:
        found = None if config is None else config.get("image_model")
        raise RuntimeError(f"tiny {family}: ComfyUI detects image_model {found!r}, expected {expected!r}")
    return {**config, **copy.deepcopy(spec.widths)}


def _tiny_dit_builder(family: str) -> Callable[[torch.Generator], dict]:
    def build(generator: torch.Generator) -> dict:
        import comfy.supported_models

        spec = TINY_DITS[family]
        config = tiny_dit_config(family)
        config_class = getattr(comfy.supported_models, spec.config_class)
        sd = _random_state_dict(config_class, _module_class(spec), config, generator)
        sd[spec.out_layer].mul_(OUT_GAIN)
        reread = tiny_dit_config(family, sd)
        if reread != config:
            changed = sorted(key for key in config.keys() | reread.keys() if config.get(key) != reread.get(key))
            raise RuntimeError(f"tiny {family}: ComfyUI reads {changed} from the built file differently")
        return _cast(sd, torch.bfloat16)

    return build


def _build_hunyuan_image(generator: torch.Generator) -> dict:
    import comfy.ldm.hunyuan_video.model as hunyuan
    import comfy.supported_models

    fields = {field.name for field in dataclasses.fields(hunyuan.HunyuanVideoParams)}
    config = {"image_model": "hunyuan_video"} | {k: v for k, v in HUNYUAN_IMAGE_LAYOUT.items() if k in fields}
    sd = _random_state_dict(comfy.supported_models.HunyuanImage21, hunyuan.HunyuanVideo, config, generator)
    sd["final_layer.linear.weight"].mul_(OUT_GAIN)
    return _cast(sd, torch.bfloat16)


WAN21_VAE_DIM = 8
"""The tiny Wan 2.1 VAE's base width (the real one's is 96); ComfyUI reads it from ``decoder.head.0.gamma``."""


def _build_wan21_vae(generator: torch.Generator) -> dict:
    import comfy.ldm.wan.vae as wan

    config = {"dim": WAN21_VAE_DIM, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": []}
    module = wan.WanVAE(**config, temperal_downsample=[False, True, True], image_channels=3, dropout=0.0)
    sd = _random_fill(module.state_dict(), generator)
    _check_vae("wan21_vae", sd, ("WanVAE", 16, 3, 8))
    return sd


FLUX2_VAE_CONFIG = {
    "double_z": True,
    "z_channels": 32,
    "resolution": 256,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    "dropout": 0.0,
    "batch_norm_latent": True,
}
"""Flux.2's VAE as ComfyUI builds it: the SD VAE's blocks at its full width (Load VAE hard-codes ``ch`` 128) with 32
channels at 1/8, which a batch norm over 2x2 patches turns into 128 channels at 1/16."""


def _build_flux2_vae(generator: torch.Generator) -> dict:
    from comfy.ldm.models.autoencoder import AutoencoderKL

    with torch.device("meta"):
        module = AutoencoderKL(ddconfig=FLUX2_VAE_CONFIG, embed_dim=FLUX2_VAE_CONFIG["z_channels"])
    sd = _cast(_random_fill(module.state_dict(), generator), torch.float16)
    _check_vae("flux2_vae", sd, ("AutoencoderKL", 128, 2, 16))
    return sd


def _check_vae(family: str, sd: dict, expected: tuple) -> None:
    """Raise unless ComfyUI's VAE makes ``expected`` (module, latent channels, latent dims, downscale) of ``sd``."""
    import comfy.sd

    vae = comfy.sd.VAE(sd=sd)
    found = (
        type(vae.first_stage_model).__name__,
        vae.latent_channels,
        vae.latent_dim,
        vae.spacial_compression_encode(),
    )
    if found != expected:
        raise RuntimeError(f"tiny {family}: ComfyUI loads it as {found}, expected {expected}")


@dataclasses.dataclass(frozen=True)
class _Family:
    build: Callable[[torch.Generator], dict]
    prefix: str = ""  # where the diffusion model's keys start in the file
    detected: str | None = None  # the model config class ComfyUI detects; None: not detectable
    model_type: str | None = None  # the prediction type a UNet family's config reads from the weights


_FAMILIES = {
    "sdxl": _Family(_build_sdxl, detected="SDXL", model_type="EPS"),
    "sdxl_vpred": _Family(_build_sdxl_vpred, detected="SDXL", model_type="V_PREDICTION"),
    "koala": _Family(_build_koala, detected="KOALA_700M", model_type="EPS"),
    "sd3": _Family(_build_sd3, prefix=CHECKPOINT_UNET, detected="SD3"),
    "sd35": _Family(_build_sd35, detected="SD3"),
    "flux": _Family(_tiny_dit_builder("flux")),
    "sd2_v": _Family(_build_sd2_v, detected="SD20", model_type="V_PREDICTION"),
    "qwen_image": _Family(_tiny_dit_builder("qwen_image")),
    "zimage": _Family(_tiny_dit_builder("zimage")),
    "flux2": _Family(_tiny_dit_builder("flux2")),
    "hunyuan_image": _Family(_build_hunyuan_image, detected="HunyuanImage21"),
    "chroma": _Family(_tiny_dit_builder("chroma")),
    "hidream": _Family(_tiny_dit_builder("hidream")),
    "wan21_vae": _Family(_build_wan21_vae),
    "flux2_vae": _Family(_build_flux2_vae),
}
FAMILIES = tuple(_FAMILIES)


def _check_detection(family: str, sd: dict) -> None:
    """Raise unless ComfyUI's shape sniffing sees ``family`` in ``sd`` the way it was built."""
    import comfy.model_detection

    spec = _FAMILIES[family]
    if spec.detected is None:
        return
    config = comfy.model_detection.model_config_from_unet(sd, spec.prefix)
    found = type(config).__name__ if config is not None else None
    model_type = config.model_type(sd, spec.prefix).name if config is not None and spec.model_type else None
    if found != spec.detected or model_type != spec.model_type:
        expected = f"{spec.detected} {spec.model_type}"
        raise RuntimeError(f"tiny {family}: ComfyUI detects {found} {model_type}, expected {expected}")


# files ---------------------------------------------------------------------------------------


def model_path(family: str) -> pathlib.Path:
    """Where ``family``'s file is cached: ``<repo>/.cache/models/tiny_<family>.safetensors``."""
    if family not in _FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    return CACHE_DIR / f"tiny_{family}.safetensors"


def _meta_value(family: str) -> str:
    return f"version={FORMAT_VERSION} family={family} seed={SEED}"


def generate(family: str) -> pathlib.Path:
    """Build ``family``'s file and write it atomically to :func:`model_path`; returns the path.

    Raises:
        ValueError: unknown family.
        RuntimeError: ComfyUI would not detect the built weights as the family.
    """
    path = model_path(family)
    sd = _FAMILIES[family].build(torch.Generator().manual_seed(SEED))
    _check_detection(family, sd)
    _sd15_maker().write_stamped(sd, path, META_KEY, _meta_value(family))
    return path


def ensure_tiny_model(family: str) -> pathlib.Path:
    """The path of ``family``'s tiny model, generated first if it is missing or from another version.

    Args:
        family: one of :data:`FAMILIES`.

    Returns:
        ``<repo>/.cache/models/tiny_<family>.safetensors``.

    Raises:
        ValueError: unknown family.
    """
    path = model_path(family)
    if not _sd15_maker().is_stamped(path, META_KEY, _meta_value(family)):
        generate(family)
    return path


def load_tiny_dit(family: str):
    """Load a tiny DiT the way ``comfy.sd.load_diffusion_model_state_dict`` does after detection.

    Everything but the shape sniffing is ComfyUI's: the family's
    ``supported_models`` config (latent format, model sampling), its
    ``model_base`` class (extra conds, Flux's guidance and pooled ``y``) and
    the DiT forward, in float32 on the CPU.

    Args:
        family: a key of :data:`TINY_DITS`; its cached file is generated if needed.

    Returns:
        A ``comfy.model_patcher.ModelPatcher`` around the model.
    """
    import comfy.model_patcher
    import comfy.supported_models
    import comfy.utils

    sd = comfy.utils.load_torch_file(str(ensure_tiny_model(family)))
    model_config = getattr(comfy.supported_models, TINY_DITS[family].config_class)(tiny_dit_config(family, sd))
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model(sd, "")
    model.load_model_weights(sd, "")
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


def main(argv: list[str] | None = None) -> int:
    """Boot ComfyUI through the test host, then generate the named families' files (default: all) if stale."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("families", nargs="*", metavar="FAMILY", help=f"any of {', '.join(FAMILIES)} (default: all)")
    ap.add_argument("--force", action="store_true", help="regenerate even files that are up to date")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown:
        ap.error(f"unknown family: {', '.join(unknown)} (choose from {', '.join(FAMILIES)})")
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from host.in_process import boot_comfyui

    boot_comfyui()
    for family in args.families or FAMILIES:
        path = model_path(family)
        if args.force or not _sd15_maker().is_stamped(path, META_KEY, _meta_value(family)):
            t0 = time.perf_counter()
            generate(family)
            seconds = time.perf_counter() - t0
            log.info("%s: wrote %s (%.1f MiB) in %.1f s", family, path, path.stat().st_size / 2**20, seconds)
        else:
            log.info("%s: %s (%.1f MiB) is up to date", family, path, path.stat().st_size / 2**20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
