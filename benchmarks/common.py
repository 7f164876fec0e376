"""What the benchmark scripts share: arguments and logging, importing the pack, booting ComfyUI as the tests do."""

import argparse
import importlib.util
import logging
import pathlib
import sys

import torch

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
log = logging.getLogger("powers_of_ten.benchmarks")


def parse_arguments(parser: argparse.ArgumentParser, threads: int | None = None) -> argparse.Namespace:
    """A benchmark's arguments, with ``--threads`` added, once what every benchmark shares is set up.

    The figures go to :data:`log` at INFO, everything else (ComfyUI's start-up)
    at WARNING; ``--threads`` (default ``threads``, else torch's choice) sets
    torch's intra-op threads.
    """
    default = "torch's choice" if threads is None else threads
    parser.add_argument("--threads", type=int, default=threads, help=f"torch intra-op threads (default: {default})")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # The figures get a handler of their own: booting ComfyUI adds its handler to the root logger, which would
    # print each of them twice.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def load_pack():
    """Import the repository root as the package ``powers_of_ten``."""
    spec = importlib.util.spec_from_file_location(
        "powers_of_ten", REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules["powers_of_ten"] = package
    spec.loader.exec_module(package)
    return package


def boot_comfyui(extra_args: tuple[str, ...] = ()):
    """ComfyUI in-process (``--cpu`` and ``extra_args``) with this pack and the tiny test checkpoint (the tests' host).

    The checkout is ``COMFYUI_PATH``, else ``../ComfyUI``.
    """
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from host.in_process import boot_comfyui

    return boot_comfyui(extra_args)


def tiny_zoom(host, size: int, levels: int, zoom_factor: str):
    """The tiny checkpoint and a zoom of ``levels`` at ``size`` px with one prompt per level, through the nodes.

    Returns:
        ``(model, clip, vae, latent, zoom, plan)``.
    """
    mappings, core = host.NODE_CLASS_MAPPINGS, host.nodes
    model, clip, vae = core.CheckpointLoaderSimple().load_checkpoint(host.checkpoint_name)
    empty = mappings["P10_EmptyZoomLatent"]
    latent, zoom = empty.execute(width=size, height=size, levels=levels, zoom_factor=zoom_factor).result
    prompts = "\n".join(f"scale {level} of a zoom from a galaxy to a cell" for level in range(levels))
    plan = (
        mappings["P10_ZoomPrompts"]
        .execute(clip=clip, zoom=zoom, prompts=prompts, prefix="", suffix="", negative="blurry")
        .result[0]
    )
    return model, clip, vae, latent, zoom, plan
