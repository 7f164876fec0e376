"""Continuous zoom frames from a zoom stack: every position between the levels, without pops or blur.

The paper presents its zoom stacks as continuous zoom videos (project page);
this module renders such frames from a finished stack. Frame ``s`` (a real number in
``[0, N-1]``) shows ``p^-s`` of level 0's field of view: the central part, or,
when the levels sit off-centre, the part the camera's path reaches there
(:class:`CameraPath`).

How a frame is built (the method's "choices where the paper is open" apply):

- The stack is first rendered into views (:func:`~.render.render_image`), so
  view ``j`` holds level ``j`` with every finer level box-shrunk into its footprint.
- Level ``j`` is seen at minification ``r_j = (W / w) * p^(j - s)`` stack pixels
  per frame pixel. The frame uses the levels from ``floor(s)`` (or ``j_r`` if
  smaller) up to ``j_r``, the coarsest level with ``r >= 1``; each pixel takes
  the finest of them whose footprint covers it. Levels finer than ``j_r`` add nothing: their content is
  already in view ``j_r``, box-shrunk, at the resolution the frame can show.
  Levels coarser than ``j_r`` only fill the ring outside its footprint, where
  nothing finer exists, so no pixel shows a magnified coarse level where a
  finer one exists.
- Each level is resampled with a separable area (box) filter of width
  ``max(r, 1)`` over the level seen as piecewise-constant pixels: exact box
  averaging when minifying, bilinear interpolation when magnifying, and
  continuous in between. A frame pixel that a finer level's footprint only
  partly covers mixes the two levels by the area covered, so footprint edges
  sweep across pixels smoothly instead of switching them from one frame to the next.
- Hence frames are continuous in ``s``, across level boundaries too: at an
  integer ``s`` with ``w = W`` the frame is view ``s`` exactly (its footprint
  *is* the box-shrunk next view), and as ``s`` grows to the next integer it
  tends to the next view. Nothing pops.
- A turning frame (``angles``) samples the same levels at its turned pixel
  centres, with the same box in each level's own axes, so a turn by a
  multiple of 90° gives the unturned frame turned. It shows
  :func:`rotation_inset` of the field of view, which keeps every corner
  inside the level ``floor(s)``: no corner is ever empty.
"""

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from .geometry import ZoomLayout, check_stack
from .precision import working_dtype
from .render import RING_WIDTH, paste_finer_levels

# Tolerance, in stack pixels or levels, for float64 rounding of values that are exact in theory.
_EPS = 1e-9

CHUNK_PIXELS = 1 << 18
"""Frame pixels rendered together by default: one 512 x 512 frame, or several smaller ones so
that per-call overhead does not dominate. Larger chunks gain little and cost memory."""


def check_frame_size(stack_height: int, stack_width: int, size: Sequence[int]) -> tuple[int, int]:
    """Validate a frame size ``(h, w)`` against the stack's ``H x W``.

    The frame must have the stack's aspect ratio to the nearest pixel: frames
    show the stack's field of view, never a crop or a stretch of it.

    Returns:
        ``(h, w)`` as ints.

    Raises:
        ValueError: ``size`` is not two positive integers, or its aspect is not the stack's.
    """
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise ValueError(f"size must be two positive integers (height, width); got {tuple(size)!r}")
    height, width = size
    if round(width * stack_height / stack_width) != height and round(height * stack_width / stack_height) != width:
        raise ValueError(
            f"size {height}x{width} (height x width) does not have the stack's aspect {stack_height}x{stack_width}: "
            f"for width {width} use height {round(width * stack_height / stack_width)}"
        )
    return height, width


