"""Photo-grounded zoom and pixel-space consolidation in a real ComfyUI, with the real TAESD and real photos."""

import logging

import pytest
import torch
from helpers import photo_stack, psnr, relative_seams, run_node, seam
from skimage import data

SIZE = 128


def as_image(array, size=SIZE):
    """A scikit-image photo as a ComfyUI IMAGE (1, size, size, 3): centre square, area-resized."""
    image = torch.from_numpy(array).float().div(255).movedim(-1, 0)[None]
    side = min(image.shape[-2:])
    top, left = (image.shape[-2] - side) // 2, (image.shape[-1] - side) // 2
    square = image[..., top : top + side, left : left + side]
    return torch.nn.functional.interpolate(square, size=(size, size), mode="area").movedim(1, -1)


class Zoom:
    """The tiny checkpoint (its VAE is the real TAESD) and a 3-level zoom of 128 px."""

    def __init__(self, comfy):
        self.comfy = comfy
        self.blending = comfy.pack.blending
        self.model, self.clip, self.vae = comfy.nodes.CheckpointLoaderSimple().load_checkpoint(comfy.checkpoint_name)
        self.latent, self.zoom = self.run("P10_EmptyZoomLatent", width=SIZE, height=SIZE, levels=3, zoom_factor="2")
        self.plan = self.run(
            "P10_ZoomPrompts",
            clip=self.clip,
            zoom=self.zoom,
            prompts="an astronaut\na face\nan eye",
            prefix="",
            suffix="",
            negative="blurry",
        )[0]

    def run(self, node_id, **inputs):
        return run_node(self.comfy, node_id, **inputs)

    def sample(self, steps, **extra):
        latent = self.run(
            "P10_ZoomKSampler",
            model=self.model,
            zoom_plan=self.plan,
            latent_image=self.latent,
            seed=1,
            steps=steps,
            cfg=7.0,
            sampler_name="euler_ancestral",
            scheduler="normal",
            denoise=1.0,
            **extra,
        )[0]
        return self.vae.decode(latent["samples"])

    def grounding(self, image, **settings):
        options = {"level": 0, "steps": 5, "strength": 0.1, "start_percent": 0.0, "end_percent": 0.8} | settings
        return self.run("P10_ZoomPhotoGrounding", image=image, vae=self.vae, **options)[0]


@pytest.fixture(scope="module")
def zoom(comfy):
    return Zoom(comfy)


def test_grounded_photo_comes_back_at_level_0(zoom):
    photo = as_image(data.astronaut())
    round_trip = psnr(zoom.vae.decode(zoom.vae.encode(photo)), photo)
    grounded = psnr(zoom.sample(20, grounding=zoom.grounding(photo, end_percent=1.0))[:1], photo)
    paper_default = psnr(zoom.sample(20, grounding=zoom.grounding(photo))[:1], photo)
    free = psnr(zoom.sample(20)[:1], photo)
    logging.getLogger(__name__).info(
        "round trip %.1f dB, grounded %.1f, paper's default %.1f, free %.1f", round_trip, grounded, paper_default, free
    )
    # Measured: round trip 19.3 dB, grounded over the whole schedule 18.4, ungrounded 9.9.
    assert grounded > round_trip - 1.5
    assert free < round_trip - 6
    # The paper leaves the last 20% to the model's prior; this random test model has none
    # worth keeping (measured 11.8 dB), so that only has to beat not grounding at all.
    assert paper_default > free + 1


