"""Multi-resolution blending of per-level estimates into one zoom stack (paper Fig. 5)."""

import torch

from .geometry import ZoomLayout, check_stack
from .precision import working_dtype
from .pyramid import build_laplacian_pyramid, collapse_laplacian_pyramid
from .render import paste_finer_levels


def blend(estimates: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Consolidate possibly inconsistent per-level estimates into one zoom stack.

    Paper Fig. 5, multi-resolution blending. Level ``i`` of the result is built
    from ``x̂_i`` and every coarser estimate ``x̂_j`` (``j < i``) whose crop
    covering level ``i``'s field of view is at least
    :data:`~.geometry.MIN_FOOTPRINT` whole pixels. Each crop is taken at its
    native resolution (``H / p^(i-j)`` pixels tall, never upsampled), split into
    a Laplacian pyramid, and each frequency band is averaged, with equal
    weights, over the observations that have it: the finest ``log2 p`` bands
    come from ``x̂_i`` alone, the coarsest from all of them. The averaged
    pyramid is collapsed into level ``i``.

    Properties: a stack that is already consistent (``render_image`` of any
    stack) is returned unchanged, up to rounding; fine detail of level ``i`` is
    never averaged with upsampled coarse content, which is what keeps deep
    levels sharp where plain averaging (MultiDiffusion-style) blurs them.

    Args:
        estimates: clean-image estimates, one per level, level 0 the widest.
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p``.

    Returns:
        The blended stack, same shape and dtype as ``estimates``. Render it with
        :func:`~.render.render_image` to get consistent views.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    layout = check_stack(estimates, zoom, "estimates")
    x = estimates.to(working_dtype(estimates.dtype))
    return blend_levels(x, layout).to(estimates.dtype)


def consolidate_estimates(estimates: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Blend per-level estimates, then render every level: the consistent estimates of one step.

    Paper Algorithm 2, the step between the model call and the ancestral
    update: ``Π_image(blend(x̂); i)`` for every level ``i``.

    Args:
        estimates: clean-image estimates, one per level.
        zoom: the layout, or the zoom factor ``p``.

    Returns:
        Consistent views, same shape and dtype as ``estimates``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    layout = check_stack(estimates, zoom, "estimates")
    return consolidate_levels(estimates, layout)


def consolidate_levels(estimates: torch.Tensor, layout: ZoomLayout) -> torch.Tensor:
    """:func:`consolidate_estimates` without validation, for callers that validated once."""
    x = estimates.to(working_dtype(estimates.dtype))
    return paste_finer_levels(blend_levels(x, layout), layout, patch_gain=1.0).to(estimates.dtype)


def blend_levels(x: torch.Tensor, layout: ZoomLayout) -> torch.Tensor:
    """:func:`blend` on a validated stack already in its working dtype."""
    levels, _, height, width = x.shape
    max_depth = layout.blend_depth(height, width, levels)
    pyramid_depth = max_depth * layout.octaves_per_level

    band_sums = build_laplacian_pyramid(x, pyramid_depth)
    band_counts = [torch.ones(levels, device=x.device, dtype=x.dtype) for _ in band_sums]
    for depth in range(1, max_depth + 1):
        window = layout.nested_window(height, width, depth)
        crops = x[: levels - depth, :, window.rows, window.cols]
        first_band = depth * layout.octaves_per_level
        for offset, band in enumerate(build_laplacian_pyramid(crops, pyramid_depth - first_band)):
            band_sums[first_band + offset][depth:] += band
            band_counts[first_band + offset][depth:] += 1

    averaged = [total / count.view(-1, 1, 1, 1) for total, count in zip(band_sums, band_counts)]
    return collapse_laplacian_pyramid(averaged)
