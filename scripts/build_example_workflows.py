#!/usr/bin/env python
"""Write the example workflows from one description each, in UI and API format.

    python scripts/build_example_workflows.py [--comfyui PATH]

Boots the ComfyUI checkout in-process (``COMFYUI_PATH`` or ``../ComfyUI``) to
read every node's real input and output sockets, then writes

- ``example_workflows/<name>.json``: UI format, what ComfyUI's template browser
  and drag-and-drop load;
- ``example_workflows/api/<name>.json``: API format, for ``/prompt`` and scripts.

The ``.jpg`` thumbnails beside them are screenshots of each graph in ComfyUI's
real frontend, taken by ``P10_UPDATE_THUMBNAILS=1 python -m pytest
tests/test_host_frontend.py``; run that after changing a workflow.

Widget values, links and node order come from the descriptions below, so the
two formats always describe the same graph (a host test checks that too).
"""

import argparse
import json
import logging
import pathlib
import sys
import uuid
from dataclasses import dataclass, field

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "example_workflows"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}

log = logging.getLogger("powers_of_ten.scripts")

CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
ZOOM_PROMPTS = (
    "a spiral galaxy in deep space\n"
    "a blue planet with swirling clouds, seen from orbit\n"
    "a coastal city at night seen from a satellite\n"
    "a busy street with people, seen from a rooftop\n"
    "a portrait of a woman's face\n"
    "a macro photograph of a human eye, detailed iris"
)
NEGATIVE = "blurry, low quality, text, watermark, frame"


@dataclass
class Node:
    """One node of a workflow description: ``inputs`` holds widget values and ``(node_id, output)`` links."""

    id: int
    type: str
    pos: tuple[int, int]
    inputs: dict = field(default_factory=dict)
    title: str | None = None


