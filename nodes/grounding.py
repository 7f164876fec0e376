"""Zoom Photo Grounding: anchor a zoom level to a real photo (paper §4.4)."""

from comfy_api.latest import io

from .schema import CATEGORY, check_percent_range, level_input, percent_input, schema_error
from .types import GroundingSocket, PhotoGrounding

NODE = "Zoom Photo Grounding"


def photo_latent(image, vae, latent):
    """The one photo, as a VAE latent ``(C, h, w)``: given as a LATENT, or an IMAGE encoded with the VAE."""
    if latent is not None and image is None:
        samples = latent["samples"]
    elif image is not None and vae is not None and latent is None:
        samples = vae.encode(image[:, :, :, :3])
    else:
        raise ValueError(f"{NODE}: connect either image and vae, or latent")
    if samples.ndim != 4 or samples.shape[0] != 1:
        raise ValueError(f"{NODE}: needs one photo; got a batch of {samples.shape[0]}")
    return samples[0]


class ZoomPhotoGrounding(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomPhotoGrounding",
            display_name=NODE,
            category=CATEGORY,
            description=(
                "Anchors one zoom level to a real photo: that level reproduces the photo, the levels around it "
                "agree with it, and deeper levels invent detail from their prompts. The photo must show the "
                "level's whole field of view at the zoom's exact size (resize or crop it first, e.g. with "
                "Upscale Image). Chain several for photos at several levels; connect the result to the Zoom "
                "KSampler or Zoom Guider."
            ),
            inputs=[
                level_input("level", "The level the photo shows (0: the widest)."),
                io.Image.Input("image", optional=True, tooltip="The photo; needs the VAE. Or connect latent instead."),
                io.Vae.Input("vae", optional=True, tooltip="The VAE that encodes the photo (the model's own VAE)."),
                io.Latent.Input("latent", optional=True, tooltip="The photo already encoded, instead of image + VAE."),
                io.Int.Input(
                    "steps",
                    default=PhotoGrounding.steps,
                    min=0,
                    max=100,
                    tooltip="Optimisation steps toward the photos per sampling step (the paper: 5). "
                    "Applies to every photo in the chain.",
                ),
                io.Float.Input(
                    "strength",
                    default=PhotoGrounding.strength,
                    min=0.0,
                    max=10.0,
                    step=0.01,
                    tooltip="How far each optimisation step may move the estimates (Adam learning rate; the paper: "
                    "0.1). Applies to every photo in the chain.",
                ),
                percent_input(
                    "start_percent",
                    PhotoGrounding.when.start,
                    "Where in the schedule grounding starts (0: the noisy start). Applies to every photo in the chain.",
                ),
                percent_input(
                    "end_percent",
                    PhotoGrounding.when.end,
                    "Where in the schedule grounding ends; after it the model refines detail freely (the paper "
                    "grounds most but not all of the schedule). Applies to every photo in the chain.",
                ),
                GroundingSocket.Input("grounding", optional=True, tooltip="Photos of other levels to keep."),
            ],
            outputs=[GroundingSocket.Output(display_name="grounding")],
        )

    @classmethod
    def validate_inputs(cls, start_percent=None, end_percent=None) -> bool | str:
        return (
            schema_error(cls, start_percent=start_percent, end_percent=end_percent)
            or check_percent_range(NODE, "", start_percent, end_percent)
            or True
        )

    @classmethod
    def execute(
        cls,
        level,
        steps,
        strength,
        start_percent=None,
        end_percent=None,
        image=None,
        vae=None,
        latent=None,
        grounding=None,
    ) -> io.NodeOutput:
        photos = dict(grounding.photos) if grounding is not None else {}
        photos[level] = photo_latent(image, vae, latent)
        when = PhotoGrounding.when.given(start_percent, end_percent)
        return io.NodeOutput(PhotoGrounding(photos, steps=steps, strength=strength, when=when))
