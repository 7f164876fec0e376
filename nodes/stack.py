"""Nodes that work on a finished zoom stack: blend, render, upscale, and lay the views out side by side."""

import torch
from comfy_api.latest import io, ui

from ..blending import blend, render_image, upscale_stack
from .schema import CATEGORY, schema_error, zoom_input
from .types import ImageOrLatent

VIEWS = "Zoom Views Side by Side"
STACK_TOOLTIP = "A zoom stack: an IMAGE batch (e.g. from VAE Decode) or a LATENT, one entry per level."


def apply_to_stack(function, stack, zoom, node: str):
    """Run a blending function on an IMAGE batch or a LATENT, returning the same kind; errors name ``node``."""
    is_latent = isinstance(stack, dict)
    samples = stack["samples"] if is_latent else stack.movedim(-1, 1)
    zoom.check_count(samples.shape[0], node, "the latent" if is_latent else "the image batch")
    try:
        result = function(samples, zoom.layout)
    except ValueError as error:
        raise ValueError(f"{node}: {error}") from None
    if not is_latent:
        return result.movedim(1, -1).clamp(0, 1)
    output = stack.copy()
    output["samples"] = result
    return output


def _stack_schema(node_id: str, display_name: str, description: str) -> io.Schema:
    return io.Schema(
        node_id=node_id,
        display_name=display_name,
        category=CATEGORY,
        description=description,
        inputs=[
            io.MultiType.Input("stack", types=[io.Image, io.Latent], tooltip=STACK_TOOLTIP),
            zoom_input(),
        ],
        outputs=[ImageOrLatent.Output(display_name="stack", tooltip="The same kind of stack that came in.")],
    )


class BlendZoomStack(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _stack_schema(
            "P10_BlendZoomStack",
            "Blend Zoom Stack",
            "Makes the levels of a zoom stack agree where they overlap by multi-resolution (Laplacian) blending: "
            "fine detail comes from each level itself, coarse structure is shared. Run it on the decoded images: "
            "decoding each level separately leaves the overlaps slightly different, and this pixel-space pass "
            "removes that. Follow it with Render Zoom Stack.",
        )

    @classmethod
    def execute(cls, stack, zoom) -> io.NodeOutput:
        return io.NodeOutput(apply_to_stack(blend, stack, zoom, "Blend Zoom Stack"))


class RenderZoomStack(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _stack_schema(
            "P10_RenderZoomStack",
            "Render Zoom Stack",
            "Renders every level's view of a zoom stack: the level with all finer levels shrunk and pasted into "
            "its footprint, so each view shows the sharpest content available and consecutive views match exactly.",
        )

    @classmethod
    def execute(cls, stack, zoom) -> io.NodeOutput:
        def render(samples, layout):
            # Images are clamped view by view inside the render, so that the clamp keeps the views nested.
            return render_image(samples, layout, value_range=None if isinstance(stack, dict) else (0.0, 1.0))

        return io.NodeOutput(apply_to_stack(render, stack, zoom, "Render Zoom Stack"))


UPSCALE = "Upscale Zoom Latent"


class UpscaleZoomLatent(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_UpscaleZoomLatent",
            display_name=UPSCALE,
            category=CATEGORY,
            description=(
                "The start of a hi-res zoom (for 1080p and 4K videos): every level of a finished zoom latent 2 or 4 "
                "times larger, smooth, and still one consistent zoom that shrinks back exactly to the one that came "
                "in. Refine it with Zoom KSampler at a denoise of about 0.4-0.6 and the same zoom plan: all levels "
                "are refined jointly, so they gain the detail the larger size holds and still agree. Use max_batch "
                "there to bound memory, and VAE Decode (Tiled) after it."
            ),
            inputs=[
                io.Latent.Input("latent", tooltip="A finished zoom latent (Zoom KSampler), one image per level."),
                zoom_input(),
                io.Combo.Input(
                    "scale_by", options=["2", "4"], default="2", tooltip="How many times larger each side becomes."
                ),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="The larger zoom latent, to refine.")],
        )

    @classmethod
    def validate_inputs(cls, scale_by=None) -> bool | str:
        return schema_error(cls, scale_by=scale_by) or True

    @classmethod
    def execute(cls, latent, zoom, scale_by) -> io.NodeOutput:
        samples = latent["samples"]
        zoom.check_count(samples.shape[0], UPSCALE, "the latent")
        try:
            larger = upscale_stack(samples, zoom.layout, int(scale_by))
        except ValueError as error:
            raise ValueError(f"{UPSCALE}: {error}") from None
        # The noise mask and batch indices belong to the old size.
        return io.NodeOutput({"samples": larger})


def lay_out_views(images: torch.Tensor, layout, gap: int, outline: bool) -> torch.Tensor:
    """Views side by side, optionally with the next level's footprint outlined in red (around a loop, level 0's).

    Shape:
        ``(N, H, W, C)`` -> ``(1, H, N * W + (N - 1) * gap, C)``.
    """
    levels, height, width, channels = images.shape
    canvas = images.new_ones(1, height, levels * width + (levels - 1) * gap, channels)
    layout.check_size(height, width, name=f"{VIEWS}: the image batch")
    red = images.new_tensor([1.0, 0.0, 0.0] + [1.0] * (channels - 3))
    for level in range(levels):
        view = images[level].clone()
        if outline and (level + 1 < levels or layout.cyclic):
            window = layout.child_window(height, width, level)
            rows, cols = window.rows, window.cols
            thickness = max(1, height // 256)
            for edge in (
                (slice(rows.start, rows.start + thickness), cols),
                (slice(rows.stop - thickness, rows.stop), cols),
                (rows, slice(cols.start, cols.start + thickness)),
                (rows, slice(cols.stop - thickness, cols.stop)),
            ):
                view[edge] = red
        left = level * (width + gap)
        canvas[0, :, left : left + width] = view
    return canvas


class ZoomViews(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomViews",
            display_name=VIEWS,
            category=CATEGORY,
            description=(
                "Lays a zoom stack's images out in one row, widest view first, for Preview Image or Save Image; "
                "optionally outlines where the next level sits inside each view."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The zoom stack's images, e.g. from Render Zoom Stack."),
                zoom_input(),
                io.Int.Input("gap", default=8, min=0, max=256, tooltip="White space between views, in pixels."),
                io.Boolean.Input("outline", default=True, tooltip="Outline the next level's footprint in red."),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def execute(cls, images, zoom, gap, outline) -> io.NodeOutput:
        zoom.check_count(images.shape[0], VIEWS, "the image batch")
        row = lay_out_views(images, zoom.layout, gap, outline)
        # The frontend extension (web/zoom_targets.js) shows the row on the node and turns a click into a target.
        (saved,) = ui.ImageSaveHelper.save_images(row, "p10_zoom_views", io.FolderType.temp, cls, compress_level=1)
        _, height, width, _ = images.shape
        shown = {
            **saved,
            "levels": zoom.levels,
            "width": width,
            "height": height,
            "gap": gap,
            "loop": zoom.layout.cyclic,
        }
        return io.NodeOutput(row, ui={"zoom_views": [shown]})