def iter_zoom_frames(
    stack: torch.Tensor,
    zoom: ZoomLayout | int,
    positions: torch.Tensor | Sequence[float],
    size: Sequence[int],
    *,
    angles: torch.Tensor | Sequence[float] | None = None,
    chunk_size: int | None = None,
) -> Iterator[torch.Tensor]:
    """Render continuous zoom frames a few at a time, for streaming (see the module docstring).

    The views and their resampling layout are prepared once; each chunk then
    costs only its own frames, so memory stays at a few frames however many
    positions there are. Arguments are validated before the first chunk is
    requested.

    Args:
        stack: zoom stack, level 0 the widest (need not be rendered yet).
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p``.
        positions: zoom positions ``s`` in ``[0, N - 1]``, e.g. from :func:`~.timing.zoom_positions`;
            around a loop (a cyclic layout) any real ``s``, position ``s + N`` being ``s``.
        size: frame ``(height, width)``, with the stack's aspect ratio.
        angles: each frame's rotation in degrees, counterclockwise, e.g. from :func:`~.timing.zoom_angles`;
            see :func:`rotation_inset` for the field of view a turning zoom shows.
        chunk_size: frames per chunk; default: as many as fit in :data:`CHUNK_PIXELS`, at least one.

    Returns:
        An iterator of chunks ``(f, C, h, w)`` in the stack's dtype and device
        (channels-last memory format), ``f <= chunk_size``, in position order.

    Shape:
        stack ``(N, C, H, W)``, positions ``(F,)`` -> chunks ``(f, C, h, w)`` totalling ``F`` frames.
    """
    layout = check_stack(stack, zoom)
    levels, _, stack_height, stack_width = stack.shape
    height, width = check_frame_size(stack_height, stack_width, size)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_PIXELS // (height * width))
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None; got {chunk_size!r}")
    positions = _check_positions(positions, levels, layout.cyclic)
    angles = _check_angles(angles, positions.numel())
    inset = 1.0 if angles is None else rotation_inset(angles, stack_height, stack_width)
    views = paste_finer_levels(stack.to(working_dtype(stack.dtype)), layout, 1.0, RING_WIDTH)
    levels_at = list(range(levels))
    if layout.cyclic:
        # Past the deepest level the zoom goes on into view 0; a frame larger than the stack (or turned,
        # so showing less of it) looks further ahead.
        ratio = inset * min(stack_height / height, stack_width / width)
        ahead = 1 + max(0, math.ceil(-math.log(ratio, layout.zoom_factor) - _EPS))
        levels_at = layout.unrolled(levels, finer=ahead)
        views = views[levels_at]
        positions = positions.remainder(levels)
    camera = CameraPath(layout, levels_at, stack_height, stack_width)
    # Columns-major rows: the first (horizontal) pass gathers whole columns of H x C values at once.
    columns = views.permute(0, 3, 2, 1).contiguous()
    rotation = None if angles is None else (angles, inset)
    return _frames(columns, layout.zoom_factor, camera, positions, rotation, height, width, chunk_size, stack.dtype)


