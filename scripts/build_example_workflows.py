#!/usr/bin/env python
"""Build the example workflows in ComfyUI's real frontend, from one description each.

    python scripts/build_example_workflows.py [NAME ...]

Starts a ComfyUI server from the checkout (``COMFYUI_PATH`` or ``../ComfyUI``),
opens its frontend in headless Chromium, and for each example lets the frontend
build the graph as a user would (create the nodes, set their widgets, connect
them) and write it out:

- ``example_workflows/<name>.json``: UI format, what the frontend saves
  (``graph.serialize()``) plus the workflow's model download links;
- ``example_workflows/api/<name>.json``: API format, what the frontend queues
  (``graphToPrompt()``), for ``/prompt`` and scripts;
- ``example_workflows/<name>.jpg``: the thumbnail, a screenshot of the graph.

The descriptions below hold only what is ours: node types, widget values that
differ from the defaults, links, columns, titles and model download links
(``properties.models``, which the frontend's missing-models dialog reads). The
file formats are the frontend's. Needs ``.ci/install_browser.sh``.
"""

import argparse
import json
import logging
import pathlib
import sys
import tempfile
from dataclasses import dataclass, field

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "example_workflows"

log = logging.getLogger("powers_of_ten.scripts")

SD15_CHECKPOINT = {
    "name": "v1-5-pruned-emaonly-fp16.safetensors",
    "url": "https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/"
    "v1-5-pruned-emaonly-fp16.safetensors",
    "directory": "checkpoints",
}
SDXL_CHECKPOINT = {
    "name": "sd_xl_base_1.0.safetensors",
    "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
    "directory": "checkpoints",
}
FLUX_CHECKPOINT = {
    "name": "flux1-dev-fp8.safetensors",
    "url": "https://huggingface.co/Comfy-Org/flux1-dev/resolve/main/flux1-dev-fp8.safetensors",
    "directory": "checkpoints",
}


def split_files(repo: str, unet: str, clip: str, vae: str) -> dict[str, dict]:
    """The diffusion model, text encoder and VAE of a family ComfyUI ships as split files (Comfy-Org's repackages)."""
    base = f"https://huggingface.co/Comfy-Org/{repo}/resolve/main/split_files"
    return {
        "unet": {"name": unet, "url": f"{base}/diffusion_models/{unet}", "directory": "diffusion_models"},
        "clip": {"name": clip, "url": f"{base}/text_encoders/{clip}", "directory": "text_encoders"},
        "vae": {"name": vae, "url": f"{base}/vae/{vae}", "directory": "vae"},
    }


ZIMAGE_FILES = split_files("z_image_turbo", "z_image_turbo_bf16.safetensors", "qwen_3_4b.safetensors", "ae.safetensors")
QWEN_IMAGE_FILES = split_files(
    "Qwen-Image_ComfyUI",
    "qwen_image_fp8_e4m3fn.safetensors",
    "qwen_2.5_vl_7b_fp8_scaled.safetensors",
    "qwen_image_vae.safetensors",
)
FLUX2_FILES = split_files(
    "flux2-dev", "flux2_dev_fp8mixed.safetensors", "mistral_3_small_flux2_fp8.safetensors", "flux2-vae.safetensors"
)
DETAIL_LORA = {
    "name": "add_detail.safetensors",
    "url": "https://civitai.com/api/download/models/62833",
    "directory": "loras",
}
ZOOM_PROMPTS = (
    "a spiral galaxy in deep space\n"
    "a blue planet with swirling clouds, seen from orbit\n"
    "a coastal city at night seen from a satellite\n"
    "a busy street with people, seen from a rooftop\n"
    "a portrait of a woman's face\n"
    "a macro photograph of a human eye, detailed iris"
)
NEGATIVE = "blurry, low quality, text, watermark, frame"
MUSIC = "zoom_music.mp3"
"""The song directed_zoom's Load Audio names: the user uploads their own."""


