"""Zoom stack rendering and multi-resolution blending, in plain PyTorch.

Where things live:

- :mod:`.geometry`: where each level sits inside the others; input validation.
- :mod:`.render`: Π_image (:func:`render_image`) and Π_noise (:func:`render_noise`), paper Algorithm 1.
- :mod:`.blend`: Laplacian multi-resolution blending (:func:`blend`), paper Fig. 5,
  and blend-then-render (:func:`consolidate_estimates`).
- :mod:`.pyramid`: box downsampling and Laplacian pyramids.
"""

from .blend import blend, consolidate_estimates
from .geometry import MIN_FOOTPRINT, Window, check_stack, check_zoom_factor, child_window, nested_window
from .pyramid import box_downsample, build_laplacian_pyramid, collapse_laplacian_pyramid
from .render import render_image, render_noise

__all__ = [
    "MIN_FOOTPRINT",
    "Window",
    "blend",
    "box_downsample",
    "build_laplacian_pyramid",
    "check_stack",
    "check_zoom_factor",
    "child_window",
    "collapse_laplacian_pyramid",
    "consolidate_estimates",
    "nested_window",
    "render_image",
    "render_noise",
]
