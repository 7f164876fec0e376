"""Zoom stack rendering and multi-resolution blending, in plain PyTorch.

Where things live:

- :mod:`.geometry`: where each level sits inside the others (:class:`ZoomLayout`), the size rule,
  input validation.
- :mod:`.render`: Π_image (:func:`render_image`) and Π_noise (:func:`render_noise`), paper Algorithm 1,
  :func:`overlap_difference`, the seams between consecutive levels, and :func:`upscale_stack` (hi-res zooms).
- :mod:`.blend`: Laplacian multi-resolution blending (:func:`blend`), paper Fig. 5,
  and blend-then-render (:func:`consolidate_estimates`).
- :mod:`.pyramid`: box downsampling and Laplacian pyramids.
- :mod:`.frames`: continuous zoom frames between the levels (:func:`render_zoom_frames`,
  streamed by :func:`iter_zoom_frames`).
- :mod:`.timing`: the zoom position and the angle of each video frame (:func:`zoom_positions`,
  :func:`zoom_angles`), and level times on a track's beats (:func:`beat_level_seconds`).
- :mod:`.codec`: consolidation of latents in pixel space through a decoder and encoder.

Every public function takes the layout as a :class:`ZoomLayout` or a plain zoom factor.
"""

from .blend import PAPER, WEIGHTINGS, Consolidation, blend, consolidate_estimates
from .codec import consolidate_through_codec
from .frames import check_frame_size, iter_zoom_frames, render_zoom_frames, rotation_inset
from .geometry import (
    CENTRE,
    MIN_FOOTPRINT,
    Window,
    ZoomLayout,
    as_layout,
    check_stack,
    check_zoom_factor,
    frames_as_channels,
    size_multiple,
)
from .pyramid import box_downsample, build_laplacian_pyramid, collapse_laplacian_pyramid
from .render import RING_WIDTH, overlap_difference, render_image, render_noise, upscale_stack
from .timing import DIRECTIONS, EASINGS, beat_level_seconds, zoom_angles, zoom_positions

__all__ = [
    "CENTRE",
    "PAPER",
    "RING_WIDTH",
    "WEIGHTINGS",
    "Consolidation",
    "DIRECTIONS",
    "EASINGS",
    "MIN_FOOTPRINT",
    "Window",
    "ZoomLayout",
    "as_layout",
    "beat_level_seconds",
    "blend",
    "box_downsample",
    "build_laplacian_pyramid",
    "check_frame_size",
    "check_stack",
    "check_zoom_factor",
    "collapse_laplacian_pyramid",
    "consolidate_estimates",
    "consolidate_through_codec",
    "frames_as_channels",
    "iter_zoom_frames",
    "overlap_difference",
    "render_image",
    "render_noise",
    "render_zoom_frames",
    "rotation_inset",
    "size_multiple",
    "upscale_stack",
    "zoom_angles",
    "zoom_positions",
]
