"""Joint multi-scale sampling of a zoom stack (paper Algorithm 2), in k-diffusion sigma space."""

import math
from collections.abc import Callable, Mapping

import torch

from ..blending import check_stack, consolidate_estimates
from .grounding import Grounding, check_grounding, ground_estimates, grounding_sigma
from .noise import rendered_noise_sampler

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_sigmas(sigmas: torch.Tensor) -> None:
    """Validate a noise schedule: 1-D, finite, strictly decreasing, positive until a final 0.

    Raises:
        ValueError: naming the first entry that breaks the rule.
    """
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1 or sigmas.numel() < 2:
        shape = tuple(sigmas.shape) if isinstance(sigmas, torch.Tensor) else type(sigmas).__name__
        raise ValueError(f"sigmas must be a 1-D tensor with at least 2 entries; got {shape}")
    values = sigmas.detach().double().cpu()
    if not torch.isfinite(values).all():
        raise ValueError(f"sigmas must be finite; got {values.tolist()}")
    if values[-1] != 0:
        raise ValueError(f"sigmas must end in 0; the last of {len(values)} is {values[-1].item():g}")
    steps = values[1:] - values[:-1]
    if (steps >= 0).any():
        index = int(torch.nonzero(steps >= 0)[0])
        raise ValueError(
            f"sigmas must be strictly decreasing; sigmas[{index}] = {values[index].item():g} is followed by "
            f"sigmas[{index + 1}] = {values[index + 1].item():g}"
        )


def check_estimates(estimates: torch.Tensor, x: torch.Tensor, step: int, sigma: float) -> None:
    """Validate what a denoiser returned for the stack ``x`` at one step.

    Raises:
        ValueError: wrong shape, or NaN/inf values (naming the level and step).
    """
    if not isinstance(estimates, torch.Tensor) or estimates.shape != x.shape:
        shape = tuple(estimates.shape) if isinstance(estimates, torch.Tensor) else type(estimates).__name__
        raise ValueError(f"denoise returned {shape} at step {step}; expected the stack's shape {tuple(x.shape)}")
    finite = torch.isfinite(estimates).flatten(1).all(dim=1)
    if not finite.all():
        level = int(torch.nonzero(~finite)[0])
        raise ValueError(f"denoise returned NaN or inf for level {level} at step {step} (sigma {sigma:g})")


def ancestral_step(sigma: float, sigma_next: float) -> tuple[float, float]:
    """``(sigma_down, sigma_up)`` of an ancestral step with eta = 1: the DDPM posterior step in sigma space."""
    if sigma_next == 0:
        return 0.0, 0.0
    return sigma_next**2 / sigma, sigma_next * math.sqrt(1 - sigma_next**2 / sigma**2)


@torch.no_grad()
def sample_zoom_stack(
    denoise: Denoiser,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    zoom_factor: int,
    *,
    generator: torch.Generator | None = None,
    callback: Callable[[dict], None] | None = None,
    grounding: Grounding | Mapping[int, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Sample a zoom stack jointly across levels.

    Paper Algorithm 2 in k-diffusion sigma space (``x = x0 + sigma * n``). Every
    level keeps its own noisy state, started from independent noise. At each
    step the denoiser predicts every level at once; the estimates are blended
    and re-rendered (:func:`~..blending.consolidate_estimates`), and an
    ancestral DDPM step (Euler-ancestral, eta = 1) moves toward those rendered
    estimates, injecting rendered noise ``Π_noise(E)`` with a fresh ``E``::

        d      = (x - x0r) / sigma
        x_next = x0r + d * sigma_down + Π_noise(E) * sigma_up

    Args:
        denoise: ``denoise(x, sigma) -> estimates``: the noisy stack ``(N, C, H, W)``
            and a 0-d tensor sigma in, clean estimates ``(N, C, H, W)`` out
            (one batched model call, each level with its own prompt).
        noise: initial unit noise, one independent draw per level.
        sigmas: decreasing 1-D schedule ending in 0.
        zoom_factor: zoom factor ``p`` between consecutive levels.
        generator: random generator for the injected noise (see
            :func:`~.noise.rendered_noise_sampler`); fix it to reproduce a run.
        callback: called after each step's consolidation with k-diffusion's
            dict ``{"x", "i", "sigma", "sigma_hat", "denoised"}``.
        grounding: photos that constrain some levels (paper §4.4): a
            :class:`~.grounding.Grounding`, or a mapping level -> ``(C, H, W)``
            image of that level's field of view with the default settings.
            During the first ``fraction`` of the schedule, the estimates take
            a few Adam steps toward the photos before each blend.

    Returns:
        The final stack ``(N, C, H, W)``: the rendered estimate of the last
        step, so its views already agree where they overlap.

    Raises:
        ValueError: bad ``noise``, ``sigmas``, ``zoom_factor`` or ``grounding``;
            a ``denoise`` result of the wrong shape or with NaN/inf (naming
            level and step).
    """
    check_stack(noise, zoom_factor, "noise")
    check_sigmas(sigmas)
    if grounding is not None and not isinstance(grounding, Grounding):
        grounding = Grounding(photos=dict(grounding))
    if grounding is not None:
        check_grounding(grounding, noise.shape)
        ground_above = grounding_sigma(sigmas, grounding.fraction)
    noise_sampler = rendered_noise_sampler(noise, zoom_factor, generator=generator)
    x = noise * sigmas[0]
    for step in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[step], sigmas[step + 1]
        estimates = denoise(x, sigma)
        check_estimates(estimates, x, step, float(sigma))
        if grounding is not None and float(sigma) > ground_above:
            estimates = ground_estimates(estimates, zoom_factor, grounding)
        denoised = consolidate_estimates(estimates, zoom_factor)
        if callback is not None:
            callback({"x": x, "i": step, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised})
        sigma_down, sigma_up = ancestral_step(float(sigma), float(sigma_next))
        x = denoised + (x - denoised) * (sigma_down / float(sigma))
        if sigma_up > 0:
            x = x + noise_sampler(sigma, sigma_next) * sigma_up
    return x
