"""The joint step of multi-scale sampling: raw per-level estimates in, one consistent stack out (paper Algorithm 2).

Every sampler that runs a zoom calls this once per model evaluation, between
the model call and its own update: ComfyUI's samplers through the Zoom Guider,
and :func:`~.joint.sample_zoom_stack` in plain PyTorch.
"""

from dataclasses import dataclass

import torch

from ..blending import ZoomLayout, as_layout, consolidate_through_codec
from ..blending.blend import consolidate_levels
from ..blending.codec import Codec
from .grounding import Grounding, ground_estimates
from .schedule import SigmaRange


@dataclass(frozen=True)
class PixelSpace:
    """Consolidation through the decoded images of a latent model (README, "Pixel-space consolidation").

    Attributes:
        decode: latents ``(N, C, h, w)`` -> images ``(N, C', H, W)``.
        encode: images ``(B, C', H, W)`` -> latents ``(B, C, h, w)``.
        sigmas: where in the schedule to consolidate in pixel space; elsewhere it happens in latent space.
    """

    decode: Codec
    encode: Codec
    sigmas: SigmaRange = SigmaRange()


@dataclass(frozen=True)
class JointStep:
    """What happens to one evaluation's per-level estimates before the sampler uses them.

    Paper Algorithm 2, between the model call and the update: optional photo
    grounding (§4.4), then blend (Fig. 5) and render (Algorithm 1) in latent
    space, or in pixel space through a codec where :attr:`pixel_space` says so.

    Attributes:
        layout: where the levels sit (a :class:`~..blending.ZoomLayout` or a zoom factor).
        grounding: photos that constrain some levels, and when.
        pixel_space: a decoder and encoder to consolidate through, and when.
    """

    layout: ZoomLayout
    grounding: Grounding | None = None
    pixel_space: PixelSpace | None = None

    def __post_init__(self):
        object.__setattr__(self, "layout", as_layout(self.layout))

    def check(self, stack_shape: torch.Size) -> None:
        """Validate the step against the stack it will see, once before sampling.

        Raises:
            ValueError: a size that cannot hold the zoom, or photos that do not fit the stack.
        """
        self.layout.check_size(stack_shape[-2], stack_shape[-1])
        if self.grounding is not None:
            self.grounding.check(stack_shape)

    def __call__(self, estimates: torch.Tensor, sigma: float) -> torch.Tensor:
        """The consistent estimates for one evaluation at noise level ``sigma``.

        Shape:
            ``(N, C, H, W)`` -> ``(N, C, H, W)``, same dtype and device.
        """
        if self.grounding is not None and sigma in self.grounding.sigmas:
            estimates = ground_estimates(estimates, self.layout, self.grounding)
        if self.pixel_space is not None and sigma in self.pixel_space.sigmas:
            space = self.pixel_space
            return consolidate_through_codec(estimates, self.layout, space.decode, space.encode)
        return consolidate_levels(estimates, self.layout)