@dataclass
class Node:
    """One node of an example: widget values that differ from the defaults and ``(node_id, output)`` links.

    ``inputs`` mixes both: tuples are links, anything else a widget value.
    ``column`` places the node; the frontend's own sizes stack each column.
    """

    id: int
    type: str
    column: int
    inputs: dict = field(default_factory=dict)
    title: str | None = None
    models: list[dict] = field(default_factory=list)

    def description(self) -> dict:
        """What the frontend's builder takes (``tests/host/frontend.py``)."""
        links = {name: list(value) for name, value in self.inputs.items() if isinstance(value, tuple)}
        widgets = {name: value for name, value in self.inputs.items() if not isinstance(value, tuple)}
        if self.type in SEEDED:
            widgets["control_after_generate"] = "fixed"
        return {
            "id": self.id,
            "type": self.type,
            "column": self.column,
            "title": self.title,
            "widgets": widgets,
            "links": links,
            "models": self.models,
        }


# Nodes whose seed widget carries a control_after_generate companion: examples keep their seed.
SEEDED = {"P10_ZoomKSampler", "RandomNoise"}


def zoom_front(
    prompts: str = ZOOM_PROMPTS, clip_node: int = 1, checkpoint: dict = SD15_CHECKPOINT, size: int = 512
) -> list[Node]:
    """Checkpoint, Empty Zoom Latent (channels from the model) and Zoom Prompts: the start every example shares."""
    return [
        Node(1, "CheckpointLoaderSimple", 0, {"ckpt_name": checkpoint["name"]}, models=[checkpoint]),
        Node(
            2,
            "P10_EmptyZoomLatent",
            0,
            {"width": size, "height": size, "levels": 6, "zoom_factor": "2", "model": (1, 0)},
        ),
        Node(
            3,
            "P10_ZoomPrompts",
            1,
            {
                "clip": (clip_node, 1),
                "zoom": (2, 1),
                "prompts": prompts,
                "prefix": "",
                "suffix": ", highly detailed photograph",
                "negative": NEGATIVE,
            },
        ),
    ]


def split_front(
    files: dict[str, dict], clip_type: str, size: int, shift: float | None, negative: str = NEGATIVE
) -> list[Node]:
    """zoom_front for a family shipped as split files: Load Diffusion Model (node 1), Load CLIP (20), Load VAE (21)
    and, with a ``shift``, the family's flow shift (ModelSamplingAuraFlow, 22), the model the zoom then uses."""
    model = (22, 0) if shift is not None else (1, 0)
    front = zoom_front(size=size)[1:]
    front[0].inputs["model"] = model
    front[1].inputs |= {"clip": (20, 0), "negative": negative}
    shifted = [Node(22, "ModelSamplingAuraFlow", 0, {"model": (1, 0), "shift": shift})] if shift is not None else []
    return [
        Node(1, "UNETLoader", 0, {"unet_name": files["unet"]["name"]}, models=[files["unet"]]),
        Node(20, "CLIPLoader", 0, {"clip_name": files["clip"]["name"], "type": clip_type}, models=[files["clip"]]),
        Node(21, "VAELoader", 0, {"vae_name": files["vae"]["name"]}, models=[files["vae"]]),
        *shifted,
        *front,
    ]


def zoom_back(
    samples: tuple[int, int],
    first_id: int,
    column: int,
    zoom: tuple[int, int] = (2, 1),
    decoder: str = "VAEDecode",
    vae: tuple[int, int] = (1, 2),
) -> list[Node]:
    """VAE Decode (or ``decoder``), the pixel-space blend and render, the side-by-side preview and saved views."""
    decode, blend, render, views, preview, save = range(first_id, first_id + 6)
    return [
        Node(decode, decoder, column, {"samples": samples, "vae": vae}),
        Node(blend, "P10_BlendZoomStack", column, {"stack": (decode, 0), "zoom": zoom}),
        Node(render, "P10_RenderZoomStack", column, {"stack": (blend, 0), "zoom": zoom}),
        Node(views, "P10_ZoomViews", column + 1, {"images": (render, 0), "zoom": zoom}),
        Node(preview, "PreviewImage", column + 1, {"images": (views, 0)}),
        Node(save, "SaveImage", column + 2, {"images": (render, 0), "filename_prefix": "powers_of_ten/level"}),
    ]


def ksampler(node_id: int, model: tuple[int, int], plan: tuple[int, int], column: int, **extra) -> Node:
    inputs = {"model": model, "zoom_plan": plan, "latent_image": (2, 0), "seed": 7}
    return Node(node_id, "P10_ZoomKSampler", column, inputs | extra)


def text_zoom() -> list[Node]:
    return [*zoom_front(), ksampler(4, (1, 0), (3, 0), 2), *zoom_back((4, 0), 5, 3)]