def zoom_front(prompts: str = ZOOM_PROMPTS, clip_node: int = 1) -> list[Node]:
    """Checkpoint, Empty Zoom Latent and Zoom Prompts: the start every example shares."""
    return [
        Node(1, "CheckpointLoaderSimple", (0, 0), {"ckpt_name": CHECKPOINT}),
        Node(2, "P10_EmptyZoomLatent", (0, 260), {"width": 512, "height": 512, "levels": 6, "zoom_factor": "2"}),
        Node(
            3,
            "P10_ZoomPrompts",
            (380, 0),
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


def zoom_back(samples: tuple[int, int], first_id: int, x: int) -> list[Node]:
    """VAE Decode, the pixel-space blend and render, the side-by-side preview and saved views."""
    decode, blend, render, views, preview, save = range(first_id, first_id + 6)
    return [
        Node(decode, "VAEDecode", (x, 0), {"samples": samples, "vae": (1, 2)}),
        Node(blend, "P10_BlendZoomStack", (x, 140), {"stack": (decode, 0), "zoom": (2, 1)}),
        Node(render, "P10_RenderZoomStack", (x, 280), {"stack": (blend, 0), "zoom": (2, 1)}),
        Node(views, "P10_ZoomViews", (x + 360, 0), {"images": (render, 0), "zoom": (2, 1), "gap": 8, "outline": True}),
        Node(preview, "PreviewImage", (x + 360, 220), {"images": (views, 0)}),
        Node(save, "SaveImage", (x + 720, 0), {"images": (render, 0), "filename_prefix": "powers_of_ten/level"}),
    ]


def ksampler(node_id: int, model: tuple[int, int], plan: tuple[int, int], pos: tuple[int, int], **extra) -> Node:
    return Node(
        node_id,
        "P10_ZoomKSampler",
        pos,
        extra
        | {
            "model": model,
            "zoom_plan": plan,
            "latent_image": (2, 0),
            "seed": 7,
            "steps": 50,
            "cfg": 7.0,
            "sampler_name": "euler_ancestral",
            "scheduler": "normal",
            "denoise": 1.0,
        },
    )


def text_zoom() -> list[Node]:
    return [*zoom_front(), ksampler(4, (1, 0), (3, 0), (760, 0)), *zoom_back((4, 0), 5, 1140)]


def zoom_guider_custom_sampler() -> list[Node]:
    return [
        *zoom_front(),
        Node(4, "P10_ZoomGuider", (760, 0), {"model": (1, 0), "zoom_plan": (3, 0), "cfg": 7.0}),
        Node(5, "KSamplerSelect", (760, 140), {"sampler_name": "euler_ancestral"}),
        Node(6, "BasicScheduler", (760, 260), {"model": (1, 0), "scheduler": "normal", "steps": 50, "denoise": 1.0}),
        Node(7, "RandomNoise", (760, 440), {"noise_seed": 7}),
        Node(
            8,
            "SamplerCustomAdvanced",
            (1140, 0),
            {"noise": (7, 0), "guider": (4, 0), "sampler": (5, 0), "sigmas": (6, 0), "latent_image": (2, 0)},
        ),
        *zoom_back((8, 0), 9, 1520),
    ]


def per_level_lora() -> list[Node]:
    return [
        *zoom_front(),
        Node(
            4,
            "LoraLoader",
            (380, 520),
            {
                "model": (1, 0),
                "clip": (1, 1),
                "lora_name": "macro_photography.safetensors",
                "strength_model": 0.8,
                "strength_clip": 0.8,
            },
            title="LoRA for the two closest levels",
        ),
        Node(
            5,
            "CLIPTextEncode",
            (760, 520),
            {"clip": (4, 1), "text": "macro photograph of a human eye, iris fibres, extreme detail"},
            title="Prompt for levels 4-5 (LoRA CLIP)",
        ),
        Node(
            6,
            "P10_ZoomLevelOverride",
            (760, 0),
            {"zoom_plan": (3, 0), "first_level": 4, "last_level": 5, "positive": (5, 0), "model": (4, 0)},
        ),
        ksampler(7, (1, 0), (6, 0), (1140, 0)),
        *zoom_back((7, 0), 8, 1520),
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
        Node(4, "LoadImage", (0, 520), {"image": "example.png"}),
        Node(
            5,
            "ImageScale",
            (380, 520),
            {"image": (4, 0), "upscale_method": "lanczos", "width": 512, "height": 512, "crop": "center"},
            title="Crop the photo to the zoom's size",
        ),
        Node(
            6,
            "P10_ZoomPhotoGrounding",
            (760, 520),
            {"level": 0, "image": (5, 0), "vae": (1, 2), "steps": 5, "strength": 0.1, "fraction": 0.8},
        ),
        ksampler(7, (1, 0), (3, 0), (1140, 0), grounding=(6, 0), vae=(1, 2), pixel_every=5, pixel_max_sigma=0.0),
        *zoom_back((7, 0), 8, 1520),
    ]


def zoom_video() -> list[Node]:
    """text_zoom, then a streamed mp4 of the zoom and a small ping-pong animated WebP preview."""
    return [
        *text_zoom(),
        Node(
            11,
            "P10_SaveZoomVideo",
            (1140, 460),
            {
                "images": (6, 0),
                "zoom": (2, 1),
                "width": 512,
                "height": 0,
                "fps": 30.0,
                "seconds_per_level": 2.0,
                "easing": "linear",
                "direction": "in",
                "hold_start": 15,
                "hold_end": 30,
                "first_level": 0,
                "last_level": -1,
                "format": "mp4 (h264)",
                "crf": 19,
                "filename_prefix": "powers_of_ten/zoom",
            },
        ),
        Node(
            12,
            "P10_ZoomVideoFrames",
            (1500, 460),
            {
                "images": (6, 0),
                "zoom": (2, 1),
                "width": 256,
                "height": 0,
                "fps": 12.0,
                "seconds_per_level": 1.0,
                "easing": "ease_in_out",
                "direction": "in_out",
                "hold_start": 6,
                "hold_end": 6,
                "first_level": 0,
                "last_level": -1,
            },
        ),
        Node(
            13,
            "SaveAnimatedWEBP",
            (1860, 460),
            {
                "images": (12, 0),
                "filename_prefix": "powers_of_ten/zoom_preview",
                "fps": 12.0,
                "lossless": False,
                "quality": 85,
                "method": "default",
            },
        ),
    ]


WORKFLOWS = {
    "text_zoom": text_zoom,
    "zoom_guider_custom_sampler": zoom_guider_custom_sampler,
    "per_level_lora": per_level_lora,
    "photo_zoom": photo_zoom,
    "zoom_video": zoom_video,
}


def node_definition(node_class) -> tuple[list[tuple[str, str, dict]], list[str], list[str]]:
    """``(inputs, output types, output names)``; inputs are ``(name, type, options)`` in display order."""
    types = node_class.INPUT_TYPES()
    inputs = []
    for section in ("required", "optional"):
        for name, spec in types.get(section, {}).items():
            kind = "COMBO" if isinstance(spec[0], list) else spec[0]
            inputs.append((name, kind, spec[1] if len(spec) > 1 and spec[1] else {}))
    outputs = list(node_class.RETURN_TYPES)
    names = list(getattr(node_class, "RETURN_NAMES", None) or outputs)
    return inputs, outputs, names


def is_widget(kind: str, options: dict) -> bool:
    return kind in WIDGET_TYPES and not options.get("forceInput")


def with_widget_defaults(nodes: list[Node], mappings: dict) -> list[Node]:
    """Every widget a description leaves out takes its default, so both formats list all of them."""
    for node in nodes:
        for name, kind, options in node_definition(mappings[node.type])[0]:
            if is_widget(kind, options) and name not in node.inputs and "default" in options:
                node.inputs[name] = options["default"]
    return nodes


def to_api(nodes: list[Node]) -> dict:
    prompt = {}
    for node in nodes:
        inputs = {k: [str(v[0]), v[1]] if isinstance(v, tuple) else v for k, v in node.inputs.items()}
        prompt[str(node.id)] = {"class_type": node.type, "inputs": inputs, "_meta": {"title": node.title or node.type}}
    return prompt


def to_ui(nodes: list[Node], mappings: dict) -> dict:
    """LiteGraph serialisation (version 0.4) as ComfyUI's frontend saves it."""
    definitions = {node.id: node_definition(mappings[node.type]) for node in nodes}
    links, ui_nodes = [], []
    outgoing: dict[tuple[int, int], list[int]] = {}
    for node in nodes:
        inputs, _, _ = definitions[node.id]
        sockets = [name for name, kind, options in inputs if not is_widget(kind, options)]
        for slot, name in enumerate(sockets):
            source = node.inputs.get(name)
            if isinstance(source, tuple):
                link_id = len(links) + 1
                output_type = definitions[source[0]][1][source[1]]
                links.append([link_id, source[0], source[1], node.id, slot, output_type])
                outgoing.setdefault(source, []).append(link_id)
    for order, node in enumerate(topological(nodes)):
        inputs, outputs, names = definitions[node.id]
        sockets, widgets = [], []
        for name, kind, options in inputs:
            if not is_widget(kind, options):
                link = next((link[0] for link in links if link[3] == node.id and link[4] == len(sockets)), None)
                sockets.append({"name": name, "type": kind, "link": link})
            elif name in node.inputs:
                widgets.append(node.inputs[name])
                if options.get("control_after_generate"):
                    widgets.append("fixed")
        ui_outputs = [
            {"name": names[slot], "type": kind, "links": outgoing.get((node.id, slot), []), "slot_index": slot}
            for slot, kind in enumerate(outputs)
        ]
        multiline = sum(1 for name, kind, options in inputs if options.get("multiline"))
        height = 46 + 22 * max(len(sockets), len(outputs)) + 26 * len(widgets) + 110 * multiline
        entry = {
            "id": node.id,
            "type": node.type,
            "pos": list(node.pos),
            "size": [340, height],
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": sockets,
            "outputs": ui_outputs,
            "properties": {"Node name for S&R": node.type},
            "widgets_values": widgets,
        }
        if node.title:
            entry["title"] = node.title
        ui_nodes.append(entry)
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "powers_of_ten/" + "-".join(n.type for n in nodes))),
        "revision": 0,
        "last_node_id": max(node.id for node in nodes),
        "last_link_id": len(links),
        "nodes": sorted(ui_nodes, key=lambda entry: entry["id"]),
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 0.8, "offset": [40, 40]}},
        "version": 0.4,
    }


