"""blending/ and sampler/ stay plain PyTorch: they never import ComfyUI."""

import ast
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED = {
    *("torch", "numpy", "kornia", "einops"),
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