def zoom_guider_custom_sampler() -> list[Node]:
    return [
        *zoom_front(),
        Node(4, "P10_ZoomGuider", 2, {"model": (1, 0), "zoom_plan": (3, 0)}),
        Node(5, "KSamplerSelect", 2, {"sampler_name": "euler_ancestral"}),
        Node(6, "BasicScheduler", 2, {"model": (1, 0), "scheduler": "karras", "steps": 30}),
        Node(7, "RandomNoise", 2, {"noise_seed": 7}),
        Node(
            8,
            "SamplerCustomAdvanced",
            3,
            {"noise": (7, 0), "guider": (4, 0), "sampler": (5, 0), "sigmas": (6, 0), "latent_image": (2, 0)},
        ),
        *zoom_back((8, 0), 9, 4),
    ]


def per_level_lora() -> list[Node]:
    return [
        *zoom_front(),
        Node(
            4,
            "LoraLoader",
            1,
            {
                "model": (1, 0),
                "clip": (1, 1),
                "lora_name": DETAIL_LORA["name"],
                "strength_model": 0.8,
                "strength_clip": 0.8,
            },
            title="Detail LoRA for the two closest levels",
            models=[DETAIL_LORA],
        ),
        Node(
            5,
            "CLIPTextEncode",
            2,
            {"clip": (4, 1), "text": "macro photograph of a human eye, iris fibres, extreme detail"},
            title="Prompt for levels 4-5 (LoRA CLIP)",
        ),
        Node(
            6,
            "P10_ZoomLevelOverride",
            2,
            {"zoom_plan": (3, 0), "first_level": 4, "last_level": -1, "positive": (5, 0), "model": (4, 0)},
        ),
        ksampler(7, (1, 0), (6, 0), 3),
        *zoom_back((7, 0), 8, 4),
    ]


PHOTO_PROMPTS = (
    "a child's crayon drawing of a smiling girl in a pink dress on a green hill under a blue sky\n"
    "a child's drawing of a girl in a pink dress, close-up\n"
    "pink dress drawn with crayon, close-up of the fabric\n"
    "close-up of pink crayon strokes on white paper\n"
    "macro photograph of paper fibres coated in pink crayon wax"
)


def photo_zoom() -> list[Node]:
    """Level 0 anchored to a photo (ComfyUI's own example.png), the deeper levels invented from prompts."""
    front = zoom_front(PHOTO_PROMPTS)
    front[1].inputs["levels"] = 5
    return [
        *front,
        Node(4, "LoadImage", 0, {"image": "example.png"}),
        Node(
            5,
            "ImageScale",
            1,
            {"image": (4, 0), "upscale_method": "lanczos", "width": 512, "height": 512, "crop": "center"},
            title="Crop the photo to the zoom's size",
        ),
        Node(6, "P10_ZoomPhotoGrounding", 2, {"level": 0, "image": (5, 0), "vae": (1, 2)}),
        ksampler(7, (1, 0), (3, 0), 3, grounding=(6, 0)),
        *zoom_back((7, 0), 8, 4),
    ]


def sdxl_zoom() -> list[Node]:
    """text_zoom on SDXL at its native 1024 px."""
    return [
        *zoom_front(checkpoint=SDXL_CHECKPOINT, size=1024),
        ksampler(4, (1, 0), (3, 0), 2, cfg=6.0),
        *zoom_back((4, 0), 5, 3),
    ]


def flux_zoom() -> list[Node]:
    """text_zoom on Flux-dev: 16-channel latents from the model, guidance per level, cfg 1, Euler."""
    front = zoom_front(checkpoint=FLUX_CHECKPOINT, size=1024)
    front[2].inputs["negative"] = ""
    return [
        *front,
        Node(4, "P10_ZoomFluxGuidance", 1, {"zoom_plan": (3, 0), "guidance": 3.5}),
        ksampler(5, (1, 0), (4, 0), 2, cfg=1.0, sampler_name="euler", scheduler="simple", steps=20),
        *zoom_back((5, 0), 6, 3),
    ]


def zimage_zoom() -> list[Node]:
    """text_zoom on Z-Image-Turbo: split files, shift 3, cfg 1 (no negative), res_multistep, 9 steps, 1024 px."""
    return [
        *split_front(ZIMAGE_FILES, "lumina2", 1024, 3.0, negative=""),
        ksampler(4, (22, 0), (3, 0), 2, cfg=1.0, sampler_name="res_multistep", scheduler="simple", steps=9),
        *zoom_back((4, 0), 5, 3, vae=(21, 0)),
    ]


