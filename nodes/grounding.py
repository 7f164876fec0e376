"""Zoom Photo Grounding: anchor a zoom level to a real photo (paper §4.4)."""

from comfy_api.latest import io

from ..sampler import Grounding
from .types import GroundingSocket


class ZoomPhotoGrounding(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomPhotoGrounding",
            display_name="Zoom Photo Grounding",
            category="powers_of_ten",
            description=(
                "Anchors one zoom level to a real photo: that level reproduces the photo, the levels around it "
                "agree with it, and deeper levels invent detail from their prompts. The photo must show the "
                "level's whole field of view at the zoom's exact size (resize or crop it first, e.g. with "
                "Upscale Image). Chain several for photos at several levels; connect the result to the Zoom "
                "KSampler or Zoom Guider."
            ),
            inputs=[
                io.Int.Input("level", default=0, min=0, max=63, tooltip="The level the photo shows (0: the widest)."),
                io.Image.Input("image", optional=True, tooltip="The photo; needs the VAE. Or connect latent instead."),
                io.Vae.Input("vae", optional=True, tooltip="The VAE that encodes the photo (the model's own VAE)."),
                io.Latent.Input("latent", optional=True, tooltip="The photo already encoded, instead of image + VAE."),
                io.Int.Input(
                    "steps",
                    default=5,
                    min=0,
                    max=100,
                    tooltip="Optimisation steps toward the photos per sampling step (the paper: 5). "
                    "Applies to every photo in the chain.",
                ),
                io.Float.Input(
                    "strength",
                    default=0.1,
                    min=0.0,
                    max=10.0,
                    step=0.01,
                    tooltip="How far each optimisation step may move the estimates (Adam learning rate; the paper: "
                    "0.1). Applies to every photo in the chain.",
                ),
                io.Float.Input(
                    "fraction",
                    default=0.8,
                    min=0.0,
                    max=1.0,
                    step=0.01,
                    tooltip="Share of the schedule, from the noisy end, that is grounded; the rest lets the "
                    "model refine detail freely. Applies to every photo in the chain.",
                ),
                GroundingSocket.Input("grounding", optional=True, tooltip="Photos of other levels to keep."),
            ],
            outputs=[GroundingSocket.Output(display_name="grounding")],
        )

    @classmethod
    def execute(cls, level, steps, strength, fraction, image=None, vae=None, latent=None, grounding=None):
        if latent is not None and image is None:
            samples = latent["samples"]
        elif image is not None and vae is not None and latent is None:
            samples = vae.encode(image[:, :, :, :3])
        else:
            raise ValueError("Zoom Photo Grounding: connect either image and vae, or latent")
        if samples.ndim != 4 or samples.shape[0] != 1:
            raise ValueError(f"Zoom Photo Grounding: needs one photo; got a batch of {samples.shape[0]}")
        photos = dict(grounding.photos) if grounding is not None else {}
        photos[level] = samples[0]
        return io.NodeOutput(Grounding(photos, steps=steps, learning_rate=strength, fraction=fraction))
