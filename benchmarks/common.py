"""What the benchmark scripts share: importing the pack, and booting ComfyUI with the test host."""

import importlib.util
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


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
