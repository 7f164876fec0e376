"""Levels held fixed while the others are sampled: extending a finished zoom, regenerating some of its levels.

One mechanism serves both (docs/design.md, "Fixed levels"): the fixed
levels' clean values stand in for their estimates at every step, every band a
fixed level observes is taken from it alone when blending
(:func:`~..blending.consolidate_estimates` with ``pinned``), so the sampled
levels continue them, and at the end each fixed level is given back exactly,
except where a sampled finer level is pasted over it. Levels too far from any
sampled level to interact take no part at all (:func:`involved_levels`).
"""

from dataclasses import dataclass

import torch

from ..blending import ZoomLayout


@dataclass(frozen=True)
class FixedLevels:
    """Which levels of a stack are held fixed, and at what.

    Attributes:
        values: clean values ``(N, C, H, W)``; only the fixed levels' rows are read.
        mask: ``(N,)`` bool, True for a fixed level.
    """

    values: torch.Tensor
    mask: torch.Tensor

    def check(self, stack_shape: torch.Size) -> None:
        """Raise a ValueError unless the values and mask fit a stack of ``stack_shape``."""
        levels = stack_shape[0]
        if self.mask.dtype != torch.bool or tuple(self.mask.shape) != (levels,):
            raise ValueError(
                f"fixed mask must be {levels} bools, one per level; got {self.mask.dtype} {tuple(self.mask.shape)}"
            )
        if tuple(self.values.shape) != tuple(stack_shape):
            raise ValueError(
                f"fixed values must have the stack's shape {tuple(stack_shape)}; got {tuple(self.values.shape)}"
            )

    def hold(self, estimates: torch.Tensor) -> torch.Tensor:
        """The estimates with every fixed level's own values in place of its estimate."""
        mask = self.mask.to(estimates.device)[:, None, None, None]
        return torch.where(mask, self.values.to(estimates), estimates)

    def keep(self, samples: torch.Tensor, layout: ZoomLayout) -> torch.Tensor:
        """The samples with each fixed level exactly as it was, except where a sampled finer level covers it.

        There rendering pastes the sampled level in; elsewhere blending already
        kept the fixed level to rounding, and this makes it bit-identical.

        Args:
            samples: the sampled stack ``(N, C, H, W)``.
            layout: where the levels sit.

        Returns:
            A new stack, same shape, dtype and device as ``samples``.
        """
        levels, _, height, width = samples.shape
        sampled = [level for level in range(levels) if not self.mask[level]]
        kept = samples.clone()
        for level in range(levels):
            if not self.mask[level]:
                continue
            depths = [(other - level) % levels if layout.cyclic else other - level for other in sampled]
            finer = [depth for depth in depths if depth > 0]
            covered = layout.covering_window(height, width, level, min(finer)) if finer else None
            inside = None if covered is None else kept[level, :, covered.rows, covered.cols].clone()
            kept[level] = self.values[level].to(samples)
            if inside is not None:
                kept[level, :, covered.rows, covered.cols] = inside
        return kept


def involved_levels(layout: ZoomLayout, height: int, width: int, mask: torch.Tensor) -> range:
    """The levels that take part in sampling when ``mask`` marks the fixed ones: sampled levels and their reach.

    A fixed level more than the blending depth (:meth:`~..blending.ZoomLayout.blend_depth`)
    away from every sampled level neither shapes a sampled level's bands nor
    has a footprint of two whole pixels in it, so it is left out: not
    evaluated, not blended, not changed. Around a loop every level takes part.

    Returns:
        A contiguous range of level indices, the sampled levels and the fixed levels between and around
        them; empty when every level is fixed.
    """
    levels = len(mask)
    sampled = [level for level in range(levels) if not mask[level]]
    if not sampled:
        return range(0)
    if layout.cyclic:
        return range(levels)
    reach = layout.blend_depth(height, width, levels)
    return range(max(0, sampled[0] - reach), min(levels, sampled[-1] + reach + 1))
