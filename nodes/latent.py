"""Empty Zoom Latent: the zoom stack's shape, and the one source of its level count and layout."""

import logging
from fractions import Fraction

import comfy.model_management
import torch
from comfy_api.latest import io

from ..blending import MIN_FOOTPRINT, ZoomLayout, size_multiple
from .schema import CATEGORY, MAX_LEVELS, MAX_SIZE, schema_error
from .types import Zoom, ZoomSpec

ZOOM_FACTORS = ["2", "4", "8"]
NODE = "Empty Zoom Latent"

log = logging.getLogger(__name__)


def blend_reach(layout: ZoomLayout, width: int, height: int, downscale: int, levels: int) -> int:
    """How many levels deeper a level of ``width x height`` image pixels blends with: the depth this size allows.

    A level blends with a deeper one while that level's footprint in it is at
    least :data:`~..blending.MIN_FOOTPRINT` whole latent pixels
    (:meth:`~..blending.ZoomLayout.blend_depth`); deeper levels still render
    into it, but lend it nothing.
    """
    return layout.blend_depth(height // downscale, width // downscale, levels)


def latent_size_error(width: int, height: int, layout: ZoomLayout, downscale: int, levels: int) -> str | None:
    """Why this image size cannot hold a zoom stack, or None when it can.

    The rule is the geometry's (:func:`~..blending.size_multiple`), on latent
    pixels; this states it in image pixels, which is what the user sets, with
    the depth each of the nearest allowed sizes blends to.
    """
    zoom_factor = layout.zoom_factor
    step = size_multiple(zoom_factor) * downscale
    for label, size in (("width", width), ("height", height)):
        if size % step:
            allowed = [side for side in (size // step * step, (size // step + 1) * step) if side]
            reach = ", ".join(
                f"{side} px blends each level with the next {blend_reach(layout, side, side, downscale, levels)}"
                for side in allowed
            )
            return (
                f"{NODE}: {label} {size} px is not a multiple of {step} px; with zoom factor {zoom_factor} the "
                f"latent {label} ({size} px / {downscale}) must be a multiple of {size_multiple(zoom_factor)} so "
                f"every level sits on whole latent pixels ({reach}, on the shorter side)"
            )
    return None


def reach_note(width: int, height: int, layout: ZoomLayout, downscale: int, levels: int) -> str:
    """What depth this size allows, in image pixels, and what side would reach every level of an open zoom."""
    depth = blend_reach(layout, width, height, downscale, levels)
    note = f"{NODE}: at {width}x{height} px (latent 1/{downscale}) each level blends with the next {depth}"
    if layout.cyclic or depth < levels - 1:
        note += (
            f"; deeper levels cover under {MIN_FOOTPRINT} latent px ({MIN_FOOTPRINT * downscale} px) of it, so they "
            "render into it but lend it nothing"
        )
    side = MIN_FOOTPRINT * downscale * layout.zoom_factor ** (levels - 1)
    if not layout.cyclic and depth < levels - 1 and side <= MAX_SIZE:
        note += f"; a shorter side of {side} px would reach all {levels - 1}"
    return note


LATENT_DOWNSCALE = {"Flux2": 16, "HunyuanImage21": 32}
"""How many image pixels one latent pixel spans, for the families whose VAE does not downscale by 8, by the model's
ComfyUI latent format: what ComfyUI's own empty latents for them use (Empty Flux 2 Latent, Empty HunyuanImage 2.1
Latent). A connected VAE says it for itself."""


def latent_downscale(model=None, vae=None) -> int:
    """Image pixels per latent pixel: the VAE's, else the model family's (:data:`LATENT_DOWNSCALE`), else 8."""
    if vae is not None:
        return vae.spacial_compression_encode()
    if model is not None:
        return LATENT_DOWNSCALE.get(type(model.get_model_object("latent_format")).__name__, 8)
    return 8


CENTRE_TARGETS = "0.5, 0.5"
"""Every level in the centre of the one before: the concentric zoom, as in the paper."""

TARGETS_TOOLTIP = (
    "Where each level sits inside the one before: one line per level after level 0 (around a loop, one per level: "
    "the last places level 0 inside the deepest), or a single line for every level. Each line is 'x, y', fractions "
    "of the width and height from the top left: 0.5, 0.5 is the centre. A level is centred on its point where it "
    "fits and pushed inside at the edges, on whole latent pixels."
)


def parse_targets(node: str, text: str) -> tuple[tuple[Fraction, Fraction], ...]:
    """The targets one per non-blank line ``x, y`` (commas or spaces), as exact fractions.

    Raises:
        ValueError: naming ``node``, the line and the value, for a malformed
            line or a value outside 0-1.
    """
    targets = []
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{node}: targets is empty; give 'x, y' on a line (0.5, 0.5 is the centre)")
    for number, line in lines:
        parts = line.replace(",", " ").split()
        try:
            if len(parts) != 2:
                raise ValueError
            x, y = (Fraction(part) for part in parts)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{node}: targets line {number} {line!r} is not 'x, y' (two numbers)") from None
        for label, value in (("x", x), ("y", y)):
            if not 0 <= value <= 1:
                raise ValueError(f"{node}: targets line {number}: {label} {float(value):g} is outside 0-1")
        targets.append((x, y))
    return tuple(targets)


def zoom_layout(node: str, zoom_factor: int, text: str, levels: int, loop: bool) -> ZoomLayout:
    """The layout a zoom of ``levels`` levels (looping or not) has with these targets.

    Raises:
        ValueError: naming ``node``, the line and the value, or both counts of targets.
    """
    layout = ZoomLayout(zoom_factor, cyclic=loop, targets=parse_targets(node, text))
    layout.check_levels(levels, f"{node}: the zoom")
    return layout


class EmptyZoomLatent(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_EmptyZoomLatent",
            display_name=NODE,
            category=CATEGORY,
            description=(
                "Starts a zoom: an empty latent whose batch holds the zoom levels, level 0 the widest view and "
                "each next level 1/zoom_factor of the one before, around its target (the centre by default; with "
                "loop, the deepest level holds level 0 again). Its ZOOM output tells the other zoom nodes the "
                "number of levels, the zoom factor, where the levels sit and whether the zoom loops."
            ),
            inputs=[
                io.Int.Input(
                    "width", default=512, min=16, max=MAX_SIZE, step=16, tooltip="Width of every level, in pixels."
                ),
                io.Int.Input(
                    "height", default=512, min=16, max=MAX_SIZE, step=16, tooltip="Height of every level, in pixels."
                ),
                io.Int.Input(
                    "levels",
                    default=6,
                    min=2,
                    max=MAX_LEVELS,
                    tooltip="Number of zoom levels (one prompt per level). Each level zooms in by zoom_factor.",
                ),
                io.Combo.Input(
                    "zoom_factor",
                    options=ZOOM_FACTORS,
                    default="2",
                    tooltip="How much closer each level is than the one before (2 or 4 as in the paper).",
                ),
                io.Boolean.Input(
                    "loop",
                    default=False,
                    optional=True,
                    tooltip="A looping zoom: the deepest level holds level 0 again (where the last targets line puts "
                    "it), so the zoom video can repeat forever with no visible restart. Let the last prompt lead back "
                    "to the first.",
                ),
                io.String.Input(
                    "targets", default=CENTRE_TARGETS, multiline=True, optional=True, tooltip=TARGETS_TOOLTIP
                ),
                io.Model.Input(
                    "model",
                    optional=True,
                    tooltip="Optional: take the latent channel count and downscale from this model (16 channels for "
                    "SD3/Flux, 128 at 1/16 for Flux.2, 4 for SD1.5).",
                ),
                io.Vae.Input(
                    "vae",
                    optional=True,
                    tooltip="Optional: take the latent channel count and downscale factor from this VAE (else 8x).",
                ),
            ],
            outputs=[
                io.Latent.Output(display_name="latent", tooltip="One empty latent per level, as a batch."),
                Zoom.Output(
                    display_name="zoom",
                    tooltip="The zoom: levels, zoom factor, targets and loop, for the other zoom nodes.",
                ),
            ],
        )

    @classmethod
    def validate_inputs(
        cls, width=None, height=None, levels=None, zoom_factor=None, loop=None, targets=None
    ) -> bool | str:
        error = schema_error(cls, width=width, height=height, levels=levels, zoom_factor=zoom_factor)
        if not error and targets is not None and levels is not None:
            try:
                # Which targets fit depends on the levels and the loop, not on the zoom factor.
                zoom_layout(NODE, 2, targets, levels, bool(loop))
            except ValueError as refused:
                error = str(refused)
        if error or None in (width, height, zoom_factor):
            return error or True
        # A connected VAE's or model's downscale is unknown until execution; 8 is that of most families' VAEs.
        layout = ZoomLayout(int(zoom_factor), cyclic=bool(loop))
        return latent_size_error(width, height, layout, 8, levels or 2) or True

    @classmethod
    def execute(
        cls, width, height, levels, zoom_factor, loop=False, targets=CENTRE_TARGETS, model=None, vae=None
    ) -> io.NodeOutput:
        zoom_factor = int(zoom_factor)
        layout = zoom_layout(NODE, zoom_factor, targets, levels, loop)
        downscale = latent_downscale(model, vae)
        error = latent_size_error(width, height, layout, downscale, levels)
        if error:
            raise ValueError(error)
        log.info(reach_note(width, height, layout, downscale, levels))
        if vae is not None:
            channels = vae.latent_channels
        elif model is not None:
            channels = model.get_model_object("latent_format").latent_channels
        else:
            channels = 4
        samples = torch.zeros(
            [levels, channels, height // downscale, width // downscale],
            device=comfy.model_management.intermediate_device(),
        )
        return io.NodeOutput({"samples": samples}, ZoomSpec(levels, layout.aligned(*samples.shape[-2:])))
