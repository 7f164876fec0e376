"""Joint multi-scale sampling of a zoom stack, in plain PyTorch.

- :mod:`.joint`: :func:`sample_zoom_stack`, paper Algorithm 2 (Euler-ancestral on rendered estimates).
- :mod:`.noise`: :func:`rendered_noise_sampler`, a k-diffusion ``noise_sampler`` yielding Π_noise.
"""

from .joint import ancestral_step, check_sigmas, sample_zoom_stack
from .noise import rendered_noise_sampler

__all__ = ["ancestral_step", "check_sigmas", "rendered_noise_sampler", "sample_zoom_stack"]
