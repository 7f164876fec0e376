"""Where each level of a zoom stack sits inside the others (paper §3, "zoom stack").

A zoom stack is a tensor ``(N, C, H, W)``. Level 0 is the widest view; level
``i + 1`` shows the central ``1 / zoom_factor`` of level ``i`` in each dimension,
at the same ``H x W`` resolution. This module is the only place that knows
where a level's footprint lies inside a coarser one, so that a later change
(levels off-centre inside their parent, to zoom toward a chosen point) touches
this file alone.

Rendering only needs the window of a level inside its parent
(:func:`child_window`): deeper levels reach coarser ones by repeated box
shrinking, which is exact area averaging at any depth. Blending needs the
window of a level ``k`` levels deeper (:func:`nested_window`); footprints that
are not whole pixels, or smaller than :data:`MIN_FOOTPRINT`, are left out there.
"""

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import torch

MIN_FOOTPRINT = 2
"""Smallest footprint (pixels, per dimension) with which a deeper level takes
part in blending. A one-pixel footprint carries only a mean colour, and on an
even-sized level it cannot be centred on whole pixels (the method's open
"minimum footprint" question)."""


@dataclass(frozen=True)
class Window:
    """An axis-aligned block of whole pixels: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int

    @property
    def rows(self) -> slice:
        return slice(self.top, self.top + self.height)

    @property
    def cols(self) -> slice:
        return slice(self.left, self.left + self.width)


def check_zoom_factor(zoom_factor: int) -> int:
    """Validate the zoom factor ``p`` between consecutive levels.

    Raises:
        ValueError: unless ``zoom_factor`` is an integer power of two, at least 2.
    """
    is_int = isinstance(zoom_factor, int) and not isinstance(zoom_factor, bool)
    if not is_int or zoom_factor < 2 or zoom_factor & (zoom_factor - 1):
        raise ValueError(f"zoom_factor must be an integer power of two >= 2 (2, 4, 8, ...); got {zoom_factor!r}")
    return zoom_factor


def check_stack(stack: torch.Tensor, zoom_factor: int, name: str = "stack") -> None:
    """Validate a zoom stack and its zoom factor.

    Args:
        stack: the tensor to check, expected ``(N, C, H, W)``.
        zoom_factor: zoom factor between consecutive levels.
        name: the argument's name, used in error messages.

    Raises:
        ValueError: wrong rank, fewer than 2 levels, a bad zoom factor, a
            non-floating dtype, or a height/width on which a level's footprint
            in its parent is not a centred block of whole pixels.
    """
    check_zoom_factor(zoom_factor)
    if not isinstance(stack, torch.Tensor) or stack.ndim != 4:
        shape = tuple(stack.shape) if isinstance(stack, torch.Tensor) else type(stack).__name__
        raise ValueError(f"{name} must be a 4-D tensor (levels, channels, height, width); got {shape}")
    if not stack.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got {stack.dtype}")
    levels, _, height, width = stack.shape
    if levels < 2:
        raise ValueError(f"{name} needs at least 2 zoom levels; got {levels}")
    child_window(height, width, zoom_factor, name=name)


def child_window(height: int, width: int, zoom_factor: int, name: str = "stack") -> Window:
    """The footprint of level ``i + 1`` inside level ``i``: the centred ``H/p x W/p`` block.

    Raises:
        ValueError: when that footprint is not a block of whole pixels centred
            exactly, i.e. when ``height`` or ``width`` is not a multiple of
            ``2 * zoom_factor``.
    """
    multiple = 2 * zoom_factor
    for label, size in (("height", height), ("width", width)):
        if size % multiple:
            raise ValueError(
                f"{name} {label} must be a multiple of 2 x zoom_factor = {multiple} so that each level sits "
                f"centred on whole pixels inside its parent; got {label} {size} with zoom_factor {zoom_factor}"
            )
    child_height, child_width = height // zoom_factor, width // zoom_factor
    return Window((height - child_height) // 2, (width - child_width) // 2, child_height, child_width)


# Called every sampling step with the same few sizes; the exact Fraction arithmetic is worth not redoing.
@lru_cache(maxsize=1024)
def nested_window(height: int, width: int, zoom_factor: int, depth: int) -> Window | None:
    """The field of view of level ``i + depth`` inside level ``i``, if it is usable for blending.

    The window is the composition of ``depth`` child windows, each scaled into
    level ``i``'s pixels. It is usable when its position and size are whole
    pixels and both sides are at least :data:`MIN_FOOTPRINT`.

    Returns:
        The window, or ``None`` when level ``i + depth`` is too small (or not
        pixel-aligned) inside level ``i`` to take part.
    """
    child = child_window(height, width, zoom_factor)
    top, left = Fraction(0), Fraction(0)
    scale = Fraction(1)
    for _ in range(depth):
        top += child.top * scale
        left += child.left * scale
        scale /= zoom_factor
    size_h, size_w = height * scale, width * scale
    values = (top, left, size_h, size_w)
    if any(v.denominator != 1 for v in values) or min(size_h, size_w) < MIN_FOOTPRINT:
        return None
    return Window(*(int(v) for v in values))


@lru_cache(maxsize=1024)
def max_blend_depth(height: int, width: int, zoom_factor: int, levels: int) -> int:
    """The largest level distance ``k < levels`` for which :func:`nested_window` is usable.

    This is the blending depth cap: level ``i`` is blended from levels
    ``i - k … i``. It is at least 1 for any stack that passes :func:`check_stack`.
    """
    depth = 0
    while depth + 1 < levels and nested_window(height, width, zoom_factor, depth + 1) is not None:
        depth += 1
    return depth
