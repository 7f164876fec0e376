"""What the tests share: imports by path, running nodes and prompts, seams, example workflows, a closed-form prior."""

import importlib.util
import json
import math
import pathlib
import sys
import time

import torch

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def import_path(name: str, path: pathlib.Path, *, package: bool = False):
    """Import ``path`` as module ``name`` (a package rooted at its folder when ``package``), once per process."""
    if name not in sys.modules:
        locations = [str(path.parent)] if package else None
        spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def run_node(comfy, node_id: str, **inputs):
    """A node's outputs (a tuple), from its ``execute`` as ComfyUI loaded it."""
    return comfy.NODE_CLASS_MAPPINGS[node_id].execute(**inputs).result


def seam(stack, zoom=2, *, measure: str = "max", comfy=None) -> float:
    """How much each level's centre and the next level box-shrunk disagree: 0 for a consistent stack.

    ``measure``: ``"max"``, the largest difference; ``"mse"``, the mean squared
    difference; ``"db"``, the agreement as a PSNR (images in ``[0, 1]``).
    ``stack`` is ``(N, C, H, W)``, or an IMAGE batch ``(N, H, W, C)``. Host tests
    pass ``comfy``, so that the copy of the pack ComfyUI loaded measures it.
    """
    if stack.shape[-1] in (3, 4) and stack.shape[1] not in (3, 4):
        stack = stack.movedim(-1, 1)
    blending = comfy.pack.blending if comfy is not None else importlib.import_module("powers_of_ten.blending")
    difference = blending.overlap_difference(stack, zoom)
    if measure == "max":
        return difference.abs().max().item()
    mse = difference.pow(2).mean().item()
    return mse if measure == "mse" else 10 * math.log10(1 / mse)


def wait_for_history(server, prompt_id: str, timeout: float) -> dict:
    """Poll a server's ``/history/<prompt_id>`` until the prompt finished or failed (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, history = server.get(f"/history/{prompt_id}")
        entry = history.get(prompt_id) if status == 200 and isinstance(history, dict) else None
        if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
            return entry
        time.sleep(0.25)
    raise AssertionError(f"prompt {prompt_id} not finished after {timeout:.0f} s:\n{server.log_text()[-4000:]}")


def validation_messages(result) -> str:
    """Every validation error of an :class:`~host.in_process.ExecutionResult`, one string."""
    return " | ".join(
        f"{error['message']}: {error['details']}" for node in result.node_errors.values() for error in node["errors"]
    )


# ---------------------------------------------------------------------------------------------- example workflows

WORKFLOWS = REPO_ROOT / "example_workflows"
WORKFLOW_NAMES = sorted(path.stem for path in WORKFLOWS.glob("*.json"))
TEST_SCALE = {
    "P10_EmptyZoomLatent": {"width": 128, "height": 128},
    "ImageScale": {"width": 128, "height": 128},
    "P10_ZoomKSampler": {"steps": 3},
    "BasicScheduler": {"steps": 3},
    "P10_SaveZoomVideo": {"width": 128, "fps": 4.0, "hold_start": 1, "hold_end": 1},
    "P10_ZoomVideoFrames": {"width": 128, "fps": 4.0, "hold_start": 1, "hold_end": 1},
}
"""Widget values that make an example run in seconds on the tiny models: 128 px levels, 3 steps, short videos."""


def load_workflow(name: str, api: bool = False) -> dict:
    """An example workflow: UI format, or with ``api`` the API-format copy."""
    return json.loads((WORKFLOWS / ("api" if api else "") / f"{name}.json").read_text())


def at_test_scale(prompt: dict, **widgets_by_class) -> dict:
    """An API prompt with :data:`TEST_SCALE` applied, plus ``{class_type: {widget: value}}`` (e.g. model names)."""
    prompt = json.loads(json.dumps(prompt))
    for node in prompt.values():
        node["inputs"].update(TEST_SCALE.get(node["class_type"], {}) | widgets_by_class.get(node["class_type"], {}))
    return prompt


def node_id(prompt: dict, class_type: str) -> str:
    """The id of the (first) node of ``class_type`` in an API prompt."""
    return next(key for key, node in prompt.items() if node["class_type"] == class_type)


# ---------------------------------------------------------------------------------------------- a closed-form prior

LEVELS, CHANNELS, SIZE, ZOOM = 4, 3, 32, 2


def gaussian_denoiser(means, spread=0.5):
    """The exact posterior mean for data ~ N(means[i], spread^2) per level: a different "prompt" per level."""

    def denoise(x, sigma):
        return (spread**2 * x + sigma**2 * means) / (spread**2 + sigma**2)

    return denoise


def level_means():
    """One "prompt" per level: a fixed random image each."""
    return torch.randn(LEVELS, CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(10))


def initial_noise(seed=0):
    return torch.randn(LEVELS, CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