def qwen_image_zoom() -> list[Node]:
    """text_zoom on Qwen-Image: split files, shift 3.1, cfg 2.5, euler, simple, 20 steps, 1024 px (5-D latents)."""
    return [
        *split_front(QWEN_IMAGE_FILES, "qwen_image", 1024, 3.1),
        ksampler(4, (22, 0), (3, 0), 2, cfg=2.5, sampler_name="euler", scheduler="simple", steps=20),
        *zoom_back((4, 0), 5, 3, vae=(21, 0)),
    ]


def flux2_zoom() -> list[Node]:
    """text_zoom on Flux.2-dev: split files, 128-channel latents at 1/16 from the model, guidance 4 per level, cfg 1.

    The model keeps Flux.2's own flow schedule (shift 2.02 in ComfyUI's Flux2 config).
    """
    return [
        *split_front(FLUX2_FILES, "flux2", 1024, None, negative=""),
        Node(4, "P10_ZoomFluxGuidance", 1, {"zoom_plan": (3, 0), "guidance": 4.0}),
        ksampler(5, (1, 0), (4, 0), 2, cfg=1.0, sampler_name="euler", scheduler="simple", steps=20),
        *zoom_back((5, 0), 6, 3, vae=(21, 0)),
    ]


def webp_preview(node_id: int, images: tuple[int, int], column: int, prefix: str, **frames) -> list[Node]:
    """Zoom Video Frames (256 px, 12 fps, a second per level, and ``frames``) into Save Animated WEBP."""
    inputs = {"images": images, "zoom": (2, 1), "width": 256, "fps": 12.0, "seconds_per_level": 1.0} | frames
    return [
        Node(node_id, "P10_ZoomVideoFrames", column, inputs),
        Node(
            node_id + 1,
            "SaveAnimatedWEBP",
            column + 1,
            {"images": (node_id, 0), "filename_prefix": prefix, "fps": inputs["fps"], "quality": 85},
        ),
    ]


def zoom_video() -> list[Node]:
    """text_zoom, then a streamed mp4 of the zoom and a small ping-pong animated WebP preview."""
    return [
        *text_zoom(),
        Node(11, "P10_SaveZoomVideo", 6, {"images": (6, 0), "zoom": (2, 1), "hold_start": 15, "hold_end": 30}),
        *webp_preview(
            12,
            (6, 0),
            6,
            "powers_of_ten/zoom_preview",
            easing="ease_in_out",
            direction="in_out",
            hold_start=6,
            hold_end=6,
        ),
    ]


DEEP_PROMPTS = (
    (
        "the cosmic web, filaments of galaxy clusters\n"
        "a cluster of galaxies in deep space\n"
        "a spiral galaxy, face on\n"
        "a spiral arm of a galaxy, full of stars\n"
        "a bright open star cluster\n"
        "a sun-like star with its planets\n"
        "a blue planet with white clouds in space\n"
        "the earth from orbit, oceans and clouds"
    ),
    (
        "a continent seen from orbit\n"
        "a coastline with a large city, satellite photograph\n"
        "a city seen from an airplane\n"
        "a city district with a park, aerial photograph\n"
        "a park with trees and lawns seen from above\n"
        "a person lying on the grass, seen from above\n"
        "a hand resting on the grass\n"
        "close-up of the skin on the back of a hand"
    ),
    (
        "macro photograph of skin pores\n"
        "microscope image of skin cells\n"
        "a single skin cell under a microscope\n"
        "the nucleus of a cell\n"
        "chromosomes inside a cell nucleus\n"
        "a DNA double helix\n"
        "a model of DNA molecules\n"
        "atoms of a molecule, scientific illustration"
    ),
)


