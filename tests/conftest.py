"""Registers the repository root as the package ``powers_of_ten``; provides the ComfyUI host fixture."""

import pytest
from helpers import REPO_ROOT, import_path

import_path("powers_of_ten", REPO_ROOT / "__init__.py", package=True)


@pytest.fixture(scope="session")
def comfy():
    """ComfyUI booted in-process (``--cpu``) with this pack, the tiny checkpoint and the tiny LoRA.

    Host tests take the pack from ``comfy.pack``, the copy ComfyUI loaded.
    Skips when there is no checkout at ``COMFYUI_PATH`` or ``../ComfyUI``.
    """
    from host import in_process, layout

    if layout.locate_comfyui() is None:
        pytest.skip("no ComfyUI checkout: set COMFYUI_PATH or put one at ../ComfyUI (see README)")
    return in_process.boot_comfyui()
