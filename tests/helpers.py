"""What the tests share: imports by path, running nodes and prompts, seams, example workflows, a closed-form prior."""

import importlib.util
import json
import math
import pathlib
import sys
import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ModelCall:
    """One call a :func:`recording` model made: its halves (ComfyUI's ``cond_or_uncond``: 0 conditional, 1
    unconditional, each ``len(input) // len(cond_or_uncond)`` rows), input, conditioning, output and the base
    model it ran on."""

    cond_or_uncond: list[int]
    input: torch.Tensor
    c: dict
    output: torch.Tensor
    model: object

    def conditional(self) -> torch.Tensor:
        """The conditional half of the output, its rows the call's levels in order."""
        rows = len(self.output) // len(self.cond_or_uncond)
        start = self.cond_or_uncond.index(0) * rows
        return self.output[start : start + rows]


def recording(model, calls: list):
    """A clone of the MODEL ``model`` whose model calls append a :class:`ModelCall` to ``calls``."""

    def wrapper(apply_model, args):
        output = apply_model(args["input"], args["timestep"], **args["c"])
        order = list(args["cond_or_uncond"])
        calls.append(ModelCall(order, args["input"].clone(), args["c"], output.clone(), apply_model.__self__))
        return output

    clone = model.clone()
    clone.set_model_unet_function_wrapper(wrapper)
    return clone


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio of ``a`` against ``b``, images in ``[0, 1]``, in dB: infinite where they are equal."""
    mse = (a - b).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def seam(stack, zoom=2, *, measure: str = "max", comfy=None) -> float:
    """How much each level's centre and the next level box-shrunk disagree: 0 for a consistent stack.

    ``measure``: ``"max"``, the largest difference; ``"mse"``, the mean squared
    difference; ``"db"``, the agreement as a PSNR (images in ``[0, 1]``).
    ``stack`` is ``(N, C, H, W)``, or an IMAGE batch ``(N, H, W, C)``. Host tests
    pass ``comfy``, so that the copy of the pack ComfyUI loaded measures it.
    """
    # An IMAGE's height and width exceed 4 pixels; a (N, 64, 4, 4) latent (HunyuanImage 2.1 at 128 px) is not one.
    if stack.shape[-1] in (3, 4) and min(stack.shape[1:3]) > 4:
        stack = stack.movedim(-1, 1)
    blending = comfy.pack.blending if comfy is not None else importlib.import_module("powers_of_ten.blending")
    difference = blending.overlap_difference(stack, zoom)
    if measure == "max":
        return difference.abs().max().item()
    if measure == "mse":
        return difference.pow(2).mean().item()
    return psnr(difference, torch.zeros_like(difference))


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


def independent_sampling(denoise, noise, sigmas, generator: torch.Generator, eta: float = 1.0) -> torch.Tensor:
    """Each level sampled on its own, with no blending: the paper's "independent" baseline.

    Euler ancestral (``eta`` 1) or Euler (``eta`` 0) on ``denoise(x, sigma)``, the
    sampler the pack's ``sample_zoom_stack`` runs, from ``noise * sigmas[0]``.
    """
    ancestral_step = importlib.import_module("powers_of_ten.sampler").ancestral_step
    x = noise * sigmas[0]
    for sigma, sigma_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        denoised = denoise(x, sigma)
        sigma_down, sigma_up = ancestral_step(sigma, sigma_next, eta)
        x = denoised + (x - denoised) * (sigma_down / sigma)
        if sigma_up > 0:
            x = x + torch.randn(x.shape, generator=generator, dtype=x.dtype) * sigma_up
    return x


def plain_average(estimates: torch.Tensor, layout) -> torch.Tensor:
    """The MultiDiffusion-style baseline: each level the mean of itself and upsampled crops of the coarser ones.

    ``layout`` is a ``ZoomLayout`` (of either copy of the pack) or a zoom factor.
    """
    if isinstance(layout, int):
        layout = importlib.import_module("powers_of_ten.blending").ZoomLayout(layout)
    levels, _, height, width = estimates.shape
    averaged = estimates.clone()
    for level in range(1, levels):
        observations = [estimates[level]]
        for depth in range(1, level + 1):
            window = layout.nested_window(height, width, level - depth, depth)
            if window is None:
                break
            crop = estimates[level - depth : level - depth + 1, :, window.rows, window.cols]
            upsampled = torch.nn.functional.interpolate(
                crop, size=(height, width), mode="bilinear", align_corners=False
            )
            observations.append(upsampled[0])
        averaged[level] = torch.stack(observations).mean(dim=0)
    return averaged


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

    def consistent_stack(self, levels: int, channels: int, layout, generator: torch.Generator):
        """An exact sample of a consistent zoom stack: the finest level drawn, each coarser one given its footprint.

        Level ``i``'s ring is drawn from the field conditioned on level ``i + 1``'s
        footprint being the box-shrunk view of level ``i + 1`` (Gaussian
        conditioning, Matheron's rule), so the views are what a perfect joint
        sampler would produce. ``layout`` is a ``ZoomLayout`` or a zoom factor.
        """
        if isinstance(layout, int):
            layout = importlib.import_module("powers_of_ten.blending").ZoomLayout(layout)
        height, width = self.spectrum.shape
        basis = torch.kron(self.rows, self.cols)
        covariance = basis.T @ torch.diag(self.spectrum.flatten()) @ basis
        views = [self.sample((channels, height, width), generator)]
        for level in reversed(range(levels - 1)):
            window = layout.child_window(height, width, level)
            footprint = torch.zeros(height, width, dtype=torch.bool)
            footprint[window.rows, window.cols] = True
            known = footprint.flatten()
            gain = covariance[:, known] @ torch.linalg.inv(covariance[known][:, known])
            finer = torch.nn.functional.avg_pool2d(views[0][None], layout.zoom_factor)[0].reshape(channels, -1)
            free = self.sample((channels, height, width), generator).reshape(channels, -1)
            views.insert(0, (free + (finer - free[:, known]) @ gain.T).reshape(channels, height, width))
        return torch.stack(views)


FIELD_SIZE, FIELD_CHANNELS = 64, 8
"""The side and channels (independent fields) of the stacks :func:`sample_field_zoom` samples."""


def sample_field_zoom(levels: int, zoom, seed: int, fixed=None, eta: float = 1.0):
    """A zoom stack sampled by the pack's joint step on the exact prior: ``levels`` levels, 20 Karras steps.

    ``zoom`` is a ``ZoomLayout`` or a zoom factor, ``fixed`` the ``sampler.FixedLevels`` to hold, ``eta`` 1 for
    Euler ancestral, 0 for Euler; float64, ``(levels, FIELD_CHANNELS, FIELD_SIZE, FIELD_SIZE)``.
    """
    sampler = importlib.import_module("powers_of_ten.sampler")
    shape = (levels, FIELD_CHANNELS, FIELD_SIZE, FIELD_SIZE)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    step = sampler.JointStep(zoom, fixed=fixed)
    generator = torch.Generator().manual_seed(seed + 1)
    field = FieldPrior(FIELD_SIZE, FIELD_SIZE)
    return sampler.sample_zoom_stack(field.denoise, noise, karras_sigmas(20), step, eta=eta, generator=generator)


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


def kept_above(result: torch.Tensor, old: torch.Tensor, layout) -> bool:
    """Whether each level of ``old`` (the levels a deeper extension holds fixed) is in ``result`` exactly as it
    was, except in the pixels the first new level falls in, where rendering pastes it."""
    count, _, height, width = old.shape
    for level in range(count):
        covered = layout.covering_window(height, width, level, count - level)
        outside = torch.ones(height, width, dtype=torch.bool)
        outside[covered.rows, covered.cols] = False
        if not torch.equal(result[level][:, outside], old[level][:, outside]):
            return False
    return True


def level_seam_ratios(views: torch.Tensor, layout) -> torch.Tensor:
    """:func:`seam_ratio` of each view's border on its own: ``(N - 1,)``, 1 where it leaves no trace."""
    across, beside = border_gradients(views, layout)
    return across.sum(1) / beside.sum(1)


def border_gradients(views: torch.Tensor, layout) -> tuple[torch.Tensor, torch.Tensor]:
    """``(across, beside)`` for each border: ``(N - 1, 4)`` mean squared differences, edges top, bottom, left, right.

    A side where the footprint lies within two pixels of the level's edge has
    no border to measure: both are 0 there, and sums over borders skip it.
    """
    _, _, height, width = views.shape
    if isinstance(layout, int):
        layout = importlib.import_module("powers_of_ten.blending").ZoomLayout(layout)

    def mean_square(difference):
        return difference.pow(2).mean().reshape(())

    across = torch.zeros(views.shape[0] - 1, 4, dtype=views.dtype)
    beside = torch.zeros_like(across)
    for level, view in enumerate(views[:-1]):
        window = layout.child_window(height, width, level)
        top, bottom, left, right = window.top, window.top + window.height, window.left, window.left + window.width

        def line(axis, index, view=view, window=window):
            return view[:, index, window.cols] if axis == 0 else view[:, window.rows, index]

        sides = ((top - 1, top, -1, 0), (bottom, bottom - 1, 1, 0), (left - 1, left, -1, 1), (right, right - 1, 1, 1))
        for side, (outside, inside, out, axis) in enumerate(sides):
            size = (height, width)[axis]
            if not (0 <= outside + out < size and 0 <= outside < size):
                continue
            across[level, side] = mean_square(line(axis, inside) - line(axis, outside))
            further = mean_square(line(axis, outside) - line(axis, outside + out))
            further = further + mean_square(line(axis, inside) - line(axis, inside - out))
            beside[level, side] = further / 2
    return across, beside


def octave_groups(zoom_factor: int, octaves: int) -> dict[str, list[int]]:
    """The octaves the quality figures average: ``high`` the top two, ``mid`` the three from the first one
    several levels share (``log2 p`` onwards), ``low`` the rest, of ``octaves + 1`` bands (:func:`band_energy`)."""
    shared = zoom_factor.bit_length() - 1
    return {"high": [0, 1], "mid": list(range(shared, shared + 3)), "low": list(range(shared + 3, octaves + 1))}


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


def fractal_texture(levels, height, width, seed, channels=3, octaves=6):
    """Independent 1/f-like textures per level, in [0, 1]: detail at every scale, like a natural image."""
    generator = torch.Generator().manual_seed(seed)
    texture = torch.zeros(levels, channels, height, width)
    for octave in range(octaves):
        grid = (max(2, height >> (octaves - octave)) + 1, max(2, width >> (octaves - octave)) + 1)
        noise = torch.rand(levels, channels, *grid, generator=generator)
        upsampled = torch.nn.functional.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False)
        texture += upsampled * 0.6 ** (octaves - octave - 1)
    texture -= texture.amin((1, 2, 3), keepdim=True)
    return texture / texture.amax((1, 2, 3), keepdim=True)


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
