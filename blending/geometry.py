"""Where each level of a zoom stack sits inside the others (paper §3, "zoom stack").

A zoom stack is a tensor ``(N, C, H, W)``. Level 0 is the widest view; level
``i + 1`` shows the central ``1 / zoom_factor`` of level ``i`` in each dimension,
at the same ``H x W`` resolution. This module is the only place that knows
where a level's footprint lies inside a coarser one, and the only home of the
rule that decides which sizes can hold a zoom (:func:`size_multiple`).

Rendering only needs the window of a level inside its parent
(:meth:`ZoomLayout.child_window`): deeper levels reach coarser ones by repeated
box shrinking, which is exact area averaging at any depth. Blending needs the
window of a level ``k`` levels deeper (:meth:`ZoomLayout.nested_window`);
footprints that are not whole pixels, or smaller than :data:`MIN_FOOTPRINT`,
are left out there.
"""

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import torch

MIN_FOOTPRINT = 2
"""Smallest footprint (pixels, per dimension) with which a deeper level takes
part in blending. A one-pixel footprint carries only a mean colour, and on an
even-sized level it cannot be centred on whole pixels (the paper leaves the
minimum footprint open; README, "Choices where the paper is open")."""


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


def size_multiple(zoom_factor: int) -> int:
    """What a level's height and width must be a multiple of: ``2 * zoom_factor``.

    Each level's footprint in its parent is then an ``H/p x W/p`` block of
    whole pixels, centred exactly.
    """
    return 2 * zoom_factor


@dataclass(frozen=True)
class ZoomLayout:
    """How the levels of a zoom stack nest: the zoom factor ``p`` between consecutive levels.

    Level ``i + 1`` covers the central ``H/p x W/p`` block of level ``i``. The
    layout is independent of the stack's size; its methods take ``(height,
    width)`` and answer in that size's pixels.
    """

    zoom_factor: int

    def __post_init__(self):
        check_zoom_factor(self.zoom_factor)

    @property
    def octaves_per_level(self) -> int:
        """Octaves (factors of 2) between consecutive levels: ``log2 p``."""
        return self.zoom_factor.bit_length() - 1

    def check_size(self, height: int, width: int, name: str = "stack") -> None:
        """Raise a ValueError naming ``name`` unless ``height x width`` can hold this zoom."""
        multiple = size_multiple(self.zoom_factor)
        for label, size in (("height", height), ("width", width)):
            if size % multiple or size < multiple:
                raise ValueError(
                    f"{name} {label} must be a multiple of 2 x zoom_factor = {multiple} so that each level sits "
                    f"centred on whole pixels inside its parent; got {label} {size} with zoom_factor {self.zoom_factor}"
                )

    def child_window(self, height: int, width: int) -> Window:
        """The footprint of level ``i + 1`` inside level ``i``: the centred ``H/p x W/p`` block."""
        child_height, child_width = height // self.zoom_factor, width // self.zoom_factor
        return Window((height - child_height) // 2, (width - child_width) // 2, child_height, child_width)

    def nested_window(self, height: int, width: int, depth: int) -> Window | None:
        """The field of view of level ``i + depth`` inside level ``i``, if it is usable for blending.

        The window is the composition of ``depth`` child windows, each scaled
        into level ``i``'s pixels. It is usable when its position and size are
        whole pixels and both sides are at least :data:`MIN_FOOTPRINT`.

        Returns:
            The window, or ``None`` when level ``i + depth`` is too small (or not
            pixel-aligned) inside level ``i`` to take part.
        """
        return _nested_window(self, height, width, depth)

    def blend_depth(self, height: int, width: int, levels: int) -> int:
        """The largest level distance ``k < levels`` for which :meth:`nested_window` is usable.

        This is the blending depth cap: level ``i`` is blended from levels
        ``i - k … i``. It is at least 1 for any size that passes :meth:`check_size`.
        """
        return _blend_depth(self, height, width, levels)


def as_layout(zoom: "ZoomLayout | int") -> ZoomLayout:
    """A :class:`ZoomLayout` from a layout or a plain zoom factor (validated)."""
    return zoom if isinstance(zoom, ZoomLayout) else ZoomLayout(check_zoom_factor(zoom))


def check_stack(stack: torch.Tensor, zoom: "ZoomLayout | int", name: str = "stack") -> ZoomLayout:
    """Validate a zoom stack and its layout once, at a public function's boundary.

    Args:
        stack: the tensor to check, expected ``(N, C, H, W)``.
        zoom: the layout, or a plain zoom factor.
        name: the argument's name, used in error messages.

    Returns:
        The layout, for the private helpers that do the work.

    Raises:
        ValueError: wrong rank, fewer than 2 levels, a bad zoom factor, a
            non-floating dtype, or a height/width that fails :meth:`ZoomLayout.check_size`.
    """
    layout = as_layout(zoom)
    if not isinstance(stack, torch.Tensor) or stack.ndim != 4:
        shape = tuple(stack.shape) if isinstance(stack, torch.Tensor) else type(stack).__name__
        raise ValueError(f"{name} must be a 4-D tensor (levels, channels, height, width); got {shape}")
    if not stack.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got {stack.dtype}")
    levels, _, height, width = stack.shape
    if levels < 2:
        raise ValueError(f"{name} needs at least 2 zoom levels; got {levels}")
    layout.check_size(height, width, name)
    return layout


# Called every sampling step with the same few sizes; the exact Fraction arithmetic is worth not redoing.
@lru_cache(maxsize=1024)
def _nested_window(layout: ZoomLayout, height: int, width: int, depth: int) -> Window | None:
    child = layout.child_window(height, width)
    top, left = Fraction(0), Fraction(0)
    scale = Fraction(1)
    for _ in range(depth):
        top += child.top * scale
        left += child.left * scale
        scale /= layout.zoom_factor
    size_h, size_w = height * scale, width * scale
    values = (top, left, size_h, size_w)
    if any(v.denominator != 1 for v in values) or min(size_h, size_w) < MIN_FOOTPRINT:
        return None
    return Window(*(int(v) for v in values))


@lru_cache(maxsize=1024)
def _blend_depth(layout: ZoomLayout, height: int, width: int, levels: int) -> int:
    depth = 0
    while depth + 1 < levels and _nested_window(layout, height, width, depth + 1) is not None:
        depth += 1
    return depth
