"""What the nodes' schemas share, written once: category, limits, the inputs every zoom node takes, bounds checks."""

from comfy_api.latest import io

from .types import Zoom

CATEGORY = "powers_of_ten"
MAX_LEVELS = 1024
"""Most levels a zoom may have (Empty Zoom Latent's ``levels`` maximum). The film's 10^40 takes 133 levels at
zoom factor 2; samplers (with ``max_batch``), blending and videos scale linearly beyond that."""
MAX_SIZE = 8192
"""Largest image side, in pixels, any node accepts: ComfyUI's own ``MAX_RESOLUTION``."""
DEEPEST = -1
"""A ``last_level`` of -1 means the zoom's deepest level, on every node that takes one."""


def zoom_input() -> io.Input:
    return Zoom.Input(
        "zoom",
        tooltip="The zoom (Empty Zoom Latent, Extend Zoom, Regenerate Zoom Levels): its levels and how they nest.",
    )


def level_input(name: str, tooltip: str, *, default: int = 0, deepest: bool = False) -> io.Int.Input:
    """A level index; with ``deepest``, -1 is allowed and means the deepest level (:data:`DEEPEST`)."""
    if deepest:
        tooltip = f"{tooltip} -1: the deepest level."
    return io.Int.Input(name, default=default, min=DEEPEST if deepest else 0, max=MAX_LEVELS - 1, tooltip=tooltip)


def resolve_level(level: int, levels: int) -> int:
    """A level index with :data:`DEEPEST` replaced by the deepest level of a zoom of ``levels``."""
    return levels - 1 if level == DEEPEST else level


def schema_error(node: type[io.ComfyNode], **values) -> str | None:
    """The schema's own checks for the inputs a node's ``validate_inputs`` takes: min/max, and a combo's options.

    ComfyUI skips both checks for every input that ``validate_inputs`` names,
    so each such node passes all its named number and combo inputs here first.
    Inputs that arrive through a link have no value at validation (None) and
    are checked at execution. ``define_schema`` rather than ``GET_SCHEMA``:
    ComfyUI validates on a locked copy of the class, which cannot cache a schema.
    """
    schema = node.define_schema()
    for item in schema.inputs:
        value = values.get(item.id)
        if value is None:
            continue
        if isinstance(item, io.Combo.Input) and value not in item.options:
            return f"{schema.display_name}: {item.id} must be one of {', '.join(map(str, item.options))}; got {value!r}"
        if not isinstance(item, (io.Int.Input, io.Float.Input)):
            continue
        if item.min is not None and value < item.min:
            return f"{schema.display_name}: {item.id} {value} is below its minimum {item.min}"
        if item.max is not None and value > item.max:
            return f"{schema.display_name}: {item.id} {value} is above its maximum {item.max}"
    return None


def percent_input(name: str, default: float, tooltip: str) -> io.Float.Input:
    """A ``start_percent`` / ``end_percent`` style input, as ControlNet and core's timestep ranges take."""
    return io.Float.Input(name, default=default, min=0.0, max=1.0, step=0.001, optional=True, tooltip=tooltip)


def check_percent_range(node: str, prefix: str, start: float | None, end: float | None) -> str | None:
    """Why a start/end percent pair is out of order, or None."""
    if start is not None and end is not None and start > end:
        return f"{node}: {prefix}start_percent {start} is after {prefix}end_percent {end}"
    return None


def level_range_error(node: type[io.ComfyNode], first_level, last_level) -> str | None:
    """What a ``first_level`` / ``last_level`` pair alone shows to be wrong, for ``validate_inputs``."""
    error = schema_error(node, first_level=first_level, last_level=last_level)
    if error or None in (first_level, last_level):
        return error
    if last_level != DEEPEST and last_level < first_level:
        return f"{node.define_schema().display_name}: last_level {last_level} is before first_level {first_level}"
    return None


def level_range(node: str, levels: int, first_level: int, last_level: int) -> tuple[int, int]:
    """``(first, last)`` of a zoom's ``levels``, the deepest for :data:`DEEPEST`; checked against the zoom."""
    last = resolve_level(last_level, levels)
    if max(first_level, last) >= levels:
        raise ValueError(f"{node}: levels {first_level}-{last} reach past the zoom's {levels} levels (0-{levels - 1})")
    return first_level, last


def range_inputs(verb: str) -> list:
    """``first_level`` and ``last_level``: one level or a range, -1 reaching the deepest."""
    return [
        level_input("first_level", f"First level to {verb} (0 is the widest)."),
        level_input("last_level", f"Last level to {verb}, inclusive.", default=DEEPEST, deepest=True),
    ]
