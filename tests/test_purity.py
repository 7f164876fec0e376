"""blending/ and sampler/ stay plain PyTorch: they never import ComfyUI."""

import ast
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED = {
    "torch",
    *("math", "collections", "dataclasses", "fractions", "functools", "typing", "logging"),
    *("pack.blending", "pack.sampler"),
}


@pytest.mark.parametrize("folder", ["blending", "sampler"])
def test_core_imports_only_pure_libraries(folder):
    files = sorted((REPO_ROOT / folder).rglob("*.py"))
    assert files, f"{folder}/ has no modules"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            elif isinstance(node, ast.ImportFrom) and node.level > 1:
                # ``from ..x import`` reaches the pack's root: only its other pure packages are allowed.
                roots = [f"pack.{(node.module or '').split('.')[0]}"]
            else:
                continue
            outside = set(roots) - ALLOWED
            assert not outside, f"{path.relative_to(REPO_ROOT)}:{node.lineno} imports {outside}"


# What a ComfyUI install provides: its own modules and the libraries its requirements install.
COMFYUI_MODULES = {"comfy", "comfy_api", "comfy_extras", "folder_paths", "node_helpers", "latent_preview", "server"}
COMFYUI_INSTALLS = {"torch", "numpy", "av", "PIL", "safetensors"}


def top_level_imports(path: pathlib.Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_dependencies_are_declared_once_and_only_what_is_imported():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml itself")
    declared = {
        requirement.split(">")[0].split("=")[0].split("<")[0].strip()
        for requirement in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    files = [
        REPO_ROOT / "__init__.py",
        *(p for d in ("blending", "sampler", "nodes") for p in (REPO_ROOT / d).rglob("*.py")),
    ]
    imported = set().union(*(top_level_imports(path) for path in files)) - set(sys.stdlib_module_names)
    assert imported - COMFYUI_MODULES - COMFYUI_INSTALLS <= declared, "declare it in pyproject.toml"
    assert declared <= imported, f"declared but never imported: {declared - imported}"
    assert not (REPO_ROOT / "requirements.txt").exists(), "dependencies live in pyproject.toml alone"


# The mechanics of sampling part of a zoom (sampler/window.py, sampler/fixed.py): which levels take part, the
# layout of a part, holding and keeping fixed levels, what a finer level covers.
WINDOWING_NAMES = {"FixedLevels", "involved_levels"}
WINDOWING_METHODS = {"part", "hold", "keep", "covering_window"}


def test_nodes_leave_windowing_to_the_sampler():
    for path in sorted((REPO_ROOT / "nodes").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute):
                used = node.attr if node.attr in WINDOWING_METHODS | WINDOWING_NAMES else None
            elif isinstance(node, ast.Name | ast.alias):
                used = getattr(node, "id", None) or node.name
                used = used if used in WINDOWING_NAMES else None
            else:
                continue
            assert used is None, f"{path.relative_to(REPO_ROOT)}:{node.lineno} uses {used}: sampler/ does that"
