"""Registers the repository root as the package ``powers_of_ten``; provides the ComfyUI host fixture."""

import importlib.util
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_by_path(name: str, path: pathlib.Path, package: bool = False):
    """Import ``path`` as module ``name`` (a package rooted at its folder when ``package``), once."""
    if name not in sys.modules:
        locations = [str(path.parent)] if package else None
        spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


load_by_path("powers_of_ten", REPO_ROOT / "__init__.py", package=True)


@pytest.fixture(scope="session")
def comfy():
    """ComfyUI booted in-process (``--cpu``) with this pack, the tiny checkpoint and the tiny LoRA.

    Skips when there is no checkout at ``COMFYUI_PATH`` or ``../ComfyUI``.
    """
    comfy_host = load_by_path("comfy_host", REPO_ROOT / "tests" / "host" / "comfy_host.py")
    path = comfy_host.locate_comfyui()
    if path is None:
        pytest.skip("no ComfyUI checkout: set COMFYUI_PATH or put one at ../ComfyUI (see README)")
    lora = load_by_path("make_tiny_lora", REPO_ROOT / "scripts" / "make_tiny_lora.py").ensure_tiny_lora()
    return comfy_host.boot_comfyui(path, extra_model_paths={"loras": [lora.parent]})
