"""The joint step of multi-scale sampling: raw per-level estimates in, one consistent stack out (paper Algorithm 2).

Every sampler that runs a zoom calls this once per model evaluation, between
the model call and its own update: ComfyUI's samplers through the Zoom Guider,
and :func:`~.joint.sample_zoom_stack` in plain PyTorch.
"""

import dataclasses
import functools
from dataclasses import dataclass

import torch

from ..blending import Consolidation, ZoomLayout, as_layout, consolidate_through_codec, frames_as_channels
from ..blending.blend import DEFAULT, consolidate_levels
from ..blending.codec import Codec
from ..blending.render import render_noise_levels
from .fixed import FixedLevels
from .grounding import Grounding, ground_estimates
from .schedule import SigmaRange


@dataclass(frozen=True)
class PixelSpace:
    """Consolidation through the decoded images of a latent model (docs/quality.md, "Seamless where you look").

    Attributes:
        decode: latents ``(N, C, h, w)`` -> images ``(N, C', H, W)``.
        encode: images ``(B, C', H, W)`` -> latents ``(B, C, h, w)``.
        sigmas: where in the schedule to consolidate in pixel space; elsewhere it happens in latent space.
        tolerance: a level whose image consolidation moves by no more than this (root mean square, in the
            decoder's units) is not encoded back (:func:`~..blending.consolidate_through_codec`).
    """

    decode: Codec
    encode: Codec
    sigmas: SigmaRange = SigmaRange()
    tolerance: float = 0.0


def _any_rank(method):
    """``method`` of a zoom stack, taking 5-D latents ``(N, C, T, H, W)`` as their ``(N, C * T, H, W)`` view.

    The frames axis is folded into the channels on the way in and back out
    (:func:`~..blending.frames_as_channels`), so every sampler state a family
    has meets the one joint step.
    """

    @functools.wraps(method)
    def on_stack(self, stack: torch.Tensor, *args):
        view, back = frames_as_channels(stack)
        return back(method(self, view, *args))

    return on_stack


@dataclass(frozen=True)
class JointStep:
    """What happens to one evaluation's per-level estimates before the sampler uses them.

    Paper Algorithm 2, between the model call and the update: optional photo
    grounding (§4.4), then blend (Fig. 5) and render (Algorithm 1) in latent
    space, or in pixel space through a codec where :attr:`pixel_space` says so.
    It also says how sampling starts (:meth:`initial_noise`). Levels held
    :attr:`fixed` give their own values as estimates, and pin what they observe.
    Every method that takes a stack also takes 5-D latents ``(N, C, T, H, W)``
    (Qwen-Image), as the ``(N, C * T, H, W)`` stack of their planes.

    Attributes:
        layout: where the levels sit (a :class:`~..blending.ZoomLayout` or a zoom factor).
        fixed: levels held at given values while the others are sampled (:class:`~.fixed.FixedLevels`).
        grounding: photos that constrain some levels, and when.
        pixel_space: a decoder and encoder to consolidate through, and when.
        consolidation: the choices blend-then-render makes where the paper is open
            (:class:`~..blending.Consolidation`; ``blending.PAPER`` for the paper's own).
        rendered_initial_noise: start every level from rendered noise (Π_noise of
            the independent draws) rather than from the draws themselves, see :meth:`initial_noise`.
    """

    layout: ZoomLayout
    fixed: FixedLevels | None = None
    grounding: Grounding | None = None
    pixel_space: PixelSpace | None = None
    consolidation: Consolidation = DEFAULT
    rendered_initial_noise: bool = True

    def __post_init__(self):
        object.__setattr__(self, "layout", as_layout(self.layout))

    def check(self, stack_shape: torch.Size) -> None:
        """Validate the step against the stack it will see, once before sampling.

        Raises:
            ValueError: a size that cannot hold the zoom, or photos or fixed levels that do not fit the stack.
        """
        self.layout.check_size(stack_shape[-2], stack_shape[-1])
        if self.grounding is not None:
            self.grounding.check(stack_shape)
        if self.fixed is not None:
            self.fixed.check(stack_shape)

    @_any_rank
    def initial_noise(self, noise: torch.Tensor) -> torch.Tensor:
        """The noise sampling starts from: the independent draws, rendered (Π_noise) unless told otherwise.

        Deterministic samplers (Euler, DPM++ 2M, UniPC, DDIM...) inject no noise
        after the first step, so the initial noise is all that makes their levels
        agree: rendered, each level's noise inside a finer level's footprint is
        that level's noise box-shrunk (and rescaled to unit variance), and every
        level still starts from exactly unit-variance white noise. Measured on
        the exact prior, it keeps deep levels' fine and shared octaves at
        independent sampling's energy, where independent draws lose half of it.

        Shape:
            ``(N, C, H, W)`` -> ``(N, C, H, W)``.
        """
        if not self.rendered_initial_noise:
            return noise
        return render_noise_levels(noise, self.layout)

    @property
    def pinned(self) -> torch.Tensor | None:
        """``(N,)`` bool: the fixed levels, whose bands blending takes as they are."""
        return None if self.fixed is None else self.fixed.mask

    @_any_rank
    def consolidate(self, estimates: torch.Tensor) -> torch.Tensor:
        """Blend and render in latent space, nothing else: for estimates other than the denoised one."""
        if self.fixed is not None:
            estimates = self.fixed.hold(estimates)
        return consolidate_levels(estimates, self.layout, self.consolidation, self.pinned)

    @_any_rank
    def finish(self, samples: torch.Tensor) -> torch.Tensor:
        """The sampler's result, made consistent the way the schedule's end is: at sigma 0, without grounding.

        Most samplers end on the last consolidated estimate, which this leaves as
        it is (a consistent stack is a fixed point; in pixel space, levels that
        already agree are not encoded again); a few end beside it (DPM fast and
        adaptive stop at their own last sigma, UniPC adds a corrector after the
        last evaluation), and those are consolidated once more. Fixed levels come
        back exactly as they were wherever no sampled finer level covers them.
        """
        return self.keep_fixed(dataclasses.replace(self, grounding=None)(samples, 0.0))

    @_any_rank
    def keep_fixed(self, samples: torch.Tensor) -> torch.Tensor:
        """The samples with the fixed levels exactly as they were where no sampled finer level covers them."""
        return samples if self.fixed is None else self.fixed.keep(samples, self.layout)

    @_any_rank
    def __call__(self, estimates: torch.Tensor, sigma: float) -> torch.Tensor:
        """The consistent estimates for one evaluation at noise level ``sigma``.

        Shape:
            ``(N, C, H, W)`` -> ``(N, C, H, W)``, same dtype and device.
        """
        if self.fixed is not None:
            estimates = self.fixed.hold(estimates)
        if self.grounding is not None and sigma in self.grounding.sigmas:
            estimates = ground_estimates(estimates, self.layout, self.grounding)
        if self.pixel_space is not None and sigma in self.pixel_space.sigmas:
            space = self.pixel_space
            return consolidate_through_codec(
                estimates,
                self.layout,
                space.decode,
                space.encode,
                self.consolidation,
                space.tolerance,
                pinned=self.pinned,
            )
        return consolidate_levels(estimates, self.layout, self.consolidation, self.pinned)