def deep_zoom() -> list[Node]:
    """From the cosmic web to atoms: 8 levels at zoom factor 4, extended deeper twice to 24 (4^24 ~ 10^14)."""
    front = zoom_front(DEEP_PROMPTS[0])
    front[1].inputs |= {"levels": 8, "zoom_factor": "4"}
    nodes = [*front, ksampler(4, (1, 0), (3, 0), 2)]
    latent, zoom, column = (4, 0), (2, 1), 3
    for part, prompts in enumerate(DEEP_PROMPTS[1:]):
        extend, plan, sampler = 5 + 3 * part, 6 + 3 * part, 7 + 3 * part
        nodes += [
            Node(
                extend, "P10_ExtendZoom", column, {"latent": latent, "zoom": zoom, "levels": 8, "direction": "deeper"}
            ),
            Node(
                plan,
                "P10_ZoomPrompts",
                column,
                {"clip": (1, 1), "zoom": (extend, 1), "prompts": prompts, "prefix": "", "negative": NEGATIVE},
                title=f"Prompts for levels {8 * (part + 1)}-{8 * (part + 2) - 1}",
            ),
            Node(
                sampler,
                "P10_ZoomKSampler",
                column + 1,
                {"model": (1, 0), "zoom_plan": (plan, 0), "latent_image": (extend, 0), "seed": 7},
            ),
        ]
        latent, zoom, column = (sampler, 0), (extend, 1), column + 2
    back = zoom_back(latent, 11, column, zoom=zoom)
    video = Node(17, "P10_SaveZoomVideo", column + 2, {"images": (13, 0), "zoom": zoom, "seconds_per_level": 1.5})
    return [*nodes, *back, video]


LOOP_PROMPTS = (
    "a spiral galaxy in deep space\n"
    "the bright core of a spiral galaxy, dense stars\n"
    "a glowing nebula of gas and dust\n"
    "the swirling clouds of a gas giant planet\n"
    "a whirlpool in a dark ocean, seen from above\n"
    "a swirl of milk in a cup of black coffee, shaped like a spiral galaxy"
)


def loop_zoom() -> list[Node]:
    """A looping zoom: the coffee swirl at the deepest level holds the galaxy of level 0; its video repeats."""
    front = zoom_front(LOOP_PROMPTS)
    front[1].inputs["loop"] = True
    return [
        *front,
        ksampler(4, (1, 0), (3, 0), 2),
        *zoom_back((4, 0), 5, 3),
        Node(11, "P10_SaveZoomVideo", 6, {"images": (7, 0), "zoom": (2, 1), "loop": True}),
        *webp_preview(12, (7, 0), 6, "powers_of_ten/loop_preview", loop=True),
    ]


OFFCENTRE_PROMPTS = (
    "a harbour town on a rocky coast at dusk, a lighthouse on the cliffs at the right\n"
    "a red and white lighthouse on dark cliffs above the sea at dusk\n"
    "the top of a lighthouse, its lantern room glowing against the evening sky\n"
    "a window of a lighthouse lantern room, warm light inside\n"
    "a ginger cat sitting behind the window glass, looking out\n"
    "close-up of a cat's green eye"
)
OFFCENTRE_TARGETS = "0.82, 0.45\n0.5, 0.22\n0.4, 0.6\n0.55, 0.5\n0.38, 0.32"
"""Where each level sits in the one before: the lighthouse, its lantern room, a window, the cat, its eye."""


def offcentre_zoom() -> list[Node]:
    """A zoom toward points away from the centre: one target per level; the video's camera follows them."""
    front = zoom_front(OFFCENTRE_PROMPTS)
    front[1].inputs["targets"] = OFFCENTRE_TARGETS
    return [
        *front,
        ksampler(4, (1, 0), (3, 0), 2),
        *zoom_back((4, 0), 5, 3),
        Node(11, "P10_SaveZoomVideo", 6, {"images": (7, 0), "zoom": (2, 1), "hold_start": 15, "hold_end": 30}),
    ]


def hires_zoom() -> list[Node]:
    """text_zoom at 512 px, upscaled to 1024 px and refined jointly, decoded in tiles: square 1080p frames."""
    return [
        *text_zoom()[:4],
        Node(5, "P10_UpscaleZoomLatent", 3, {"latent": (4, 0), "zoom": (2, 1), "scale_by": "2"}),
        Node(
            6,
            "P10_ZoomKSampler",
            3,
            {"model": (1, 0), "zoom_plan": (3, 0), "latent_image": (5, 0), "seed": 7, "denoise": 0.5, "max_batch": 2},
            title="Refine at 1024 px, two levels per model call",
        ),
        *zoom_back((6, 0), 7, 4, decoder="VAEDecodeTiled"),
        Node(13, "P10_SaveZoomVideo", 7, {"images": (9, 0), "zoom": (2, 1), "width": 1080, "hold_end": 30}),
    ]


