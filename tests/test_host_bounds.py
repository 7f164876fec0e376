"""Every bounded number input of every node of the pack holds its bounds, through the real server's /prompt.

ComfyUI skips its own min/max check for every input a node's validate_inputs
names, so each bound is pushed one step past, as a user's API call would, and
must be refused at validation (nothing runs) with a message naming the node,
the input and the bound. The bounds are read from /object_info, so new inputs
are covered as they appear.
"""

import copy
import inspect

import pytest
from host.layout import CLICK_TRACK
from host.server import ComfyServer

# One graph that uses every node of the pack, each reachable from an output; valid as it stands.
HARNESS = {
    "1": ("CheckpointLoaderSimple", {}),
    "2": ("P10_EmptyZoomLatent", {}),
    "3": ("P10_ZoomPrompts", {"clip": ["1", 1], "zoom": ["2", 1]}),
    "4": ("P10_ZoomLevelOverride", {"zoom_plan": ["24", 0], "positive": ["5", 0]}),
    "24": ("P10_ZoomFluxGuidance", {"zoom_plan": ["3", 0]}),
    "5": ("CLIPTextEncode", {"clip": ["1", 1], "text": "a close-up"}),
    "6": ("EmptyImage", {}),
    "7": ("P10_ZoomPhotoGrounding", {"image": ["6", 0], "vae": ["1", 2]}),
    "8": (
        "P10_ZoomKSampler",
        {"model": ["1", 0], "zoom_plan": ["4", 0], "latent_image": ["2", 0], "grounding": ["7", 0], "vae": ["1", 2]},
    ),
    "9": ("VAEDecode", {"samples": ["8", 0], "vae": ["1", 2]}),
    "10": ("P10_BlendZoomStack", {"stack": ["9", 0], "zoom": ["2", 1]}),
    "11": ("P10_RenderZoomStack", {"stack": ["10", 0], "zoom": ["2", 1]}),
    "12": ("P10_ZoomViews", {"images": ["11", 0], "zoom": ["2", 1]}),
    "13": ("PreviewImage", {"images": ["12", 0]}),
    "14": ("P10_ZoomGuider", {"model": ["1", 0], "zoom_plan": ["4", 0]}),
    "15": ("KSamplerSelect", {}),
    "16": ("BasicScheduler", {"model": ["1", 0]}),
    "17": ("RandomNoise", {}),
    "18": (
        "SamplerCustomAdvanced",
        {"noise": ["17", 0], "guider": ["14", 0], "sampler": ["15", 0], "sigmas": ["16", 0], "latent_image": ["2", 0]},
    ),
    "19": ("VAEDecode", {"samples": ["18", 0], "vae": ["1", 2]}),
    "20": ("PreviewImage", {"images": ["19", 0]}),
    "21": ("P10_ZoomVideoFrames", {"images": ["11", 0], "zoom": ["2", 1]}),
    "22": ("PreviewImage", {"images": ["21", 0]}),
    "23": (
        "P10_SaveZoomVideo",
        {"images": ["11", 0], "zoom": ["2", 1], "level_seconds": ["35", 0], "audio": ["34", 0]},
    ),
    "25": ("P10_ExtendZoom", {"latent": ["8", 0], "zoom": ["2", 1]}),
    "26": ("P10_RegenerateZoomLevels", {"zoom": ["25", 1]}),
    "27": ("P10_ZoomPrompts", {"clip": ["1", 1], "zoom": ["26", 0]}),
    "28": ("P10_ZoomKSampler", {"model": ["1", 0], "zoom_plan": ["27", 0], "latent_image": ["25", 0]}),
    "29": ("VAEDecode", {"samples": ["28", 0], "vae": ["1", 2]}),
    "30": ("PreviewImage", {"images": ["29", 0]}),
    "31": ("P10_UpscaleZoomLatent", {"latent": ["8", 0], "zoom": ["2", 1]}),
    "32": ("VAEDecode", {"samples": ["31", 0], "vae": ["1", 2]}),
    "33": ("PreviewImage", {"images": ["32", 0]}),
    "34": ("LoadAudio", {"audio": CLICK_TRACK}),
    "35": ("P10_ZoomBeats", {"audio": ["34", 0], "zoom": ["2", 1]}),
}


@pytest.fixture(scope="module")
def server(comfy):
    with ComfyServer() as server:
        yield server


@pytest.fixture(scope="module")
def object_info(server):
    status, info = server.get("/object_info")
    assert status == 200
    return info


def widget_defaults(info: dict) -> dict:
    """Every widget input of a node at its default (a combo at its first option where it has no default)."""
    values = {}
    for section in ("required", "optional"):
        for name, spec in info["input"].get(section, {}).items():
            kind, options = spec[0], spec[1] if len(spec) > 1 else {}
            if isinstance(kind, list):
                values[name] = options.get("default", kind[0])
            elif kind == "COMBO":
                values[name] = options.get("default", options["options"][0])
            elif kind in ("INT", "FLOAT", "STRING", "BOOLEAN") and "default" in options:
                values[name] = options["default"]
    return values


