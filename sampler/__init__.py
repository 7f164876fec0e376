"""Joint multi-scale sampling of a zoom stack, in plain PyTorch.

- :mod:`.step`: :class:`JointStep`, the one implementation of what paper Algorithm 2 does to each
  evaluation's estimates (grounding, blending and rendering in latent or pixel space).
- :mod:`.joint`: :func:`sample_zoom_stack`, Algorithm 2's sampling loop (Euler, ancestral or not).
- :mod:`.noise`: :func:`rendered_noise_sampler`, a k-diffusion ``noise_sampler`` yielding Π_noise.
- :mod:`.fixed`: :class:`FixedLevels`, levels held fixed while the others are sampled (extend, regenerate),
  and :func:`involved_levels`, which levels take part.
- :mod:`.window`: :class:`SamplingWindow`, a zoom with fixed levels sampled as the stack of its involved levels.
- :mod:`.grounding`: photo-grounded zoom (paper §4.4), :func:`ground_estimates`.
- :mod:`.schedule`: :class:`SigmaRange` (where in a schedule something runs) and :func:`check_sigmas`.
"""

from .fixed import FixedLevels, involved_levels
from .grounding import Grounding, ground_estimates, grounding_loss
from .joint import ancestral_step, sample_zoom_stack
from .noise import rendered_noise_sampler
from .schedule import SigmaRange, check_sigmas
from .step import JointStep, PixelSpace
from .window import SamplingWindow

__all__ = [
    "FixedLevels",
    "Grounding",
    "JointStep",
    "PixelSpace",
    "SamplingWindow",
    "SigmaRange",
    "ancestral_step",
    "check_sigmas",
    "ground_estimates",
    "grounding_loss",
    "involved_levels",
    "rendered_noise_sampler",
    "sample_zoom_stack",
]
