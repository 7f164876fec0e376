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
    """A node's outputs (a tuple), as ComfyUI loaded it: a V3 node's ``execute``, or a V1 node's ``FUNCTION``."""
    node = comfy.NODE_CLASS_MAPPINGS[node_id]
    if hasattr(node, "FUNCTION"):
        return getattr(node(), node.FUNCTION)(**inputs)
    return node.execute(**inputs).result


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


# ---------------------------------------------------------------------------------------------- an exact 1/f² prior


class FieldPrior:
    """A Gaussian random field whose power spectrum falls as 1/f², with reflective boundaries.

    Natural images have such a spectrum, and this one has an exact MMSE denoiser:
    the orthonormal DCT-II diagonalises its covariance, so the posterior mean at
    noise level sigma is a per-coefficient gain ``S / (S + sigma²)``. Sampling with
    it draws exact samples, so a zoom's views can be held against the real thing.
    Every channel is an independent field; values have unit variance on average.
    """

    def __init__(self, height: int, width: int, dtype=torch.float64):
        self.rows, self.cols = _dct_matrix(height, dtype), _dct_matrix(width, dtype)
        ky = torch.arange(height, dtype=dtype)[:, None] / height
        kx = torch.arange(width, dtype=dtype)[None, :] / width
        spectrum = 1 / (ky**2 + kx**2 + 1 / max(height, width) ** 2)
        self.spectrum = spectrum / spectrum.mean()

    def sample(self, shape, generator: torch.Generator) -> torch.Tensor:
        """Exact draws ``shape = (..., H, W)``."""
        noise = torch.randn(shape, generator=generator, dtype=self.spectrum.dtype)
        return self.rows.T @ (self.spectrum.sqrt() * noise) @ self.cols

    def denoise(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """The posterior mean of the field given ``x = field + sigma * noise`` (``sigma``: a number or one per row)."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype)
        if sigma.ndim:
            sigma = sigma.reshape(-1, *([1] * (x.ndim - 1)))
        gain = self.spectrum / (self.spectrum + sigma**2)
        return self.rows.T @ (gain * (self.rows @ x.to(self.rows.dtype) @ self.cols.T)) @ self.cols

    def consistent_stack(self, levels: int, channels: int, zoom_factor: int, generator: torch.Generator):
        """An exact sample of a consistent zoom stack: the finest level drawn, each coarser one drawn given its centre.

        Level ``i``'s ring is drawn from the field conditioned on its centre being
        the box-shrunk view of level ``i + 1`` (Gaussian conditioning, Matheron's
        rule), so the views are what a perfect joint sampler would produce.
        """
        height, width = self.spectrum.shape
        basis = torch.kron(self.rows, self.cols)
        covariance = basis.T @ torch.diag(self.spectrum.flatten()) @ basis
        child_h, child_w = height // zoom_factor, width // zoom_factor
        top, left = (height - child_h) // 2, (width - child_w) // 2
        centre = torch.zeros(height, width, dtype=torch.bool)
        centre[top : top + child_h, left : left + child_w] = True
        known = centre.flatten()
        gain = covariance[:, known] @ torch.linalg.inv(covariance[known][:, known])
        views = [self.sample((channels, height, width), generator)]
        for _ in range(levels - 1):
            finer = torch.nn.functional.avg_pool2d(views[0][None], zoom_factor)[0].reshape(channels, -1)
            free = self.sample((channels, height, width), generator).reshape(channels, -1)
            views.insert(0, (free + (finer - free[:, known]) @ gain.T).reshape(channels, height, width))
        return torch.stack(views)


def _dct_matrix(size: int, dtype) -> torch.Tensor:
    """The orthonormal DCT-II matrix: ``matrix @ x`` transforms the first axis of ``x``."""
    k = torch.arange(size, dtype=dtype)[:, None]
    n = torch.arange(size, dtype=dtype)[None, :]
    matrix = torch.cos(math.pi * (2 * n + 1) * k / (2 * size)) * math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix


def karras_sigmas(steps: int, sigma_min: float = 0.0292, sigma_max: float = 14.6, rho: float = 7.0):
    """Karras et al.'s schedule with SD1.5's sigma range, ending in 0."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def seam_ratio(views: torch.Tensor, layout) -> float:
    """Gradient energy across each paste border over that just beside it: 1 when the borders leave no trace.

    For every view but the last, the squared difference between the pixels just
    outside and just inside the finer level's footprint, over the mean of the
    squared differences one pixel further out and one further in, summed over
    all borders (:func:`border_gradients`). ``layout`` is a ``ZoomLayout`` (of
    either copy of the pack), or a zoom factor.
    """
    across, beside = border_gradients(views, layout)
    return float(across.sum() / beside.sum())


def border_gradients(views: torch.Tensor, layout) -> tuple[torch.Tensor, torch.Tensor]:
    """``(across, beside)`` for each border: ``(N - 1, 4)`` mean squared differences, edges top, bottom, left, right."""
    _, _, height, width = views.shape
    if isinstance(layout, int):
        layout = importlib.import_module("powers_of_ten.blending").ZoomLayout(layout)
    window = layout.child_window(height, width)
    v = views[:-1]
    top, bottom, left, right = window.top, window.top + window.height, window.left, window.left + window.width
    cols, rows = slice(left, right), slice(top, bottom)

    def mean_square(difference):
        return difference.pow(2).mean(dim=(1, 2))

    across, beside = [], []
    for outside, inside, out in ((top - 1, top, -1), (bottom, bottom - 1, 1)):
        across.append(mean_square(v[:, :, inside, cols] - v[:, :, outside, cols]))
        further_out = mean_square(v[:, :, outside, cols] - v[:, :, outside + out, cols])
        further_in = mean_square(v[:, :, inside, cols] - v[:, :, inside - out, cols])
        beside.append((further_out + further_in) / 2)
    for outside, inside, out in ((left - 1, left, -1), (right, right - 1, 1)):
        across.append(mean_square(v[:, :, rows, inside] - v[:, :, rows, outside]))
        further_out = mean_square(v[:, :, rows, outside] - v[:, :, rows, outside + out])
        further_in = mean_square(v[:, :, rows, inside] - v[:, :, rows, inside - out])
        beside.append((further_out + further_in) / 2)
    return torch.stack(across, dim=1), torch.stack(beside, dim=1)


def band_energy(views: torch.Tensor, octaves: int) -> torch.Tensor:
    """Mean square of each level's Laplacian band (box low-pass, bilinear expansion): ``(N, octaves + 1)``.

    Written here rather than taken from the pack: the instrument does not lean on what it measures.
    """
    energies, low = [], views
    for _ in range(octaves):
        coarser = torch.nn.functional.avg_pool2d(low, 2)
        expanded = torch.nn.functional.interpolate(coarser, scale_factor=2, mode="bilinear", align_corners=False)
        energies.append((low - expanded).pow(2).mean(dim=(1, 2, 3)))
        low = coarser
    return torch.stack([*energies, low.pow(2).mean(dim=(1, 2, 3))], dim=1)


# ---------------------------------------------------------------------------------------------- real photos


def photo_stack(array, levels: int, size: int) -> torch.Tensor:
    """An exactly consistent zoom stack cut from a photo: level i the central 1/2^i, box-shrunk to ``size``.

    The photo's centre square is first brought to the deepest level's resolution
    with bicubic interpolation: scikit-image's photos have fewer pixels than that,
    and area (nearest) upsampling would leave blocks whose edges a seam measure
    mistakes for detail.

    Shape:
        ``array (h, w, 3)`` uint8 -> ``(levels, 3, size, size)`` in ``[0, 1]``.
    """
    image = torch.from_numpy(array).float().div(255).movedim(-1, 0)[None]
    side = min(image.shape[-2:])
    top, left = (image.shape[-2] - side) // 2, (image.shape[-1] - side) // 2
    full = size * 2 ** (levels - 1)
    square = image[..., top : top + side, left : left + side]
    image = torch.nn.functional.interpolate(square, (full, full), mode="bicubic", antialias=True).clamp(0, 1)
    crops = []
    for level in range(levels):
        crop, offset = full // 2**level, (full - full // 2**level) // 2
        crops.append(
            torch.nn.functional.avg_pool2d(image[..., offset : offset + crop, offset : offset + crop], crop // size)
        )
    return torch.cat(crops)


def relative_seams(views: torch.Tensor, truth: torch.Tensor, layout) -> torch.Tensor:
    """Each border's seam ratio over the same border's in the truth's views: ``(N - 1) * 4`` values, 1 is as natural."""
    across, beside = border_gradients(views, layout)
    true_across, true_beside = border_gradients(truth, layout)
    return ((across / beside) / (true_across / true_beside)).flatten()
