"""Sampling only the levels that take part: the window of a zoom with fixed levels (extend, regenerate).

A zoom with fixed levels is sampled as a stack of its involved levels alone
(:func:`~.fixed.involved_levels`): the sampler steps those rows, with the
joint step cut to them, and the result goes back into the whole zoom, where
the sampled levels' footprints reach the coarser levels outside the window.
"""

import dataclasses
from dataclasses import dataclass

import torch

from ..blending import ZoomLayout, frames_as_channels, render_image
from .fixed import FixedLevels, involved_levels
from .step import JointStep


@dataclass(frozen=True)
class SamplingWindow:
    """The consecutive levels of a zoom that take part in sampling, given which are fixed.

    Attributes:
        levels: the involved levels, a range of the zoom's level indices.
        mask: ``(N,)`` bool over the whole zoom, True for a fixed level.
    """

    levels: range
    mask: torch.Tensor

    @classmethod
    def around(cls, layout: ZoomLayout, height: int, width: int, mask: torch.Tensor) -> "SamplingWindow":
        """The window of the sampled levels of a zoom of ``height x width`` levels and their reach.

        Raises:
            ValueError: every level is fixed.
        """
        levels = involved_levels(layout, height, width, mask)
        if not levels:
            raise ValueError("every level of the zoom is fixed; there is nothing to sample")
        return cls(levels, mask)

    @property
    def rows(self) -> slice:
        return slice(self.levels.start, self.levels.stop)

    def cut(self, stack: torch.Tensor) -> torch.Tensor:
        """The window's rows of a per-level tensor of the whole zoom: ``(N, ...)`` -> ``(len(levels), ...)``."""
        return stack[self.rows]

    def joint_step(self, step: JointStep, values: torch.Tensor | None) -> JointStep:
        """The whole zoom's joint step, cut to the window: its part of the layout, its fixed levels held.

        Args:
            step: the joint step of the whole zoom; its grounding's photos are numbered in the whole zoom.
            values: the window's levels ``(len(levels), C, H, W)`` (or 5-D latents) in the step's space; the
                fixed ones' rows are what they are held at (None when the window has no fixed level).

        Raises:
            ValueError: a photo grounds a fixed level, which it cannot change.
        """
        grounding = step.grounding
        if grounding is not None:
            held = [level for level in sorted(grounding.photos) if self.mask[level]]
            if held:
                raise ValueError(
                    f"level {held[0]} is fixed (Extend Zoom / Regenerate Zoom Levels), so a photo cannot change it; "
                    "ground a level that is sampled"
                )
            photos = {level - self.levels.start: photo for level, photo in grounding.photos.items()}
            grounding = dataclasses.replace(grounding, photos=photos)
        mask = self.cut(self.mask)
        fixed = FixedLevels(frames_as_channels(values)[0], mask) if mask.any() else None
        return dataclasses.replace(step, layout=step.layout.part(self.levels), fixed=fixed, grounding=grounding)

    def paste(self, samples: torch.Tensor, values: torch.Tensor, layout: ZoomLayout) -> torch.Tensor:
        """The whole zoom after sampling the window: its values, the window's rows replaced by ``samples``.

        ``samples`` are the window's finished levels (:meth:`JointStep.finish`),
        consistent among themselves, so within the window nothing is rendered
        again. The sampled levels reach every coarser level through their
        footprints in it, in the window or not: the levels above the window are
        rendered from its first level, and each fixed level comes back exactly
        as it was except where a sampled finer level covers it.

        Args:
            samples: ``(len(levels), C, H, W)``, or 5-D latents ``(len(levels), C, T, H, W)``.
            values: the whole zoom ``(N, C, H, W)`` (or ``(N, C, T, H, W)``) as it was, in the same space as
                ``samples``.
            layout: the whole zoom's layout.

        Returns:
            A new ``(N, C, H, W)`` stack, in ``samples``' dtype and device.
        """
        samples, back = frames_as_channels(samples)
        values = frames_as_channels(values)[0]
        result = values.to(samples, copy=True)
        result[self.rows] = samples
        start = self.levels.start
        if start > 0:
            above = range(start + 1)
            result[: start + 1] = render_image(result[: start + 1], layout.part(above), pinned=self.mask[: start + 1])
        if self.mask.any():
            result = FixedLevels(values.to(result), self.mask).keep(result, layout)
        return back(result)
