"""A k-diffusion style noise source that yields rendered noise (Π_noise, paper Algorithm 2)."""

from collections.abc import Callable

import torch

from ..blending import ZoomLayout, check_stack, frames_as_channels
from ..blending.render import render_noise_levels

NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

EMPTY_INTERVAL_RTOL = 1e-6
"""Intervals shorter than this, relative to their ends, are empty: a few float32 ulps, what a round trip through
log-SNR leaves of a step's end (SEEDS-2 with ``r = 1``, i.e. ``exp_heun_2_x0_sde``, asks for its second half-step
from ``sigma_fn(lambda_fn(sigma_next))`` to ``sigma_next``)."""


def rendered_noise_sampler(
    x: torch.Tensor,
    zoom: ZoomLayout | int,
    *,
    generator: torch.Generator | None = None,
    draw: NoiseSampler | None = None,
) -> NoiseSampler:
    """Make a ``noise_sampler(sigma, sigma_next)`` whose every draw is ``Π_noise(E)`` for a new unit ``E``.

    This is the signature k-diffusion's ancestral and SDE samplers (and ComfyUI's,
    through their ``noise_sampler`` argument) call for the noise they inject, so
    any of them injects noise that agrees across levels where they overlap while
    each level's noise stays unit-variance and white.

    ``E`` is a fresh draw per call, or what ``draw`` gives for the interval. SDE
    solvers that evaluate inside a step (DPM++ SDE, SEEDS) expect the noise of
    nested intervals to be increments of one Brownian motion, as k-diffusion's
    ``BrownianTreeNoiseSampler`` gives; Π_noise is linear and keeps every level
    unit-variance and white, so rendered increments of a Brownian motion are
    increments of a rendered Brownian motion.

    An empty interval (``sigma == sigma_next`` up to :data:`EMPTY_INTERVAL_RTOL`)
    is never passed to ``draw``: a Brownian increment normalised by the interval's
    length is 0/0 there (NaN from ``BrownianTreeNoiseSampler``, and near zero rather
    than unit just above it, below the tree's tolerance), while samplers ask for such
    intervals and expect unit noise: SEEDS-2 with ``r = 1`` (``exp_heun_2_x0_sde``)
    for its second half-step, which it scales by zero, and any sampler on a schedule
    with a repeated sigma. They get a fresh draw instead, the limit of normalised
    increments over shrinking intervals (white noise, independent of the rest) and
    what ComfyUI's default noise sampler gives for every interval.

    Args:
        x: the zoom stack being sampled; gives shape, device and dtype.
        zoom: the :class:`~..blending.ZoomLayout`, or the zoom factor ``p``.
        generator: random generator for fresh draws; draws happen on its device and
            are moved to ``x``'s. ``None`` uses the global generator of ``x``'s device.
        draw: ``draw(sigma, sigma_next)`` -> unit noise of ``x``'s shape for a non-empty
            interval, instead of fresh draws.

    Returns:
        ``noise_sampler(sigma, sigma_next) -> Tensor`` of ``x``'s shape, device and dtype.

    Shape:
        ``x``: ``(N, C, H, W)``, or 5-D latents ``(N, C, T, H, W)`` (each plane rendered as a channel);
        each draw: ``x``'s shape.
    """
    view, back = frames_as_channels(x)
    layout = check_stack(view, zoom, "x")
    shape, device, dtype = x.shape, x.device, x.dtype
    draw_device = generator.device if generator is not None else device

    def noise_sampler(sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
        if draw is None or is_empty_interval(sigma, sigma_next):
            noise = torch.randn(shape, generator=generator, device=draw_device, dtype=torch.float32)
        else:
            noise = draw(sigma, sigma_next).float()
        return back(render_noise_levels(frames_as_channels(noise.to(device))[0], layout)).to(dtype)

    return noise_sampler


def is_empty_interval(sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> bool:
    """Whether ``[sigma_next, sigma]`` is empty up to float32 rounding (:data:`EMPTY_INTERVAL_RTOL`)."""
    sigma, sigma_next = (float(s) for s in (sigma, sigma_next))
    return abs(sigma - sigma_next) <= EMPTY_INTERVAL_RTOL * max(abs(sigma), abs(sigma_next))
