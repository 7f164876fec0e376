"""Registers the repository root as the package ``powers_of_ten``; provides the ComfyUI host fixture.

Every test in a ``test_host_*.py`` file is marked ``host``: it runs inside a real
ComfyUI and fails, never skips, when there is none (``python -m pytest -m "not host"``
runs the rest alone).
"""

import os
import pathlib

import pytest
from helpers import REPO_ROOT, import_path

import_path("powers_of_ten", REPO_ROOT / "__init__.py", package=True)
if os.environ.get("COMFYUI_PATH"):
    # Absolute, for the tests' own subprocesses, which start in other folders.
    os.environ["COMFYUI_PATH"] = str(pathlib.Path(os.environ["COMFYUI_PATH"]).expanduser().resolve())


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name.startswith("test_host_"):
            item.add_marker(pytest.mark.host)


@pytest.fixture(scope="session")
def comfy():
    """ComfyUI booted in-process (``--cpu``) with this pack, the tiny checkpoint and the tiny LoRA, serving HTTP.

    Host tests take the pack from ``comfy.pack``, the copy ComfyUI loaded.
    Fails when there is no checkout at ``COMFYUI_PATH`` or ``../ComfyUI``.
    """
    from host import in_process, layout

    if layout.locate_comfyui() is None:
        pytest.fail(
            "no ComfyUI checkout: set COMFYUI_PATH (bash .ci/comfyui_env.sh v0.8.0 unpacks one from ../shared/comfyui "
            'into .cache/comfyui, see README) or run the core tests alone with -m "not host"',
            pytrace=False,
        )
    return in_process.boot_comfyui()
