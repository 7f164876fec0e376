"""Rendering a zoom stack into per-level views: Π_image and Π_noise (paper Algorithm 1)."""

import torch

from .geometry import check_stack, child_window
from .precision import working_dtype
from .pyramid import box_downsample


def render_image(stack: torch.Tensor, zoom_factor: int) -> torch.Tensor:
    """Π_image for every level: each level with all finer levels pasted into its centre.

    Paper Algorithm 1: level ``i``'s view is ``L_i`` with ``D_{j-i}(L_j)`` pasted
    into the centre for ``j = i+1 … N-1``, finer levels overwriting coarser ones
    (hard mask, no feathering). It is computed finest-first as
    ``view_i = L_i`` with ``D_1(view_{i+1})`` in the centre, which is the same
    thing because box shrinks compose; levels too deep to cover a whole pixel
    of level ``i`` are area-averaged into the pixels they fall in.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom_factor: zoom factor ``p`` between consecutive levels (2, 4, 8, ...).

    Returns:
        The views, same shape and dtype as ``stack``. The finest level's view is
        the level itself, and every view's centre is the box-shrunk next view.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``; ``H`` and ``W`` multiples of ``2p``.
    """
    return _paste_finer_levels(stack, zoom_factor, patch_gain=1.0, name="stack")


def render_noise(noise: torch.Tensor, zoom_factor: int) -> torch.Tensor:
    """Π_noise for every level: rendered noise that stays unit-variance and white.

    Paper Algorithm 1 applied to a noise stack ``E``: like :func:`render_image`,
    but each pasted patch is multiplied by ``p`` per level of depth, since a
    ``p x p`` box average of unit Gaussians has standard deviation ``1/p``.
    Outside the pasted patches, level ``i``'s noise is ``E_i`` itself. When
    ``noise`` is i.i.d. ``N(0, 1)``, every output level is too (levels are
    correlated with each other where they overlap, which is the point).

    Args:
        noise: noise stack, usually i.i.d. unit Gaussian.
        zoom_factor: zoom factor ``p`` between consecutive levels.

    Returns:
        Rendered noise, same shape and dtype as ``noise``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    return _paste_finer_levels(noise, zoom_factor, patch_gain=float(zoom_factor), name="noise")


def overlap_difference(stack: torch.Tensor, zoom_factor: int) -> torch.Tensor:
    """Where consecutive levels disagree: each level's centre minus the next level, box-shrunk.

    Zero for a consistent stack (any output of :func:`render_image`). This is
    the measure the tests, the benchmarks and the README use for seams; take
    ``.abs().max()`` or ``.pow(2).mean()`` (and a PSNR from it) as needed.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom_factor: zoom factor ``p`` between consecutive levels.

    Returns:
        The differences, in the stack's dtype.

    Shape:
        ``(N, C, H, W)`` -> ``(N - 1, C, H / p, W / p)``.
    """
    check_stack(stack, zoom_factor)
    window = child_window(stack.shape[-2], stack.shape[-1], zoom_factor)
    return stack[:-1, :, window.rows, window.cols] - box_downsample(stack[1:], zoom_factor)


def _paste_finer_levels(stack: torch.Tensor, zoom_factor: int, patch_gain: float, name: str) -> torch.Tensor:
    check_stack(stack, zoom_factor, name)
    levels, _, height, width = stack.shape
    window = child_window(height, width, zoom_factor)
    views = stack.to(working_dtype(stack.dtype), copy=True)
    for level in range(levels - 2, -1, -1):
        patch = box_downsample(views[level + 1 : level + 2], zoom_factor)[0]
        views[level, :, window.rows, window.cols] = patch * patch_gain
    return views.to(stack.dtype)
