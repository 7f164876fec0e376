"""A test-only node pack: stand-ins for what cannot be made tiny through ComfyUI's own loaders.

Loaded beside the pack by the test host. Its nodes:

- ``P10Test_TextEncoder``: a CLIP for SDXL, Flux, Flux.2, SD2, Qwen-Image, Z-Image, HunyuanImage 2.1, Chroma or
  HiDream whose text encoders are replaced by hand-built CONDITIONING of the family's shapes (cross-attention,
  ``pooled_output``, HiDream's ``conditioning_llama3``), a deterministic function of the text: SDXL's CLIP-G,
  T5-XXL, Flux.2's Mistral 3, Qwen-Image's Qwen2.5-VL, Z-Image's Qwen3-4B and HiDream's Llama 3.1 have fixed
  sizes in ComfyUI's loaders (gigabytes). Token counts follow the text's length (77 per CLIP chunk, Flux's T5 one
  per word from 256, HiDream's from 128, the others one per word), so levels' prompts of different lengths give
  sequences of different lengths.
- ``P10Test_TinyDiT``: the tiny Flux, Flux.2, Qwen-Image, Z-Image, Chroma or HiDream DiT
  (``scripts/make_tiny_models.py``), which ComfyUI's detection cannot size.
- ``P10Test_Capture``: an output node that keeps any value it is given in
  :data:`CAPTURED` under its ``key``, so that the in-process test host can read
  a node's raw output (a LATENT dict, an IMAGE tensor, a ZOOM) after running a
  prompt over HTTP.
"""

import hashlib
import math
import pathlib
import sys

import torch

TESTS = pathlib.Path(__file__).resolve().parents[2]
# family: (cross-attention width, pooled width or None, tokens per chunk, minimum tokens)
SHAPES = {
    "sdxl": (2048, 1280, 77, 77),
    "flux": (4096, 768, 1, 256),
    "sd2": (1024, None, 77, 77),
    "qwen_image": (3584, None, 1, 1),  # Qwen2.5-VL: one token per word, no padding
    "zimage": (2560, None, 1, 1),  # Qwen3-4B, with an attention mask as ComfyUI's encoder gives
    "flux2": (15360, None, 1, 1),  # Mistral 3's three layers side by side, with an attention mask
    "hunyuan_image": (3584, None, 1, 1),  # Qwen2.5-VL 7B
    "chroma": (4096, None, 1, 1),  # T5-XXL without padding, no pooled vector
    "hidream": (4096, 2048, 1, 128),  # T5-XXL padded to 128 tokens; CLIP-L and CLIP-G pooled side by side
}
UNPOOLED = {"qwen_image", "zimage", "flux2", "hunyuan_image", "chroma"}
"""Families whose text encoder has no pooled vector (a language model, or Chroma's T5 alone): ComfyUI's conditioning
then has ``pooled_output`` None (Flux's models read the key)."""
MASKED = {"zimage", "flux2", "hunyuan_image"}
"""Families whose text encoder gives an attention mask."""
HIDREAM_T5_TOKENS = 128
LLAMA_LAYERS = 4
"""HiDream's Llama 3.1 hidden states, one layer per block: the tiny model's blocks read layers 0 and 3 (of 32)."""


class StandInCLIP:
    """What Zoom Prompts and CLIP Text Encode call on a CLIP: ``tokenize`` and ``encode_from_tokens_scheduled``."""

    def __init__(self, family: str):
        self.family = family

    def tokenize(self, text: str):
        return text

    def encode_from_tokens_scheduled(self, text: str):
        width, pooled_width, chunk, minimum = SHAPES[self.family]
        words = max(1, len(text.split()))
        tokens = max(minimum, chunk * math.ceil(words / 75)) if chunk > 1 else max(minimum, words)
        seed = int.from_bytes(hashlib.sha256(f"{self.family}:{text}".encode()).digest()[:8], "little")
        generator = torch.Generator().manual_seed(seed)
        options = {}
        if pooled_width is not None:
            options["pooled_output"] = torch.randn(1, pooled_width, generator=generator)
        elif self.family in UNPOOLED:
            options["pooled_output"] = None
        if self.family in MASKED:
            options["attention_mask"] = torch.ones(1, tokens, dtype=torch.long)
        if self.family == "hidream":
            options["conditioning_llama3"] = torch.randn(1, LLAMA_LAYERS, tokens, 4096, generator=generator)
            tokens = HIDREAM_T5_TOKENS  # its T5 is cut to its first 128 tokens, the Llama is not
        return [[torch.randn(1, tokens, width, generator=generator), options]]


class TextEncoder:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"family": (list(SHAPES),)}}

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load"
    CATEGORY = "p10_test"

    def load(self, family):
        return (StandInCLIP(family),)


class TinyDiT:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"family": (["flux", "flux2", "qwen_image", "zimage", "chroma", "hidream"],)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load"
    CATEGORY = "p10_test"

    def load(self, family):
        sys.path.insert(0, str(TESTS))
        from helpers import REPO_ROOT, import_path

        maker = import_path("make_tiny_models", REPO_ROOT / "scripts" / "make_tiny_models.py")
        return (maker.load_tiny_dit(family),)


CAPTURED: dict = {}
"""key -> the value a ``P10Test_Capture`` node was given; the test host pops what it asked for."""


class Capture:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",), "key": ("STRING", {"default": ""})}}

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        # Taking input_types tells ComfyUI to skip its type check: any output may be captured.
        return True

    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "capture"
    CATEGORY = "p10_test"

    def capture(self, value, key):
        CAPTURED[key] = value
        return {}


NODE_CLASS_MAPPINGS = {
    "P10Test_TextEncoder": TextEncoder,
    "P10Test_TinyDiT": TinyDiT,
    "P10Test_Capture": Capture,
}
