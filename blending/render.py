"""Rendering a zoom stack into per-level views: Π_image and Π_noise (paper Algorithm 1)."""

import torch

from .geometry import ZoomLayout, check_stack
from .precision import working_dtype
from .pyramid import box_downsample


def render_image(stack: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Π_image for every level: each level with all finer levels pasted into its centre.

    Paper Algorithm 1: level ``i``'s view is ``L_i`` with ``D_{j-i}(L_j)`` pasted
    into the centre for ``j = i+1 … N-1``, finer levels overwriting coarser ones
    (hard mask, no feathering). It is computed finest-first as
    ``view_i = L_i`` with ``D_1(view_{i+1})`` in the centre, which is the same
    thing because box shrinks compose; levels too deep to cover a whole pixel
    of level ``i`` are area-averaged into the pixels they fall in.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p`` (2, 4, 8, ...).

    Returns:
        The views, same shape and dtype as ``stack``. The finest level's view is
        the level itself, and every view's centre is the box-shrunk next view.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``; ``H`` and ``W`` multiples of ``2p``.
    """
    layout = check_stack(stack, zoom)
    return paste_finer_levels(stack, layout, patch_gain=1.0)


def render_noise(noise: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Π_noise for every level: rendered noise that stays unit-variance and white.

    Paper Algorithm 1 applied to a noise stack ``E``: like :func:`render_image`,
    but each pasted patch is multiplied by ``p`` per level of depth, since a
    ``p x p`` box average of unit Gaussians has standard deviation ``1/p``.
    Outside the pasted patches, level ``i``'s noise is ``E_i`` itself. When
    ``noise`` is i.i.d. ``N(0, 1)``, every output level is too (levels are
    correlated with each other where they overlap, which is the point).

    Args:
        noise: noise stack, usually i.i.d. unit Gaussian.
        zoom: the layout, or the zoom factor ``p``.

    Returns:
        Rendered noise, same shape and dtype as ``noise``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    layout = check_stack(noise, zoom, "noise")
    return paste_finer_levels(noise, layout, patch_gain=float(layout.zoom_factor))


def overlap_difference(stack: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Where consecutive levels disagree: each level's centre minus the next level, box-shrunk.

    Zero for a consistent stack (any output of :func:`render_image`). This is
    the measure the tests, the benchmarks and the README use for seams; take
    ``.abs().max()`` or ``.pow(2).mean()`` (and a PSNR from it) as needed.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom: the layout, or the zoom factor ``p``.

    Returns:
        The differences, in the stack's dtype.

    Shape:
        ``(N, C, H, W)`` -> ``(N - 1, C, H / p, W / p)``.
    """
    layout = check_stack(stack, zoom)
    window = layout.child_window(stack.shape[-2], stack.shape[-1])
    return stack[:-1, :, window.rows, window.cols] - box_downsample(stack[1:], layout.zoom_factor)


def paste_finer_levels(stack: torch.Tensor, layout: ZoomLayout, patch_gain: float) -> torch.Tensor:
    """Algorithm 1's pasting, finest level first, with each pasted patch scaled by ``patch_gain``; not validated."""
    levels, _, height, width = stack.shape
    window = layout.child_window(height, width)
    views = stack.to(working_dtype(stack.dtype), copy=True)
    for level in range(levels - 2, -1, -1):
        patch = box_downsample(views[level + 1 : level + 2], layout.zoom_factor)[0]
        views[level, :, window.rows, window.cols] = patch * patch_gain
    return views.to(stack.dtype)