def render_zoom_frames(
    stack: torch.Tensor,
    zoom: ZoomLayout | int,
    positions: torch.Tensor | Sequence[float],
    size: Sequence[int],
    *,
    angles: torch.Tensor | Sequence[float] | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Continuous zoom frames at the given positions, each pixel from the finest level that covers it.

    Frame ``s`` shows ``p^-s`` of level 0's field of view (the centre, or along the camera path),
    resampled with an area filter (anti-aliased when minifying, bilinear when
    magnifying); see the module docstring for how levels are chosen. At integer
    ``s`` with ``size == (H, W)`` the frame equals view ``s`` of
    :func:`~.render.render_image` (paper Algorithm 1) to float rounding, and
    frames vary continuously with ``s`` across level boundaries.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom: the layout, or the zoom factor ``p``.
        positions: zoom positions ``s`` in ``[0, N - 1]``, or any real ``s`` around a loop.
        size: frame ``(height, width)``; must have the stack's aspect to the nearest pixel.
        angles: each frame's rotation in degrees, counterclockwise (:func:`rotation_inset`); default none.
        chunk_size: frames rendered together; default: as many as fit in :data:`CHUNK_PIXELS`.

    Returns:
        All frames, in the stack's dtype and device (channels-last memory format).
        For long videos use :func:`iter_zoom_frames`, which holds one chunk at a time.

    Shape:
        stack ``(N, C, H, W)``, positions ``(F,)`` -> ``(F, C, h, w)``.

    Raises:
        ValueError: a bad stack or layout, positions that are not a finite
            1-D sequence (inside ``[0, N - 1]`` unless the zoom loops), angles that are not one finite
            number per position, or a size whose aspect is not the stack's.
    """
    chunks = iter_zoom_frames(stack, zoom, positions, size, angles=angles, chunk_size=chunk_size)
    count = len(positions)
    height, width = size
    frames = stack.new_empty(count, height, width, stack.shape[1])
    start = 0
    for chunk in chunks:
        frames[start : start + chunk.shape[0]] = chunk.permute(0, 2, 3, 1)
        start += chunk.shape[0]
    return frames.permute(0, 3, 1, 2)


def _check_positions(positions, levels: int, cyclic: bool) -> torch.Tensor:
    positions = torch.as_tensor(positions, dtype=torch.float64, device="cpu")
    if positions.ndim != 1 or positions.numel() == 0:
        shape = tuple(positions.shape)
        raise ValueError(f"positions must be a non-empty 1-D sequence of zoom positions; got shape {shape}")
    if not torch.isfinite(positions).all():
        raise ValueError("positions must be finite; got NaN or inf")
    low, high = positions.min().item(), positions.max().item()
    if not cyclic and (low < 0 or high > levels - 1):
        raise ValueError(f"positions must lie in [0, {levels - 1}] for a stack of {levels} levels; got [{low}, {high}]")
    return positions


def _check_angles(angles, count: int) -> torch.Tensor | None:
    """Angles in radians, float64 on the CPU; None when there are none or all are 0 (no turn)."""
    if angles is None:
        return None
    angles = torch.as_tensor(angles, dtype=torch.float64, device="cpu")
    if angles.shape != (count,):
        raise ValueError(f"angles must give one angle per position, {count}; got shape {tuple(angles.shape)}")
    if not torch.isfinite(angles).all():
        raise ValueError("angles must be finite; got NaN or inf")
    return torch.deg2rad(angles) if angles.any() else None


def rotation_inset(angles: torch.Tensor, height: int, width: int) -> float:
    """The part of the field of view a turning zoom shows: the largest the turned frame can be and stay inside.

    A frame turned by ``θ`` about its centre fits inside its unturned field of
    view (``W x H``, and so inside the level that holds it: no corner ever falls
    outside the stack) when scaled by ``min(W / (W |cos θ| + H |sin θ|),
    H / (W |sin θ| + H |cos θ|))``. One scale serves the whole video, the smallest
    over its angles, so turning never changes the zoom's speed: a video that turns
    by 45° or more shows ``1/√2`` of each square field of view (``H / √(W² + H²)``
    at most for a wide one), as if it were zoomed ``log_p`` of the inverse further in.

    Args:
        angles: the frames' angles in radians.
        height, width: the stack's size, whose aspect the frames have.
    """
    angles = angles.double()
    cos, sin = angles.cos().abs(), angles.sin().abs()
    fits = torch.minimum(width / (width * cos + height * sin), height / (width * sin + height * cos))
    return min(1.0, fits.min().item())


def _frames(columns, zoom_factor, camera, positions, rotation, height, width, chunk_size, dtype):
    for start in range(0, positions.numel(), chunk_size):
        chunk_positions = positions[start : start + chunk_size]
        chunk_rotation = None if rotation is None else (rotation[0][start : start + chunk_size], rotation[1])
        chunk = _render_chunk(columns, zoom_factor, camera, chunk_positions, chunk_rotation, height, width)
        yield chunk.to(dtype).permute(0, 3, 1, 2)


class CameraPath:
    """Where the camera looks: the frame's field of view at every zoom position, centred or not.

    Between levels ``k`` and ``k + 1`` (``s = k + τ``) the frame covers
    ``z = p^-τ`` of level ``k`` at ``a(τ) (1 - z)``, in level ``k``'s own
    coordinates (fractions of its width and height). ``a(1)`` is level
    ``k + 1``'s anchor, ``t_k = f_k / (1 - 1/p)`` for its footprint's corner
    ``f_k``, so every integer position is exactly a level's view. The anchor
    moves from the previous level's to this one's as ``h(τ) = 1 - (1 - τ)^2``:
    ``h'(1) = 0``, which makes the frame centre's velocity continuous across
    every crossing, with no kink (a constant anchor per level turns sharply at
    each crossing). The first level of an open zoom keeps its anchor; around a
    loop level 0 comes from the deepest level's. A centred zoom has every
    anchor at 1/2: the concentric zoom.

    Coordinates stay relative to the levels near the frame, so the path is as
    exact at level 1000 as at level 1.
    """

    def __init__(self, layout: ZoomLayout, levels_at: list[int], height: int, width: int):
        self.zoom_factor = layout.zoom_factor
        corners = []
        for position, level in enumerate(levels_at):
            if position + 1 < len(levels_at) or layout.cyclic:
                window = layout.child_window(height, width, level)
                corners.append((window.top / height, window.left / width))
            else:
                corners.append((0.5 * (1 - 1 / self.zoom_factor),) * 2)
        # f_k, per position: the corner of the next level's footprint, in fractions of this level.
        self.corners = torch.tensor(corners, dtype=torch.float64)
        self.anchors = self.corners / (1 - 1 / self.zoom_factor)
        # The anchor each level's stretch starts from: the previous level's; around a loop level 0's is the deepest's.
        deepest = max(levels_at)
        first = self.anchors[deepest : deepest + 1] if layout.cyclic else self.anchors[:1]
        self.previous = torch.cat([first, self.anchors[:-1]])

    def origin(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(k, origin, z)``: each frame's level ``k = floor(s)``, and its corner and size in that level.

        Shape:
            positions ``(F,)`` -> ``k (F,)``, ``origin (F, 2)`` (y, x), ``z (F,)``.
        """
        k = torch.floor(positions).long().clamp(0, len(self.anchors) - 1)
        tau = positions - k.double()
        z = torch.pow(float(self.zoom_factor), -tau)
        ease = (1 - (1 - tau) ** 2)[:, None]
        anchor = self.previous[k] + (self.anchors[k] - self.previous[k]) * ease
        return k, anchor * (1 - z)[:, None], z

    def in_level(self, k: torch.Tensor, origin: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """The frame corners ``origin`` given in level ``k`` coordinates, in level ``level`` coordinates.

        Shape:
            ``k``, ``level`` ``(F,)``; ``origin`` ``(F, 2)`` -> ``(F, 2)``.
        """
        p = float(self.zoom_factor)
        origin = origin.clone()
        here = k.clone()
        for _ in range(int((level - k).abs().max()) if level.numel() else 0):
            deeper, wider = level > here, level < here
            origin[deeper] = (origin[deeper] - self.corners[here[deeper]]) * p
            here[deeper] += 1
            origin[wider] = self.corners[here[wider] - 1] + origin[wider] / p
            here[wider] -= 1
        return origin


def _render_chunk(
    columns: torch.Tensor,
    zoom_factor: int,
    camera: CameraPath,
    positions: torch.Tensor,
    rotation: tuple[torch.Tensor, float] | None,
    height: int,
    width: int,
):
    """Frames ``(F, h, w, C)`` for a few positions; ``columns`` are the views as ``(N, W, H, C)``.

    ``rotation`` is ``(angles, inset)``: each frame's angle in radians and the
    :func:`rotation_inset` of the video, or None for frames that do not turn.
    """
    levels, stack_width, stack_height, _ = columns.shape
    inset = 1.0 if rotation is None else rotation[1]
    # Coarsest level not magnified anywhere in the frame: finer levels only repeat it, box-shrunk.
    log_ratio = math.log2(inset * min(stack_width / width, stack_height / height)) / math.log2(zoom_factor)
    sharp = torch.ceil(positions - log_ratio - _EPS).clamp(0, levels - 1).long()
    first = torch.minimum(torch.floor(positions).long(), sharp)
    k, corner, z = camera.origin(positions)
    # A turning frame turns about its centre, in the level's own pixels.
    centre, aspect = corner + z[:, None] / 2, stack_width / stack_height
    frames = None
    for slot in range(int((sharp - first).max()) + 1):
        level = torch.minimum(first + slot, sharp)
        scale = torch.pow(float(zoom_factor), level.double() - positions)
        # Every level is resampled over the whole frame, not just its footprint: chunks then
        # allocate the same sizes every time, whereas varying sizes fragment the heap and make
        # the memory of a long streamed export creep up.
        if rotation is None:
            origin = camera.in_level(k, corner, level).unbind(1)
            cols, col_weights, col_cover = _axis_taps(scale, origin[1], width, stack_width)
            rows, row_weights, row_cover = _axis_taps(scale, origin[0], height, stack_height)
            patch = _resample(columns, level, cols, col_weights, rows, row_weights)
            cover = row_cover[:, :, None] * col_cover[:, None, :]
        else:
            centre_here = camera.in_level(k, centre, level)
            rows, cols = _turned_grid(centre_here, scale * inset, rotation[0], aspect, height, width)
            patch, cover = _resample_points(columns, level, rows, cols, scale * inset, height, width)
        if frames is None:
            frames = patch
            continue
        cover = (cover * (first + slot <= sharp)[:, None, None]).to(frames.device, frames.dtype)
        frames += patch.sub_(frames).mul_(cover[..., None])
    return frames


def _axis_taps(scale: torch.Tensor, origin: torch.Tensor, out_size: int, in_size: int):
    """Area-filter taps along one axis for every frame of a chunk.

    Output pixel ``x`` of a frame covers ``[c - r/2, c + r/2]`` of the level,
    ``c = (origin + (x + 1/2) / out_size * scale) * in_size`` (``origin``: the
    frame's corner in fractions of the level, :class:`CameraPath`), and
    ``r = scale * in_size / out_size`` level pixels per frame pixel; see :func:`_box_taps`.

    Returns:
        ``(index, weight, cover)`` of shapes ``(F, n, T)``, ``(F, n, T)`` and ``(F, n)``.
    """
    fractions = (torch.arange(out_size, dtype=torch.float64) + 0.5) / out_size
    coords = (origin[:, None] + fractions[None, :] * scale[:, None]) * in_size
    return _box_taps(coords, (scale * in_size / out_size)[:, None], in_size)


def _box_taps(coords: torch.Tensor, ratio: torch.Tensor, in_size: int):
    """Area-filter taps along one axis of a level ``in_size`` pixels long, for pixels centred at ``coords``.

    A pixel ``r = ratio`` level pixels wide averages the level, seen as
    piecewise constant, over the window ``[c - d/2, c + d/2]``, ``d = max(r, 1)``,
    clipped to the level. The fraction of the pixel inside the level is its
    coverage: a footprint edge moving across a frame pixel blends it in continuously.

    Returns:
        ``(index, weight, cover)``: int64 indices and float64 weights summing to 1,
        ``coords.shape + (T,)``, and the coverage in ``[0, 1]``, ``coords.shape``.
    """
    widths = ratio.clamp(min=1)
    low = (coords - widths / 2).clamp(0, in_size)
    high = (coords + widths / 2).clamp(0, in_size)
    start = torch.floor(low + _EPS)
    taps = int((torch.floor(high - _EPS) - start).max().clamp(min=0)) + 1
    index = start[..., None] + torch.arange(taps, dtype=torch.float64)
    overlap = torch.minimum(high[..., None], index + 1) - torch.maximum(low[..., None], index)
    weight = overlap.clamp(min=0) / (high - low).clamp(min=_EPS)[..., None]
    cover = ((coords + ratio / 2).clamp(0, in_size) - (coords - ratio / 2).clamp(0, in_size)) / ratio
    return index.clamp(0, in_size - 1).long(), weight, cover


def _turned_grid(centre, extent, angles, aspect: float, height: int, width: int):
    """Centres of a turned frame's pixels, in fractions of a level: ``(rows, cols)``, each ``(F, h, w)``.

    The frame spans ``extent`` of the level (each axis) and is turned
    counterclockwise by ``angles`` about ``centre`` (``(F, 2)``, y and x). The turn
    is taken in the level's pixels (``aspect``: its width over its height), so the frame keeps its shape.
    """
    down = ((torch.arange(height, dtype=torch.float64) + 0.5) / height - 0.5)[None, :, None] * extent[:, None, None]
    across = ((torch.arange(width, dtype=torch.float64) + 0.5) / width - 0.5)[None, None, :] * extent[:, None, None]
    cos, sin = angles.cos()[:, None, None], angles.sin()[:, None, None]
    rows = centre[:, 0, None, None] + sin * across * aspect + cos * down
    cols = centre[:, 1, None, None] + cos * across - sin * down / aspect
    return rows, cols


def _resample_points(columns, level, rows, cols, scale, height, width) -> tuple[torch.Tensor, torch.Tensor]:
    """Area resampling of each frame's level at turned pixel centres: a box in the level's own axes.

    The box is :func:`_box_taps`' along each of the level's axes, so frames turned
    by a multiple of 90° are the unturned ones, turned, to float rounding.

    Shape:
        ``columns (N, W, H, C)``; ``rows``/``cols (F, h, w)`` in fractions of the level; ``scale (F,)``
        -> ``(F, h, w, C)`` and the coverage ``(F, h, w)``.
    """
    levels, stack_width, stack_height, channels = columns.shape
    device, dtype = columns.device, columns.dtype
    x, x_weight, x_cover = _box_taps(cols * stack_width, (scale * stack_width / width)[:, None, None], stack_width)
    y, y_weight, y_cover = _box_taps(rows * stack_height, (scale * stack_height / height)[:, None, None], stack_height)
    flat = columns.view(levels * stack_width * stack_height, channels)
    column_starts = (x + (level * stack_width)[:, None, None, None]) * stack_height
    frames = None
    # One row tap at a time keeps the index tensors at (F, h, w, Tx), not (F, h, w, Ty * Tx).
    for tap in range(y.shape[-1]):
        index = (column_starts + y[..., tap : tap + 1]).to(device)
        part = _weighted_gather(flat, index, (x_weight * y_weight[..., tap : tap + 1]).to(device, dtype))
        frames = part if frames is None else frames.add_(part)
    return frames.view(*rows.shape, channels), x_cover * y_cover


def _resample(columns, level, cols, col_weights, rows, row_weights) -> torch.Tensor:
    """Separable area resampling of each frame's level: columns first, then rows.

    Shape:
        ``columns (N, W, H, C)``; ``cols``/``col_weights (F, w, Tx)``;
        ``rows``/``row_weights (F, h, Ty)`` -> ``(F, h, w, C)``.
    """
    levels, stack_width, stack_height, channels = columns.shape
    count, width, _ = cols.shape
    height = rows.shape[1]
    device, dtype = columns.device, columns.dtype
    flat = columns.view(levels * stack_width, stack_height * channels)
    cols = (cols + (level * stack_width)[:, None, None]).to(device)
    partial = _weighted_gather(flat, cols, col_weights.to(device, dtype))
    by_row = partial.view(count, width, stack_height, channels).transpose(1, 2).contiguous()
    by_row = by_row.view(count * stack_height, width * channels)
    rows = (rows + (torch.arange(count) * stack_height)[:, None, None]).to(device)
    frames = _weighted_gather(by_row, rows, row_weights.to(device, dtype))
    return frames.view(count, height, width, channels)


def _weighted_gather(table: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum_t weight[..., t] * table[index[..., t]]`` over rows of ``table``: one banded filter pass.

    ``embedding_bag`` fuses the gathers and the weighted sum, with no per-tap temporaries.
    """
    taps = index.shape[-1]
    return F.embedding_bag(index.reshape(-1, taps), table, per_sample_weights=weight.reshape(-1, taps), mode="sum")