def topological(nodes: list[Node]) -> list[Node]:
    done, order = set(), []
    by_id = {node.id: node for node in nodes}

    def visit(node: Node) -> None:
        if node.id in done:
            return
        for value in node.inputs.values():
            if isinstance(value, tuple):
                visit(by_id[value[0]])
        done.add(node.id)
        order.append(node)

    for node in nodes:
        visit(node)
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", help="ComfyUI checkout (default: COMFYUI_PATH or ../ComfyUI)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(REPO_ROOT / "tests" / "host"))
    import comfy_host

    host = comfy_host.boot_comfyui(args.comfyui)
    mappings = host.NODE_CLASS_MAPPINGS
    (OUT_DIR / "api").mkdir(parents=True, exist_ok=True)
    for name, describe in WORKFLOWS.items():
        nodes = with_widget_defaults(describe(), mappings)
        ui = to_ui(nodes, mappings)
        (OUT_DIR / f"{name}.json").write_text(json.dumps(ui, indent=2) + "\n")
        (OUT_DIR / "api" / f"{name}.json").write_text(json.dumps(to_api(nodes), indent=2) + "\n")
        log.info("wrote %s (%d nodes, %d links)", name, len(ui["nodes"]), len(ui["links"]))


if __name__ == "__main__":
    main()