def harness(object_info: dict) -> dict:
    prompt = {}
    for key, (class_type, links) in HARNESS.items():
        prompt[key] = {"class_type": class_type, "inputs": widget_defaults(object_info[class_type]) | links}
    return prompt


def only_through(prompt: dict, key: str) -> dict:
    """The part of ``prompt`` that one output downstream of node ``key`` needs.

    ComfyUI drops the outputs whose nodes fail validation and queues the rest,
    so the prompt that tests a node must hold no output that does not depend on it.
    """

    def ancestors(node: str) -> set[str]:
        found = {node}
        for value in prompt[node]["inputs"].values():
            if isinstance(value, list):
                found |= ancestors(value[0])
        return found

    outputs = [k for k, node in prompt.items() if node["class_type"] in ("PreviewImage", "P10_SaveZoomVideo")]
    needed = next(ancestors(output) for output in outputs if key in ancestors(output))
    return {k: node for k, node in prompt.items() if k in needed}


def bounded_inputs(object_info: dict):
    """``(class_type, input, value one step past a bound, the bound)`` for every bounded INT/FLOAT of the pack."""
    for class_type, info in sorted(object_info.items()):
        if not class_type.startswith("P10_"):
            continue
        for section in ("required", "optional"):
            for name, spec in info["input"].get(section, {}).items():
                if spec[0] not in ("INT", "FLOAT"):
                    continue
                options = spec[1]
                step = options.get("step", 1 if spec[0] == "INT" else 0.01)
                if "min" in options:
                    yield class_type, name, options["min"] - step, options["min"]
                if "max" in options:
                    yield class_type, name, options["max"] + step, options["max"]


def combo_inputs(object_info: dict):
    """``(class_type, input)`` for every combo input of the pack's nodes."""
    for class_type, info in sorted(object_info.items()):
        if not class_type.startswith("P10_"):
            continue
        for section in ("required", "optional"):
            for name, spec in info["input"].get(section, {}).items():
                if isinstance(spec[0], list) or spec[0] == "COMBO":
                    yield class_type, name


def test_every_number_validate_inputs_names_has_bounds_to_hold(comfy, object_info):
    # ComfyUI skips min/max for these inputs: each needs both bounds, which the next test pushes one step past.
    unbounded = []
    for class_type, info in object_info.items():
        if not class_type.startswith("P10_"):
            continue
        named = inspect.signature(comfy.NODE_CLASS_MAPPINGS[class_type].validate_inputs).parameters
        for section in ("required", "optional"):
            for name, spec in info["input"].get(section, {}).items():
                if name in named and spec[0] in ("INT", "FLOAT") and not {"min", "max"} <= set(spec[1]):
                    unbounded.append(f"{class_type}.{name}")
    assert not unbounded


def test_every_bound_is_refused_one_step_past_it(server, object_info):
    base = harness(object_info)
    cases = list(bounded_inputs(object_info))
    assert len(cases) > 30
    accepted = []
    for class_type, name, value, bound in cases:
        key = next(k for k, node in base.items() if node["class_type"] == class_type)
        prompt = copy.deepcopy(only_through(base, key))
        prompt[key]["inputs"][name] = value
        status, body = server.post("/prompt", {"prompt": prompt})
        errors = body.get("node_errors", {}).get(key, {}).get("errors", []) if isinstance(body, dict) else []
        text = " ".join(f"{error['message']} {error['details']}" for error in errors)
        named = body["node_errors"][key]["class_type"] == class_type if errors else False
        if status != 400 or not named or name not in text or str(bound) not in text:
            accepted.append(f"{class_type}.{name} = {value} (bound {bound}): {status} {text or body}")
    assert not accepted, "\n".join(accepted)


def test_every_combo_refuses_a_value_it_does_not_offer(server, object_info):
    # ComfyUI skips its "not in list" check too for the inputs validate_inputs names.
    base = harness(object_info)
    cases = list(combo_inputs(object_info))
    assert len(cases) > 8
    accepted = []
    for class_type, name in cases:
        key = next(k for k, node in base.items() if node["class_type"] == class_type)
        prompt = copy.deepcopy(only_through(base, key))
        prompt[key]["inputs"][name] = "not an option"
        status, body = server.post("/prompt", {"prompt": prompt})
        errors = body.get("node_errors", {}).get(key, {}).get("errors", []) if isinstance(body, dict) else []
        text = " ".join(f"{error['message']} {error['details']}" for error in errors)
        if status != 400 or name not in text or "not an option" not in text:
            accepted.append(f"{class_type}.{name}: {status} {text or body}")
    assert not accepted, "\n".join(accepted)


def test_the_harness_uses_every_node_and_is_valid_as_it_stands(server, object_info):
    # Last in the module: a valid prompt is queued, so it is cancelled at once, and nothing runs after it.
    pack_nodes = {name for name in object_info if name.startswith("P10_")}
    assert pack_nodes <= {class_type for class_type, _ in HARNESS.values()}, "add the new node to HARNESS"
    status, body = server.post("/prompt", {"prompt": harness(object_info)})
    server.post("/queue", {"clear": True})
    server.post("/interrupt", {})
    assert status == 200 and "prompt_id" in body, body