def test_pixel_space_consolidation_makes_decoded_views_agree(zoom):
    latent_mode = seam(zoom.sample(8).movedim(-1, 1), measure="db", comfy=zoom.comfy)
    pixel_mode = seam(
        zoom.sample(8, vae=zoom.vae, pixel_start_percent=0.0).movedim(-1, 1), measure="db", comfy=zoom.comfy
    )
    logging.getLogger(__name__).info("decoded views agree: %.1f dB latent, %.1f dB pixel", latent_mode, pixel_mode)
    # Measured at 8 steps: 23.6 dB in latent space, 27.9 dB in pixel space (the paper's equal band weights pull
    # the raw decodes closer, 34 dB, at the cost of deep levels' detail; the final step makes the views agree).
    assert pixel_mode > latent_mode + 2.5


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_pixel_consolidation_beats_latent_rendering_on_real_photo_stacks(zoom, name):
    # A consistent 3-level stack cut from a real photo, encoded with TAESD level by level.
    photo = as_image(getattr(data, name)(), size=4 * SIZE).movedim(-1, 1)
    stack = torch.cat(
        [
            zoom.blending.box_downsample(
                photo[..., (4 * SIZE - c) // 2 : (4 * SIZE + c) // 2, (4 * SIZE - c) // 2 :][..., :c], c // SIZE
            )
            for c in (4 * SIZE, 2 * SIZE, SIZE)
        ]
    )
    assert seam(stack, measure="db", comfy=zoom.comfy) > 60

    def decode(latents):
        return zoom.vae.decode(latents).movedim(-1, 1)

    def encode(images):
        return zoom.vae.encode(images.movedim(1, -1))

    latents = encode(stack)
    latent_mode = seam(decode(zoom.blending.consolidate_estimates(latents, 2)), measure="db", comfy=zoom.comfy)
    pixel = zoom.blending.consolidate_through_codec(latents, 2, decode, encode)
    pixel_mode = seam(decode(pixel), measure="db", comfy=zoom.comfy)
    assert pixel_mode > latent_mode + 2


def test_grounding_photo_of_the_wrong_size_names_both_sizes(zoom):
    small = zoom.grounding(as_image(data.astronaut(), size=64))
    with pytest.raises(ValueError, match=r"Zoom Photo Grounding: .* level 0 is \(4, 8, 8\) .* \(4, 16, 16\)"):
        zoom.sample(1, grounding=small)


def test_grounding_needs_image_and_vae_or_a_latent(zoom):
    with pytest.raises(ValueError, match="connect either image and vae, or latent"):
        zoom.run("P10_ZoomPhotoGrounding", level=0, steps=5, strength=0.1, image=as_image(data.coffee()))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket"])
def test_final_step_makes_decoded_photo_views_seamless_and_nested(zoom, name):
    # A consistent 3-level stack of a real photo, through TAESD and back, then the examples' final step.
    truth = photo_stack(getattr(data, name)(), levels=3, size=SIZE)
    layout = zoom.blending.ZoomLayout(2)
    with torch.no_grad():
        decoded = zoom.vae.decode(zoom.vae.encode(truth.movedim(1, -1)))

    def final_step(images):
        blended = zoom.run("P10_BlendZoomStack", stack=images, zoom=zoom.zoom)[0]
        return zoom.run("P10_RenderZoomStack", stack=blended, zoom=zoom.zoom)[0].movedim(-1, 1)

    assert torch.allclose(final_step(truth.movedim(1, -1)), truth, atol=1e-5)
    views = final_step(decoded)
    window = layout.child_window(SIZE, SIZE, 0)
    footprints = views[:-1, :, window.rows, window.cols]
    assert torch.allclose(footprints, zoom.blending.box_downsample(views[1:], 2), atol=1e-6)
    round_trip, final = psnr(decoded.movedim(-1, 1), truth), psnr(views, truth)
    blended = zoom.blending.blend(decoded.movedim(-1, 1), layout)
    pasted = relative_seams(zoom.blending.render_image(blended, layout, ring_width=0), truth, layout)
    seams = relative_seams(views, truth, layout)
    logging.getLogger(__name__).info(
        "%s: PSNR %.1f -> %.1f dB; seams median %.2f worst %.2f, hard paste %.2f worst %.2f",
        name,
        round_trip,
        final,
        seams.median(),
        seams.max(),
        pasted.median(),
        pasted.max(),
    )
    assert final > round_trip - 0.5
    assert seams.median() < 1.1 < 1.3 < pasted.median()


def test_the_default_path_keeps_every_photo_border_near_the_photos_own(zoom):
    # Issue 11's target on the photo stacks, at test scale: the end of the default workflow (latent-space
    # consolidation, VAE Decode, Blend Zoom Stack, Render Zoom Stack) over the borders of three photos' stacks.
    # Measured: median 0.75, worst 2.61 (coffee); per photo worst 2.20 / 2.61 / 1.94 (2.39 / 2.75 / 1.96 before the
    # deepest level kept at least its own estimate's energy; keeping exactly its own gave 3.15 for coffee).
    layout = zoom.blending.ZoomLayout(2)
    relative = []
    for name in ("astronaut", "coffee", "rocket"):
        truth = photo_stack(getattr(data, name)(), levels=3, size=SIZE)
        with torch.no_grad():
            latents = zoom.vae.encode(truth.movedim(1, -1))
            decoded = zoom.vae.decode(zoom.blending.consolidate_estimates(latents, layout))
        blended = zoom.run("P10_BlendZoomStack", stack=decoded, zoom=zoom.zoom)[0]
        views = zoom.run("P10_RenderZoomStack", stack=blended, zoom=zoom.zoom)[0].movedim(-1, 1)
        relative.append(relative_seams(views, truth, layout))
    relative = torch.cat(relative)
    logging.getLogger(__name__).info("default path: median %.2f, worst %.2f", relative.median(), relative.max())
    assert relative.median() < 1.1 and relative.max() < 3
