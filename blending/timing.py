"""Timing of a zoom video: which zoom position each frame shows.

A zoom position ``s`` shows ``p^-s`` of level 0's field of view
(see :mod:`.frames`). Perceived zoom speed is the rate of change of the log of
the field of view, which is linear in ``s``: a linear ``s(t)`` zooms at a
constant perceived speed, one level every ``seconds_per_level``.
"""

import math

import torch

EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")
"""Speed profiles along the zoom: constant, starting slowly, ending slowly, or both (sine easing)."""

DIRECTIONS = ("in", "out", "in_out")
"""Zoom from the first level to the last, from the last to the first, or in and back out (ping-pong)."""

_EASING_FUNCTIONS = {
    "linear": lambda t: t,
    "ease_in": lambda t: 1 - torch.cos(t * (math.pi / 2)),
    "ease_out": lambda t: torch.sin(t * (math.pi / 2)),
    "ease_in_out": lambda t: (1 - torch.cos(t * math.pi)) / 2,
}


def zoom_positions(
    levels: int,
    fps: float,
    seconds_per_level: float,
    *,
    easing: str = "linear",
    direction: str = "in",
    hold_start: int = 0,
    hold_end: int = 0,
    first_level: float = 0.0,
    last_level: float | None = None,
    loop: bool = False,
) -> torch.Tensor:
    """The zoom position of every frame of a zoom video.

    The zoom travels from ``first_level`` to ``last_level`` in
    ``round(|last_level - first_level| * seconds_per_level * fps)`` steps, so
    it starts and ends exactly on those levels; ``easing`` shapes the speed
    along the way. ``direction="out"`` plays the same path backwards and
    ``"in_out"`` plays it forwards and then backwards (the turning frame once),
    ending where it started. Positions feed
    :func:`~.frames.render_zoom_frames` (the paper's zoom videos, project page).

    With ``loop`` (for a cyclic zoom) the zoom makes one whole turn from
    ``first_level``, through all ``N`` levels back to where it began, at a
    constant speed, and leaves the turn's last frame out: it is the first, so
    the video repeats with no visible restart.

    Args:
        levels: number of levels ``N`` of the zoom stack.
        fps: frames per second.
        seconds_per_level: time to zoom through one level (a factor ``p``) at average speed.
        easing: one of :data:`EASINGS`; ``"linear"`` keeps the perceived speed constant.
        direction: one of :data:`DIRECTIONS`.
        hold_start: extra frames that repeat the video's first frame.
        hold_end: extra frames that repeat the frame where the zoom pass ends:
            the last frame, or for ``"in_out"`` the turning point.
        first_level: the widest position of the zoom, in ``[0, N - 1]``.
        last_level: the deepest position, above ``first_level``; default ``N - 1``. Not with ``loop``.
        loop: one seamless turn around a cyclic zoom; ``easing`` must be ``"linear"`` and
            ``direction`` ``"in"`` or ``"out"``.

    Returns:
        Float64 positions on the CPU, in ``[first_level, last_level]``.

    Shape:
        ``(F,)`` with ``F = hold_start + steps + 1 + hold_end`` (plus ``steps``
        more for ``"in_out"``); with ``loop``, ``steps = round(N * seconds_per_level * fps)``
        frames and no ``+ 1``. Loop positions run past ``N - 1`` (or below ``first_level``
        going out); frames take them around the loop.

    Raises:
        ValueError: naming the argument and its value when any is out of range.
    """
    if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2; got {levels!r}")
    for name, value in (("fps", fps), ("seconds_per_level", seconds_per_level)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")
    if easing not in EASINGS:
        raise ValueError(f"easing must be one of {', '.join(EASINGS)}; got {easing!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    for name, value in (("hold_start", hold_start), ("hold_end", hold_end)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number of frames >= 0; got {value!r}")
    if loop:
        return _loop_positions(
            levels, fps, seconds_per_level, easing, direction, hold_start, hold_end, first_level, last_level
        )
    last_level = levels - 1 if last_level is None else last_level
    if not 0 <= first_level < last_level <= levels - 1:
        raise ValueError(
            f"first_level and last_level must satisfy 0 <= first_level < last_level <= {levels - 1} "
            f"for {levels} levels; got first_level {first_level}, last_level {last_level}"
        )
    steps = max(1, round((last_level - first_level) * seconds_per_level * fps))
    progress = _EASING_FUNCTIONS[easing](torch.arange(steps + 1, dtype=torch.float64) / steps)
    path = (first_level + (last_level - first_level) * progress).clamp(first_level, last_level)
    path[0], path[-1] = first_level, last_level
    if direction == "out":
        path = path.flip(0)
    parts = [path[:1].repeat(hold_start), path, path[-1:].repeat(hold_end)]
    if direction == "in_out":
        parts.append(path.flip(0)[1:])
    return torch.cat(parts)


def _loop_positions(levels, fps, seconds_per_level, easing, direction, hold_start, hold_end, first_level, last_level):
    """One turn around a cyclic zoom, its closing frame left out (see :func:`zoom_positions`)."""
    if easing != "linear" or direction == "in_out" or last_level is not None:
        raise ValueError(
            "a loop turns at constant speed through every level: it needs easing 'linear', direction 'in' or "
            f"'out' and no last_level; got easing {easing!r}, direction {direction!r}, last_level {last_level}"
        )
    if not 0 <= first_level <= levels - 1:
        raise ValueError(f"first_level must lie in [0, {levels - 1}] for {levels} levels; got {first_level}")
    steps = max(1, round(levels * seconds_per_level * fps))
    sign = 1 if direction == "in" else -1
    path = first_level + sign * levels * torch.arange(steps, dtype=torch.float64) / steps
    return torch.cat([path[:1].repeat(hold_start), path, path[-1:].repeat(hold_end)])
