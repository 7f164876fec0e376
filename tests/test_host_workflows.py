"""The example workflows in a real ComfyUI: they load, type-check, run in-process and over HTTP."""

import copy
import json
import pathlib

import pytest
import torch

from powers_of_ten.blending import overlap_difference

WORKFLOWS = pathlib.Path(__file__).resolve().parents[1] / "example_workflows"
NAMES = sorted(path.stem for path in WORKFLOWS.glob("*.json"))
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
TINY_LORA = "tiny_sd15_lora.safetensors"
PHOTO = "astronaut.png"


def test_the_promised_workflows_exist():
    assert {"text_zoom", "zoom_guider_custom_sampler", "per_level_lora", "photo_zoom"} <= set(NAMES)
    for name in NAMES:
        assert (WORKFLOWS / f"{name}.jpg").is_file(), f"{name} has no thumbnail"
        assert (WORKFLOWS / "api" / f"{name}.json").is_file(), f"{name} has no API-format copy"


def node_inputs(node_class):
    """``(name, type, options)`` in the order the frontend lays them out."""
    types = node_class.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, spec in types.get(section, {}).items():
            kind = "COMBO" if isinstance(spec[0], list) else spec[0]
            yield name, kind, spec[1] if len(spec) > 1 and spec[1] else {}


def ui_to_api(workflow, mappings):
    """What the frontend queues for a UI-format workflow: each socket's link, each widget's value."""
    from comfy_execution.validation import validate_node_input

    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        node_class = mappings[node["type"]]
        sockets = {socket["name"]: socket for socket in node["inputs"]}
        widgets = iter(node["widgets_values"])
        inputs = {}
        for name, kind, options in node_inputs(node_class):
            if kind in WIDGET_TYPES and not options.get("forceInput"):
                inputs[name] = next(widgets)
                if options.get("control_after_generate"):
                    assert next(widgets) in ("fixed", "increment", "decrement", "randomize")
            elif sockets.get(name, {}).get("link") is not None:
                link = links[sockets[name]["link"]]
                assert link[3] == node["id"], f"link {link[0]} does not end at node {node['id']}"
                output_type = node_class_output(mappings, workflow, link)
                assert validate_node_input(output_type, kind), f"{node['type']}.{name}: {output_type} -> {kind}"
                inputs[name] = [str(link[1]), link[2]]
        assert next(widgets, None) is None, f"{node['type']} has more widget values than widgets"
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def node_class_output(mappings, workflow, link):
    origin = next(node for node in workflow["nodes"] if node["id"] == link[1])
    output_type = mappings[origin["type"]].RETURN_TYPES[link[2]]
    assert output_type == link[5], f"link {link[0]} is typed {link[5]} but its origin gives {output_type}"
    return output_type


@pytest.mark.parametrize("name", NAMES)
def test_ui_workflow_loads_and_matches_its_api_copy(comfy, name):
    workflow = json.loads((WORKFLOWS / f"{name}.json").read_text())
    missing = {node["type"] for node in workflow["nodes"]} - set(comfy.NODE_CLASS_MAPPINGS)
    assert not missing, f"{name} uses nodes this ComfyUI lacks: {missing}"
    api = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
    for node in api.values():
        node.pop("_meta", None)
    assert ui_to_api(workflow, comfy.NODE_CLASS_MAPPINGS) == api


@pytest.fixture(scope="module")
def photo(comfy):
    """A real photo (scikit-image's astronaut) in the host's input folder, for Load Image."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(comfy.layout.input_dir / PHOTO)
    return PHOTO


def for_tiny_model(prompt, checkpoint, steps=3, size=128):
    """The example at test scale: the tiny checkpoint and LoRA, a real photo, 128 px levels, a few steps."""
    prompt = copy.deepcopy(prompt)
    changes = {
        "CheckpointLoaderSimple": {"ckpt_name": checkpoint},
        "LoraLoader": {"lora_name": TINY_LORA},
        "LoadImage": {"image": PHOTO},
        "ImageScale": {"width": size, "height": size},
        "P10_EmptyZoomLatent": {"width": size, "height": size},
        "P10_ZoomKSampler": {"steps": steps},
        "BasicScheduler": {"steps": steps},
        "P10_SaveZoomVideo": {"width": size, "fps": 4.0, "hold_start": 1, "hold_end": 1},
        "P10_ZoomVideoFrames": {"width": size, "fps": 4.0, "hold_start": 1, "hold_end": 1},
    }
    for node in prompt.values():
        node["inputs"].update(changes.get(node["class_type"], {}))
    return prompt


def load_api(name, checkpoint):
    return for_tiny_model(json.loads((WORKFLOWS / "api" / f"{name}.json").read_text()), checkpoint)


def node_id(prompt, class_type):
    return next(key for key, node in prompt.items() if node["class_type"] == class_type)


def view_disagreement(images):
    """Each view's centre against the next view shrunk: 0 for a consistent stack. IMAGE is (N, H, W, C)."""
    return overlap_difference(images.movedim(-1, 1), 2).abs().max()


@pytest.mark.parametrize("name", NAMES)
def test_api_workflow_runs_in_process(comfy, photo, name):
    prompt = load_api(name, comfy.checkpoint_name)
    result = comfy.execute(prompt).raise_for_error()
    levels = prompt[node_id(prompt, "P10_EmptyZoomLatent")]["inputs"]["levels"]
    views = result.node_output(node_id(prompt, "P10_RenderZoomStack"))
    assert views.shape == (levels, 128, 128, 3)
    assert view_disagreement(views) < 1e-5
    side_by_side = result.node_output(node_id(prompt, "P10_ZoomViews"))
    assert side_by_side.shape == (1, 128, levels * 128 + (levels - 1) * 8, 3)
    saved = result.ui_outputs[node_id(prompt, "SaveImage")]["images"]
    assert len(saved) == levels


def test_text_zoom_runs_through_the_http_server(comfy):
    comfy_host = __import__("comfy_host")
    prompt = load_api("text_zoom", comfy.checkpoint_name)
    with comfy_host.ComfyServer(checkpoint=comfy.layout.checkpoints_dir / comfy.checkpoint_name) as server:
        entry = server.run_prompt(prompt, timeout=240)
    assert entry["status"]["status_str"] == "success"
    assert len(entry["outputs"][node_id(prompt, "SaveImage")]["images"]) == 6


def test_zoom_ksampler_is_consistent_where_plain_ksampler_is_not(comfy):
    prompt = load_api("text_zoom", comfy.checkpoint_name)
    zoom_sampler = prompt[node_id(prompt, "P10_ZoomKSampler")]["inputs"]
    prompt["90"] = {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a spiral galaxy"}}
    prompt["91"] = {
        "class_type": "KSampler",
        "inputs": {
            key: zoom_sampler[key]
            for key in ("model", "latent_image", "seed", "steps", "cfg", "denoise", "sampler_name", "scheduler")
        }
        | {"positive": ["90", 0], "negative": ["90", 0]},
    }
    prompt["92"] = {"class_type": "VAEDecode", "inputs": {"samples": ["91", 0], "vae": ["1", 2]}}
    prompt["93"] = {"class_type": "PreviewImage", "inputs": {"images": ["92", 0]}}
    result = comfy.execute(prompt).raise_for_error()
    joint = result.node_output(node_id(prompt, "P10_ZoomKSampler"))["samples"]
    plain = result.node_output("91")["samples"]
    assert overlap_difference(joint, 2).abs().max() < 1e-4
    assert overlap_difference(plain, 2).abs().max() > 0.5
    assert torch.isfinite(joint).all()
