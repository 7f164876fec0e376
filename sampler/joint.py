"""Joint multi-scale sampling of a zoom stack (paper Algorithm 2), in k-diffusion sigma space."""

import math
from collections.abc import Callable

import torch

from ..blending import ZoomLayout, check_stack
from .noise import rendered_noise_sampler
from .schedule import check_sigmas
from .step import JointStep

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


def ancestral_step(sigma: float, sigma_next: float, eta: float = 1.0) -> tuple[float, float]:
    """``(sigma_down, sigma_up)`` of an ancestral step; eta = 1 is the DDPM posterior step in sigma space.

    k-diffusion's ``get_ancestral_step``, which this plain-PyTorch core cannot
    import; eta = 0 is the deterministic Euler (DDIM) step.
    """
    if sigma_next == 0:
        return 0.0, 0.0
    sigma_up = min(sigma_next, eta * math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2))
    return math.sqrt(sigma_next**2 - sigma_up**2), sigma_up


@torch.no_grad()
def sample_zoom_stack(
    denoise: Denoiser,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    step: JointStep | ZoomLayout | int,
    *,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
    callback: Callable[[dict], None] | None = None,
    latent: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample a zoom stack jointly across levels.

    Paper Algorithm 2 in k-diffusion sigma space (``x = x0 + sigma * n``). Every
    level keeps its own noisy state, started from the step's initial noise
    (:meth:`~.step.JointStep.initial_noise`: rendered, unless told otherwise). At each
    step the denoiser predicts every level at once; the :class:`~.step.JointStep`
    turns the estimates into one consistent stack (blend and render, after
    optional grounding), and an ancestral step moves toward those rendered
    estimates, injecting rendered noise ``Π_noise(E)`` with a fresh ``E``::

        d      = (x - x0r) / sigma
        x_next = x0r + d * sigma_down + Π_noise(E) * sigma_up

    Args:
        denoise: ``denoise(x, sigma) -> estimates``: the noisy stack ``(N, C, H, W)``
            and a 0-d tensor sigma in, clean estimates ``(N, C, H, W)`` out
            (one batched model call, each level with its own prompt).
        noise: unit noise, one independent draw per level.
        sigmas: decreasing 1-D schedule ending in 0.
        step: the joint step, or just the layout (zoom factor) for plain blend-and-render.
        eta: 1 for the paper's ancestral DDPM step (Euler ancestral), 0 for deterministic Euler.
        generator: random generator for the injected noise (see
            :func:`~.noise.rendered_noise_sampler`); fix it to reproduce a run.
        callback: called after each step's consolidation with k-diffusion's
            dict ``{"x", "i", "sigma", "sigma_hat", "denoised"}``.
        latent: a zoom stack to refine, the shape of ``noise``: sampling starts from it plus the
            initial noise at ``sigmas[0]``, as KSampler does below ``denoise`` 1 (hi-res zooms start
            from :func:`~..blending.upscale_stack`).

    Returns:
        The final stack ``(N, C, H, W)``: the rendered estimate of the last
        step, so its views already agree where they overlap; levels the step
        holds fixed are exactly their values wherever no sampled finer level covers them.

    Raises:
        ValueError: bad ``noise``, ``sigmas``, layout or grounding; a
            ``denoise`` result of the wrong shape or with NaN/inf (naming
            level and step).
    """
    step = step if isinstance(step, JointStep) else JointStep(step)
    check_stack(noise, step.layout, "noise")
    check_sigmas(sigmas)
    step.check(noise.shape)
    noise_sampler = rendered_noise_sampler(noise, step.layout, generator=generator)
    x = step.initial_noise(noise) * sigmas[0]
    if latent is not None:
        if latent.shape != noise.shape:
            raise ValueError(f"latent must have the shape of noise, {tuple(noise.shape)}; got {tuple(latent.shape)}")
        x = x + latent
    for index in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[index], sigmas[index + 1]
        estimates = denoise(x, sigma)
        check_estimates(estimates, x, index, float(sigma))
        denoised = step(estimates, float(sigma))
        if callback is not None:
            callback({"x": x, "i": index, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised})
        sigma_down, sigma_up = ancestral_step(float(sigma), float(sigma_next), eta)
        x = denoised + (x - denoised) * (sigma_down / float(sigma))
        if sigma_up > 0:
            x = x + noise_sampler(sigma, sigma_next) * sigma_up
    return step.keep_fixed(x)
