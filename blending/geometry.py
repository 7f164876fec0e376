"""Where each level of a zoom stack sits inside the others (paper §3, "zoom stack").

A zoom stack is a tensor ``(N, C, H, W)``. Level 0 is the widest view; level
``i + 1`` shows ``1 / zoom_factor`` of level ``i`` in each dimension, at the
same ``H x W`` resolution: the centre, or wherever its target puts it. This module is the only place that knows
where a level's footprint lies inside a coarser one, and the only home of the
rule that decides which sizes can hold a zoom (:func:`size_multiple`).

Rendering only needs the window of a level inside its parent
(:meth:`ZoomLayout.child_window`): deeper levels reach coarser ones by repeated
box shrinking, which is exact area averaging at any depth. Blending needs the
window of a level ``k`` levels deeper (:meth:`ZoomLayout.nested_window`);
footprints that are not whole pixels, or smaller than :data:`MIN_FOOTPRINT`,
are left out there.
"""

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import torch

MIN_FOOTPRINT = 2
"""Smallest footprint (pixels, per dimension) with which a deeper level takes
part in blending. A one-pixel footprint carries only a mean colour, and on an
even-sized level it cannot be centred on whole pixels (the paper leaves the
minimum footprint open; docs/design.md, "Choices where the paper is open")."""


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
    whole pixels, exactly centred when its target is the centre.
    """
    return 2 * zoom_factor


Target = tuple[Fraction, Fraction]
"""Where a level's centre goes inside its parent: ``(x, y)`` as fractions of the parent's width and height."""

CENTRE: Target = (Fraction(1, 2), Fraction(1, 2))


@dataclass(frozen=True)
class ZoomLayout:
    """How the levels of a zoom stack nest: the zoom factor ``p`` between levels, and where each level sits.

    Level ``i + 1`` covers an ``H/p x W/p`` block of whole pixels of level
    ``i``, centred on its target (:meth:`child_window`); by default every
    target is the centre, the paper's concentric zoom. The layout is
    independent of the stack's size; its methods take ``(height, width)`` and
    answer in that size's pixels.

    A ``cyclic`` layout is a loop: the deepest level holds level 0 again (at
    its target, the last one), so level ``i`` of an ``N``-level stack is also level ``i + N``, and
    blending, rendering, rendered noise and video frames wrap around
    (:meth:`unrolled`). Each turn shrinks the self-reference by ``p^N``, so
    the recursion ends below a pixel.

    Attributes:
        zoom_factor: ``p``, a power of two.
        cyclic: whether the zoom loops.
        targets: one target for every level, or one per level: ``targets[i]``
            places level ``i + 1`` inside level ``i`` (``N - 1`` of them, ``N``
            around a loop, where the last places level 0 inside the deepest).
    """

    zoom_factor: int
    cyclic: bool = False
    targets: tuple[Target, ...] = (CENTRE,)

    def __post_init__(self):
        check_zoom_factor(self.zoom_factor)
        if not self.targets:
            raise ValueError("targets must hold one target for every level, or one per level; got none")
        targets = tuple((Fraction(x), Fraction(y)) for x, y in self.targets)
        for index, (x, y) in enumerate(targets):
            if not (0 <= x <= 1 and 0 <= y <= 1):
                raise ValueError(f"target {index} must lie inside its level (0 to 1); got x {x}, y {y}")
        object.__setattr__(self, "targets", targets)

    @property
    def octaves_per_level(self) -> int:
        """Octaves (factors of 2) between consecutive levels: ``log2 p``."""
        return self.zoom_factor.bit_length() - 1

    @property
    def centred(self) -> bool:
        """Whether every level sits in its parent's centre."""
        return all(target == CENTRE for target in self.targets)

    def target(self, level: int) -> Target:
        """Where level ``level + 1`` is centred inside level ``level`` (around a loop, levels count modulo ``N``)."""
        return self.targets[0] if len(self.targets) == 1 else self.targets[level % len(self.targets)]

    def check_levels(self, levels: int, name: str = "stack") -> None:
        """Raise a ValueError naming ``name`` unless the targets fit a stack of ``levels`` levels."""
        expected = levels if self.cyclic else levels - 1
        if len(self.targets) not in (1, expected):
            kind = "looping " if self.cyclic else ""
            raise ValueError(
                f"{name} has {levels} levels, so its {kind}layout takes 1 target or {expected}; got {len(self.targets)}"
            )

    def check_size(self, height: int, width: int, name: str = "stack") -> None:
        """Raise a ValueError naming ``name`` unless ``height x width`` can hold this zoom."""
        multiple = size_multiple(self.zoom_factor)
        for label, size in (("height", height), ("width", width)):
            if size % multiple or size < multiple:
                raise ValueError(
                    f"{name} {label} must be a multiple of 2 x zoom_factor = {multiple} so that each level sits "
                    f"on whole pixels inside its parent; got {label} {size} with zoom_factor {self.zoom_factor}"
                )

    def child_window(self, height: int, width: int, level: int) -> Window:
        """The footprint of level ``level + 1`` inside level ``level``: an ``H/p x W/p`` block of whole pixels.

        The block is centred on the level's target, to the nearest pixel, and
        pushed inside where the target is closer to an edge than half the block.
        """
        return _child_window(self, height, width, level)

    def part(self, levels: range) -> "ZoomLayout":
        """The layout of the consecutive levels ``levels`` as a stack of their own, ``levels.start`` its level 0.

        What a sampler needs when only some levels take part: each keeps the
        target that places its child. A loop's levels come only whole.

        Raises:
            ValueError: part of a loop with a target per level.
        """
        if len(self.targets) == 1:
            return self
        if self.cyclic:
            if (levels.start, levels.stop) != (0, len(self.targets)):
                raise ValueError(f"a loop of {len(self.targets)} levels has no part {levels.start}-{levels.stop - 1}")
            return self
        return dataclasses.replace(self, targets=self.targets[levels.start : levels.stop - 1])

    def aligned(self, height: int, width: int) -> "ZoomLayout":
        """This layout with each target moved to the centre of its footprint at ``height x width``.

        Footprints then lie on whole pixels of this size and, scaled, of every
        multiple of it: a latent model's layout, aligned on the latent, places
        the decoded images' footprints on the same latent-pixel blocks
        (without it, rounding to the nearest image pixel could shift them by
        a few). Centred targets stay the centre.
        """
        windows = (self.child_window(height, width, level) for level in range(len(self.targets)))
        targets = tuple(
            (Fraction(2 * window.left + window.width, 2 * width), Fraction(2 * window.top + window.height, 2 * height))
            for window in windows
        )
        return dataclasses.replace(self, targets=targets)

    def nested_window(self, height: int, width: int, level: int, depth: int) -> Window | None:
        """The field of view of level ``level + depth`` inside level ``level``, if it is usable for blending.

        The window is the composition of ``depth`` child windows, each scaled
        into level ``level``'s pixels. It is usable when its position and size are
        whole pixels and both sides are at least :data:`MIN_FOOTPRINT`.

        Returns:
            The window, or ``None`` when the deeper level is too small (or not
            pixel-aligned) inside level ``level`` to take part.
        """
        return _nested_window(self, height, width, level, depth)

    def covering_window(self, height: int, width: int, level: int, depth: int) -> Window:
        """The whole pixels of level ``level`` that level ``level + depth`` covers, even in part.

        What rendering can change. Unlike :meth:`nested_window` this is never
        ``None``: a footprint below a pixel still changes the pixels it falls in.
        """
        return _covering_window(self, height, width, level, depth)

    def footprint(self, height: int, width: int, level: int, depth: int) -> tuple[Fraction, ...]:
        """``(top, left, height, width)`` of level ``level + depth`` inside level ``level``, in exact pixels."""
        return _footprint(self, height, width, level, depth)

    def blend_depth(self, height: int, width: int, levels: int) -> int:
        """The largest level distance ``k < levels`` for which :meth:`nested_window` is usable for some level.

        This is the blending depth cap: level ``i`` is blended from levels
        ``i - k … i`` (those of them whose window is usable). It is at least 1
        for any size that passes :meth:`check_size`. Around a loop ``k`` is not
        capped by the number of levels.
        """
        return _blend_depth(self, height, width, levels)

    def unrolled(self, levels: int, coarser: int = 0, finer: int = 0) -> list[int]:
        """Level indices of the stack unrolled around the loop: ``coarser`` levels before level 0, ``finer`` after.

        A cyclic stack is blended and rendered as an ordinary one whose levels
        continue around the loop, ``[i mod N for i in -coarser … N - 1 + finer]``;
        the levels at the ends only lend their content and are dropped again.
        An open layout has no levels beyond its own: ``range(levels)``.
        """
        if not self.cyclic:
            return list(range(levels))
        return [index % levels for index in range(-coarser, levels + finer)]


