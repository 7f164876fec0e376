"""Timing of a zoom video: which zoom position each frame shows.

A zoom position ``s`` shows ``p^-s`` of level 0's field of view
(see :mod:`.frames`). Perceived zoom speed is the rate of change of the log of
the field of view, which is linear in ``s``: a linear ``s(t)`` zooms at a
constant perceived speed, one level every ``seconds_per_level``. With a time
per level, or holds, ``s(t)`` is the monotone cubic (Fritsch & Carlson 1980)
through the times the zoom reaches each level: its speed changes smoothly
from one level's to the next's and comes to rest at a hold, with no jump.
A turning zoom's angle is a function of ``s`` alike (:func:`zoom_angles`), so
it turns with the zoom: holds stop it too, and zooming out turns it back.
:func:`beat_level_seconds` times the levels to a track's beats.
"""

import math
from collections.abc import Mapping, Sequence

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
    seconds_per_level: float | Sequence[float],
    *,
    easing: str = "linear",
    direction: str = "in",
    hold_start: int = 0,
    hold_end: int = 0,
    first_level: float = 0.0,
    last_level: float | None = None,
    loop: bool = False,
    holds: Mapping[int, float] | None = None,
) -> torch.Tensor:
    """The zoom position of every frame of a zoom video.

    The zoom travels from ``first_level`` to ``last_level`` in
    ``round(duration * fps)`` steps, so it starts and ends exactly on those
    levels. The duration is ``|last_level - first_level| * seconds_per_level``
    for one number; with one number per level, level ``i`` to ``i + 1`` takes
    ``seconds_per_level[i]``, and the speed eases from each level's to the
    next's around the crossing (a monotone cubic through the crossing times,
    so there is no jump in speed). ``holds`` stops the zoom at chosen levels
    for as long as they say, slowing into and out of each; holds at the
    ends are ``hold_start`` and ``hold_end``. ``easing`` then shapes the speed
    of the whole path, holds included. ``direction="out"`` plays the same path backwards and
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
        seconds_per_level: time to zoom through one level (a factor ``p``) at average speed; or one
            time per level ``0 … N - 2``, the time from that level to the next.
        easing: one of :data:`EASINGS`; ``"linear"`` keeps the perceived speed constant.
        direction: one of :data:`DIRECTIONS`.
        hold_start: extra frames that repeat the video's first frame.
        hold_end: extra frames that repeat the frame where the zoom pass ends:
            the last frame, or for ``"in_out"`` the turning point.
        first_level: the widest position of the zoom, in ``[0, N - 1]``.
        last_level: the deepest position, above ``first_level``; default ``N - 1``. Not with ``loop``.
        loop: one seamless turn around a cyclic zoom; ``easing`` must be ``"linear"`` and
            ``direction`` ``"in"`` or ``"out"``, with one ``seconds_per_level`` and no ``holds``.
        holds: ``{level: seconds}``, whole levels strictly between ``first_level`` and ``last_level``.

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
    if not _positive(fps):
        raise ValueError(f"fps must be a positive number; got {fps!r}")
    per_level = not isinstance(seconds_per_level, (int, float))
    crossings = list(seconds_per_level) if per_level else [seconds_per_level] * (levels - 1)
    if per_level and len(crossings) != levels - 1:
        raise ValueError(
            f"seconds_per_level must give one time per level but the deepest, {levels - 1} for {levels} levels; "
            f"got {len(crossings)}"
        )
    for level, value in enumerate(crossings):
        if not _positive(value):
            label = f"seconds_per_level[{level}]" if per_level else "seconds_per_level"
            raise ValueError(f"{label} must be a positive number; got {value!r}")
    holds = dict(holds or {})
    for level, seconds in holds.items():
        if not _positive(seconds):
            raise ValueError(f"the hold at level {level} must last a positive number of seconds; got {seconds!r}")
    if easing not in EASINGS:
        raise ValueError(f"easing must be one of {', '.join(EASINGS)}; got {easing!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    for name, value in (("hold_start", hold_start), ("hold_end", hold_end)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number of frames >= 0; got {value!r}")
    if loop:
        if per_level and len(set(crossings)) > 1 or holds:
            raise ValueError(
                "a loop turns at constant speed through every level: it needs one seconds_per_level and no holds; "
                f"got seconds_per_level {seconds_per_level!r}, holds {holds}"
            )
        return _loop_positions(
            levels, fps, crossings[0], easing, direction, hold_start, hold_end, first_level, last_level
        )
    last_level = levels - 1 if last_level is None else last_level
    if not 0 <= first_level < last_level <= levels - 1:
        raise ValueError(
            f"first_level and last_level must satisfy 0 <= first_level < last_level <= {levels - 1} "
            f"for {levels} levels; got first_level {first_level}, last_level {last_level}"
        )
    for level in holds:
        if not (isinstance(level, int) and first_level < level < last_level):
            raise ValueError(
                f"holds must be at whole levels between first_level {first_level} and last_level {last_level} "
                f"(the ends have hold_start and hold_end); got level {level!r}"
            )
    times, reached = _crossing_times(crossings, holds, first_level, last_level)
    steps = max(1, round(float(times[-1]) * fps))
    progress = _EASING_FUNCTIONS[easing](torch.arange(steps + 1, dtype=torch.float64) / steps)
    path = _monotone_cubic(times, reached, progress * times[-1]).clamp(first_level, last_level)
    path[0], path[-1] = first_level, last_level
    if direction == "out":
        path = path.flip(0)
    parts = [path[:1].repeat(hold_start), path, path[-1:].repeat(hold_end)]
    if direction == "in_out":
        parts.append(path.flip(0)[1:])
    return torch.cat(parts)


def zoom_angles(
    positions: torch.Tensor, degrees_per_level: float | Sequence[float], levels: int, *, loop: bool = False
) -> torch.Tensor:
    """The rotation of every frame, in degrees counterclockwise, for :func:`~.frames.render_zoom_frames`.

    The angle is 0 at level 0 and turns by ``degrees_per_level`` per level
    zoomed: at a constant rate for one number; with one number per level, by
    ``degrees_per_level[i]`` from level ``i`` to ``i + 1``, the rate easing from
    one level's to the next's around each crossing (the monotone cubic through
    the angle at each level, as for time), so the turn has no jump in speed.

    Args:
        positions: zoom positions, e.g. from :func:`zoom_positions`.
        degrees_per_level: one angle, or one per level ``0 … N - 2``.
        levels: number of levels ``N``.
        loop: the positions turn around a cyclic zoom; the turn per loop,
            ``N * degrees_per_level`` (one number), must then be whole turns, so the video repeats seamlessly.

    Shape:
        positions ``(F,)`` -> float64 ``(F,)``.

    Raises:
        ValueError: a count or angle that does not fit, naming the argument and the numbers.
    """
    positions = torch.as_tensor(positions, dtype=torch.float64)
    if isinstance(degrees_per_level, (int, float)) and not isinstance(degrees_per_level, bool):
        rates = [float(degrees_per_level)]
    else:
        rates = [float(rate) for rate in degrees_per_level]
        if len(rates) != levels - 1 or loop:
            raise ValueError(
                f"degrees_per_level must give one angle per level but the deepest, {levels - 1} for {levels} "
                f"levels, and a loop one angle; got {len(rates)}"
            )
    if not all(math.isfinite(rate) for rate in rates):
        raise ValueError(f"degrees_per_level must be finite; got {degrees_per_level!r}")
    if loop and not math.isclose(levels * rates[0] / 360, round(levels * rates[0] / 360), abs_tol=1e-9):
        raise ValueError(
            f"a looping zoom must turn whole turns per loop to repeat seamlessly: {levels} levels x "
            f"{rates[0]:g} degrees is {levels * rates[0]:g}; use a multiple of {360 / levels:g} degrees per level"
        )
    if len(set(rates)) == 1:
        return positions * rates[0]
    knots = torch.arange(levels, dtype=torch.float64)
    angles = torch.cat([torch.zeros(1, dtype=torch.float64), torch.tensor(rates, dtype=torch.float64).cumsum(0)])
    return _monotone_cubic(knots, angles, positions)


def beat_level_seconds(beats: Sequence[float], levels: int, min_seconds: float) -> list[float]:
    """Seconds per level that put every level crossing on a beat, for :func:`zoom_positions`.

    Crossing ``i`` (the zoom reaching level ``i``, time 0 being level 0) is the
    first beat at least ``min_seconds`` after crossing ``i - 1``, so no level
    flashes by however dense the beats. The zoom then reaches the last level
    on a beat and its speed eases between crossings (:func:`zoom_positions`).

    Args:
        beats: beat or onset times in seconds, e.g. from an audio track.
        levels: number of levels ``N`` (``N - 1`` crossings).
        min_seconds: the shortest time from one level to the next.

    Returns:
        ``N - 1`` times, level ``i`` to ``i + 1``.

    Raises:
        ValueError: too few beats for every crossing, naming how many were placed and the numbers to change.
    """
    if not _positive(min_seconds):
        raise ValueError(f"min_seconds must be a positive number; got {min_seconds!r}")
    times = sorted(float(beat) for beat in beats)
    crossings, previous = [], 0.0
    for beat in times:
        if len(crossings) == levels - 1:
            break
        if beat >= previous + min_seconds:
            crossings.append(beat - previous)
            previous = beat
    if len(crossings) < levels - 1:
        last = f"{times[-1]:.2f}" if times else "none"
        raise ValueError(
            f"{len(times)} beats (the last at {last} s) place {len(crossings)} of the {levels - 1} level "
            f"crossings at least {min_seconds:g} s apart; lower min_seconds or give a longer track"
        )
    return crossings


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


def _positive(value) -> bool:
    """Whether ``value`` is a finite number above 0 (and not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _crossing_times(crossings, holds, first_level, last_level) -> tuple[torch.Tensor, torch.Tensor]:
    """``(times, positions)``: when the zoom reaches ``first_level``, each whole level between, and ``last_level``.

    A hold is a second knot at its level, ``holds[level]`` seconds after the first.
    """
    knots = [first_level, *range(math.floor(first_level) + 1, math.ceil(last_level)), last_level]
    times, reached = [0.0], [float(first_level)]
    for start, end in zip(knots[:-1], knots[1:]):
        times.append(times[-1] + (end - start) * crossings[math.floor(start)])
        reached.append(float(end))
        if end in holds:
            times.append(times[-1] + holds[end])
            reached.append(float(end))
    return torch.tensor(times, dtype=torch.float64), torch.tensor(reached, dtype=torch.float64)


def _monotone_cubic(times: torch.Tensor, positions: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """The monotone cubic Hermite interpolant of ``positions`` at ``times``, evaluated ``at`` (Fritsch & Carlson).

    Each knot's slope is the weighted harmonic mean of the secants beside it (Fritsch & Butland's weights for
    uneven spacing), 0 where one of them is (a hold) or where they differ in sign (a turn back), the secant
    itself at the ends: so equal secants give a straight line, and the speed is continuous everywhere.
    """
    widths = times.diff()
    secants = positions.diff() / widths
    slopes = torch.empty_like(positions)
    slopes[0], slopes[-1] = secants[0], secants[-1]
    left, right = secants[:-1], secants[1:]
    before, after = 2 * widths[1:] + widths[:-1], widths[1:] + 2 * widths[:-1]
    harmonic = (before + after) / (before / left.abs().clamp(min=1e-300) + after / right.abs().clamp(min=1e-300))
    slopes[1:-1] = torch.where(left.sign() * right.sign() > 0, left.sign() * harmonic, 0.0)
    segment = (torch.searchsorted(times, at, right=True) - 1).clamp(0, len(widths) - 1)
    t = ((at - times[segment]) / widths[segment]).clamp(0, 1)
    width = widths[segment]
    return (
        (2 * t**3 - 3 * t**2 + 1) * positions[segment]
        + (t**3 - 2 * t**2 + t) * width * slopes[segment]
        + (-2 * t**3 + 3 * t**2) * positions[segment + 1]
        + (t**3 - t**2) * width * slopes[segment + 1]
    )