def directed_zoom() -> list[Node]:
    """text_zoom's video, directed: a time per level, a pause on the city and on the face, a hold at the end,
    and a turn that speeds up from the planet to the street and turns back on the way to the face; and a
    second video cut to a song, every level crossing on a beat, with the song as its soundtrack."""
    timing = {
        "level_seconds": "3, 2, 2, 1.5, 4",
        "holds": "2: 2\n4: 1.5",
        "hold_end": 30,
        "level_rotation": "0, 30, 60, 45, -20",
    }
    music = {"level_seconds": (13, 0), "audio": (12, 0), "hold_end": 30, "rotation": 15.0}
    return [
        *text_zoom(),
        Node(11, "P10_SaveZoomVideo", 6, {"images": (7, 0), "zoom": (2, 1)} | timing),
        Node(12, "LoadAudio", 5, {"audio": MUSIC}, title="Your song"),
        Node(13, "P10_ZoomBeats", 5, {"audio": (12, 0), "zoom": (2, 1), "min_seconds": 1.5}),
        Node(
            14,
            "P10_SaveZoomVideo",
            6,
            {"images": (7, 0), "zoom": (2, 1), "filename_prefix": "powers_of_ten/beats"} | music,
            title="Save Zoom Video (on the beats)",
        ),
    ]


WORKFLOWS = {
    "text_zoom": text_zoom,
    "zoom_guider_custom_sampler": zoom_guider_custom_sampler,
    "per_level_lora": per_level_lora,
    "photo_zoom": photo_zoom,
    "zoom_video": zoom_video,
    "sdxl_zoom": sdxl_zoom,
    "flux_zoom": flux_zoom,
    "zimage_zoom": zimage_zoom,
    "qwen_image_zoom": qwen_image_zoom,
    "flux2_zoom": flux2_zoom,
    "deep_zoom": deep_zoom,
    "loop_zoom": loop_zoom,
    "offcentre_zoom": offcentre_zoom,
    "hires_zoom": hires_zoom,
    "directed_zoom": directed_zoom,
}
WORKFLOW_MODELS: dict[str, list[dict]] = {}
"""Model links of a whole workflow, for files no widget names directly (the TAESD halves behind Load VAE's
``taesd``): the frontend's missing-models dialog reads a workflow's top-level ``models`` as well."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"examples to build (default: all of {', '.join(WORKFLOWS)})")
    args = parser.parse_args()
    unknown = set(args.names) - set(WORKFLOWS)
    if unknown:
        parser.error(f"no such example: {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from host.frontend import open_frontend, prepare_user, provide_named_files, unavailable
    from host.server import ComfyServer

    reason = unavailable()
    if reason:
        raise SystemExit(reason)
    (OUT_DIR / "api").mkdir(parents=True, exist_ok=True)
    names = args.names or list(WORKFLOWS)
    server = ComfyServer()
    nodes = [node for name in names for node in WORKFLOWS[name]()]
    models = [model for node in nodes for model in node.models] + [m for n in names for m in WORKFLOW_MODELS.get(n, [])]
    photos = [node.inputs["image"] for node in nodes if node.type == "LoadImage"]
    tracks = [node.inputs["audio"] for node in nodes if node.type == "LoadAudio"]
    provide_named_files(server.layout, models, photos, tracks)
    prepare_user(server.layout.user_dir / "default")
    with server, tempfile.TemporaryDirectory() as profile:
        with open_frontend(server, pathlib.Path(profile)) as frontend:
            for name in names:
                frontend.clear()
                workflow, prompt = frontend.build([node.description() for node in WORKFLOWS[name]()])
                if WORKFLOW_MODELS.get(name):
                    workflow["models"] = WORKFLOW_MODELS[name]
                (OUT_DIR / f"{name}.json").write_text(json.dumps(workflow, indent=2) + "\n")
                (OUT_DIR / "api" / f"{name}.json").write_text(json.dumps(prompt, indent=2) + "\n")
                frontend.screenshot(OUT_DIR / f"{name}.jpg")
                if frontend.errors:
                    raise SystemExit(f"{name}: the frontend reported {frontend.errors}")
                log.info("wrote %s (%d nodes, %d links)", name, len(workflow["nodes"]), len(workflow["links"]))


if __name__ == "__main__":
    main()
