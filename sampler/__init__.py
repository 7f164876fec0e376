"""Joint multi-scale sampling of a zoom stack, in plain PyTorch.

- :mod:`.joint`: :func:`sample_zoom_stack`, paper Algorithm 2 (Euler-ancestral on rendered estimates).
- :mod:`.noise`: :func:`rendered_noise_sampler`, a k-diffusion ``noise_sampler`` yielding Π_noise.
- :mod:`.grounding`: photo-grounded zoom (paper §4.4), :func:`ground_estimates`.
"""

from .grounding import Grounding, check_grounding, ground_estimates, grounding_loss, grounding_sigma
from .joint import ancestral_step, check_sigmas, sample_zoom_stack
from .noise import rendered_noise_sampler

__all__ = [
    "Grounding",
    "ancestral_step",
    "check_grounding",
    "check_sigmas",
    "ground_estimates",
    "grounding_loss",
    "grounding_sigma",
    "rendered_noise_sampler",
    "sample_zoom_stack",
]
