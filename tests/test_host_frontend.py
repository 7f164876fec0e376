"""The example workflows in ComfyUI's real frontend, driven in headless Chromium, queued and run as a user would.

Starts the HTTP server with every model and photo the workflows name present
under that name (tiny stand-ins), opens the frontend, and for each example:
loads the UI workflow as a user's drop would and checks that the frontend finds
every node type and every model and shows no dialog, toast or console error,
and that it queues the same graph as the API copy; then sets the example to
test scale in the graph, queues it from the frontend and checks what it made.
The files themselves are written by the frontend (``scripts/build_example_workflows.py``).
"""

import pytest
from helpers import WORKFLOW_NAMES, at_test_scale, example_layout, load_workflow, node_id, seam, wait_for_history
from host.frontend import linked_models, named_photos, open_frontend, prepare_user, provide_named_files, unavailable
from host.server import ComfyServer
from PIL import Image


@pytest.fixture(scope="module")
def frontend(tmp_path_factory):
    """The ComfyUI server with the examples' files and its frontend open in headless Chromium."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    workflows = [load_workflow(name) for name in WORKFLOW_NAMES]
    server = ComfyServer()
    models = [model for workflow in workflows for model in linked_models(workflow)]
    provide_named_files(server.layout, models, [photo for workflow in workflows for photo in named_photos(workflow)])
    prepare_user(server.layout.user_dir / "default")
    with server, open_frontend(server, tmp_path_factory.mktemp("chromium-profile")) as frontend:
        yield frontend


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_example_workflow_loads_cleanly_in_the_frontend(frontend, name):
    """No unknown node type or model, no dialog, toast or console error, and the API copy's graph queued."""
    frontend.clear()
    report = frontend.load(load_workflow(name), name)
    assert report["missing"] == [], f"{name}: the frontend does not know the node types {report['missing']}"
    assert not report["invalidValues"], f"{name}: values the frontend does not offer: {report['invalidValues']}"
    overlays = frontend.overlays()
    assert not overlays, f"{name}: the frontend shows {overlays}"
    assert not frontend.errors, f"{name}: console errors while loading: {frontend.errors}"
    assert report["prompt"] == load_workflow(name, api=True), f"{name}: the frontend queues another graph"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_example_runs_as_the_frontend_queues_it(frontend, name):
    """The example, set to test scale in the graph as a user would, queued by the frontend, runs to the end."""
    frontend.clear()
    prompt = frontend.load(load_workflow(name), name)["prompt"]
    tiny = at_test_scale(prompt)
    changes = {
        key: {field: value for field, value in node["inputs"].items() if prompt[key]["inputs"][field] != value}
        for key, node in tiny.items()
    }
    frontend.set_widgets(changes)
    response = frontend.queue()
    assert response.status == 200, f"the server rejected the prompt: {response.text()}"
    queued = response.request.post_data_json["prompt"]
    assert {key: node["inputs"] for key, node in queued.items()} == {key: node["inputs"] for key, node in tiny.items()}
    entry = wait_for_history(frontend.server, response.json()["prompt_id"], timeout=240)
    assert entry["status"]["status_str"] == "success", entry["status"]

    start = tiny[node_id(tiny, "P10_EmptyZoomLatent")]["inputs"]
    extended = [node["inputs"]["levels"] for node in tiny.values() if node["class_type"] == "P10_ExtendZoom"]
    levels = start["levels"] + sum(extended)
    saved = entry["outputs"][node_id(tiny, "SaveImage")]["images"]
    assert len(saved) == levels
    output = frontend.server.layout.output_dir
    views = [Image.open(output / image["subfolder"] / image["filename"]) for image in saved]
    assert all(view.size == (128, 128) for view in views)
    import numpy as np
    import torch

    stack = torch.from_numpy(np.stack([np.asarray(view.convert("RGB")) for view in views])).float() / 255
    # The views agree exactly before 8-bit rounding, which moves each side by at most half a grey level.
    assert seam(stack, example_layout(start)) <= 1 / 255 + 1e-6
    for key, node in tiny.items():
        if node["class_type"] == "P10_SaveZoomVideo":
            (video,) = entry["outputs"][key]["images"]
            assert (output / video["subfolder"] / video["filename"]).stat().st_size > 0
    frontend.settle()
    assert not frontend.overlays(), f"the frontend shows {frontend.overlays()}"
    assert not frontend.errors, f"console errors while running: {frontend.errors}"


def test_a_missing_node_type_is_reported(frontend):
    """The checks above can see a problem: a node type no pack provides opens the missing-nodes dialog."""
    workflow = load_workflow("text_zoom")
    workflow["nodes"][0]["type"] = "P10_NoSuchNode"
    frontend.clear()
    report = frontend.load(workflow, "missing_node")
    assert report["missing"] == ["P10_NoSuchNode"]
    overlays = frontend.overlays()
    assert any("P10_NoSuchNode" in text for text in overlays), overlays
    frontend.clear()
    assert not frontend.overlays(), "clear() leaves the dialog open: the next tests would see it"


def test_a_missing_model_is_offered_for_download(frontend):
    """The model links are what the frontend reads: a checkpoint the server lacks is listed with its download."""
    workflow = load_workflow("text_zoom")
    loader = next(node for node in workflow["nodes"] if node["type"] == "CheckpointLoaderSimple")
    loader["widgets_values"][0] = "not_downloaded_yet.safetensors"
    loader["properties"]["models"][0]["name"] = "not_downloaded_yet.safetensors"
    frontend.clear()
    frontend.load(workflow, "missing_model")
    overlays = frontend.overlays()
    assert any("not_downloaded_yet.safetensors" in text for text in overlays), overlays
    frontend.clear()