def as_layout(zoom: "ZoomLayout | int") -> ZoomLayout:
    """A :class:`ZoomLayout` from a layout or a plain zoom factor (validated)."""
    return zoom if isinstance(zoom, ZoomLayout) else ZoomLayout(check_zoom_factor(zoom))


def frames_as_channels(stack: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """A stack of latents with a frames axis seen as a zoom stack, and the way back.

    Some families' latents are 5-D, ``(N, C, T, H, W)`` with ``T = 1`` for an
    image (Qwen-Image, Wan). Blending, rendering and rendered noise act on each
    channel's ``H x W`` plane alone, so a frame is more channels: the view
    ``(N, C * T, H, W)`` is blended and rendered exactly as a 4-D stack, and
    the result reshaped back.

    Returns:
        The ``(N, C * T, H, W)`` view (``stack`` itself when it is not 5-D), and a function that reshapes a
        result of the view's shape, for any number of levels, to ``(levels, C, T, H, W)``.
    """
    if stack.ndim != 5:
        return stack, lambda result: result
    shape = stack.shape
    return stack.flatten(1, 2), lambda result: result.reshape(*result.shape[:1], *shape[1:])


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
            non-floating dtype, a height/width that fails :meth:`ZoomLayout.check_size`,
            or targets that do not fit the levels (:meth:`ZoomLayout.check_levels`).
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
    layout.check_levels(levels, name)
    return layout


# Called every sampling step with the same few sizes; the exact Fraction arithmetic is worth not redoing.
@lru_cache(maxsize=4096)
def _child_window(layout: ZoomLayout, height: int, width: int, level: int) -> Window:
    child_height, child_width = height // layout.zoom_factor, width // layout.zoom_factor
    x, y = layout.target(level)

    def start(centre: Fraction, size: int, child: int) -> int:
        return min(max(math.floor(centre * size - Fraction(child, 2) + Fraction(1, 2)), 0), size - child)

    return Window(start(y, height, child_height), start(x, width, child_width), child_height, child_width)


def _footprint(layout: ZoomLayout, height: int, width: int, level: int, depth: int) -> tuple[Fraction, ...]:
    top, left = Fraction(0), Fraction(0)
    scale = Fraction(1)
    for step in range(depth):
        child = _child_window(layout, height, width, level + step)
        top += child.top * scale
        left += child.left * scale
        scale /= layout.zoom_factor
    return top, left, height * scale, width * scale


@lru_cache(maxsize=4096)
def _nested_window(layout: ZoomLayout, height: int, width: int, level: int, depth: int) -> Window | None:
    values = _footprint(layout, height, width, level, depth)
    if any(v.denominator != 1 for v in values) or min(values[2:]) < MIN_FOOTPRINT:
        return None
    return Window(*(int(v) for v in values))


@lru_cache(maxsize=4096)
def _covering_window(layout: ZoomLayout, height: int, width: int, level: int, depth: int) -> Window:
    top, left, size_h, size_w = _footprint(layout, height, width, level, depth)
    first_row, first_col = math.floor(top), math.floor(left)
    return Window(first_row, first_col, math.ceil(top + size_h) - first_row, math.ceil(left + size_w) - first_col)


@lru_cache(maxsize=1024)
def _blend_depth(layout: ZoomLayout, height: int, width: int, levels: int) -> int:
    deepest, depth = 0, 0
    while (layout.cyclic or depth + 1 < levels) and min(height, width) / layout.zoom_factor ** (
        depth + 1
    ) >= MIN_FOOTPRINT:
        depth += 1
        # With one target every level's window at a depth is the same; otherwise each level is asked.
        observers = 1 if len(layout.targets) == 1 else (levels if layout.cyclic else levels - depth)
        if any(_nested_window(layout, height, width, level, depth) is not None for level in range(observers)):
            deepest = depth
    return deepest
