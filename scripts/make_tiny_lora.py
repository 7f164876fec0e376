#!/usr/bin/env python
"""Generate a tiny random LoRA for the tiny SD1.5 test checkpoint (``make_tiny_checkpoint.py``).

Rank-4 updates of every cross-attention key/value projection of the tiny
UNet, in the kohya ``lora_unet_*`` key format ComfyUI's LoraLoader reads.
Strong enough that a LoRA-loaded model's estimates differ visibly from the
base model's. Deterministic. Usable as a script (``--out PATH``) and as a
module loaded by file path: ``ensure_tiny_lora()``.
"""

import argparse
import logging
import pathlib

import torch
from safetensors.torch import save_file

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / ".cache" / "loras" / "tiny_sd15_lora.safetensors"
SEED = 20240611
RANK = 4
# UNet blocks of the tiny checkpoint that hold a transformer (input 1, output 0 and 1).
TRANSFORMER_BLOCKS = ("input_blocks_1_1", "output_blocks_0_1", "output_blocks_1_1")

log = logging.getLogger("powers_of_ten.scripts")


def tiny_lora_state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(SEED)
    state = {}
    for block in TRANSFORMER_BLOCKS:
        for projection in ("to_k", "to_v"):
            name = f"lora_unet_{block}_transformer_blocks_0_attn2_{projection}"
            state[f"{name}.lora_down.weight"] = torch.randn(RANK, 768, generator=generator) / 768**0.5
            state[f"{name}.lora_up.weight"] = torch.randn(320, RANK, generator=generator)
            state[f"{name}.alpha"] = torch.tensor(float(RANK))
    return state


def ensure_tiny_lora(path: str | pathlib.Path | None = None) -> pathlib.Path:
    """Write the tiny LoRA to ``path`` (default ``.cache/loras/tiny_sd15_lora.safetensors``) unless it exists."""
    path = pathlib.Path(path) if path is not None else DEFAULT_OUT
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in tiny_lora_state_dict().items()}, str(path))
        log.info("wrote %s", path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ensure_tiny_lora(args.out)


if __name__ == "__main__":
    main()
