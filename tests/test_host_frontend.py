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
from helpers import WORKFLOW_NAMES, at_test_scale, load_workflow, node_id, seam, wait_for_history
from host.frontend import (
    NAMED_ONLY,
    linked_models,
    named_photos,
    named_tracks,
    open_frontend,
    prepare_user,
    provide_named_files,
    unavailable,
)
from host.server import ComfyServer
from PIL import Image


@pytest.fixture(scope="module")
def frontend(tmp_path_factory):
    """The ComfyUI server with the examples' files and its frontend open in headless Chromium."""
    reason = unavailable()
    if reason:
        pytest.fail(reason, pytrace=False)
    workflows = [load_workflow(name) for name in WORKFLOW_NAMES]
    server = ComfyServer()
    models = [model for workflow in workflows for model in linked_models(workflow)]
    photos = [photo for workflow in workflows for photo in named_photos(workflow)]
    tracks = [track for workflow in workflows for track in named_tracks(workflow)]
    provide_named_files(server.layout, models, photos, tracks)
    prepare_user(server.layout.user_dir / "default")
    with server, open_frontend(server, tmp_path_factory.mktemp("chromium-profile")) as frontend:
        yield frontend


def skip_unless_this_comfyui_has_its_text_encoder(comfy, name: str) -> None:
    """flux2_zoom's Load CLIP type ``flux2`` came with ComfyUI v0.8; before it the example cannot load cleanly."""
    offered = comfy.NODE_CLASS_MAPPINGS["CLIPLoader"].INPUT_TYPES()["required"]["type"][0]
    for node in load_workflow(name, api=True).values():
        if node["class_type"] == "CLIPLoader" and node["inputs"]["type"] not in offered:
            pytest.skip(f"{name}: this ComfyUI's Load CLIP has no type {node['inputs']['type']!r}")


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_example_workflow_loads_cleanly_in_the_frontend(frontend, comfy, name):
    """No unknown node type or model, no dialog, toast or console error, and the API copy's graph queued."""
    skip_unless_this_comfyui_has_its_text_encoder(comfy, name)
    frontend.clear()
    report = frontend.load(load_workflow(name), name)
    assert report["missing"] == [], f"{name}: the frontend does not know the node types {report['missing']}"
    assert not report["invalidValues"], f"{name}: values the frontend does not offer: {report['invalidValues']}"
    overlays = frontend.overlays()
    assert not overlays, f"{name}: the frontend shows {overlays}"
    assert not frontend.errors, f"{name}: console errors while loading: {frontend.errors}"
    assert report["prompt"] == load_workflow(name, api=True), f"{name}: the frontend queues another graph"


def run_at_test_scale(frontend, name: str, **widgets_by_class) -> tuple[dict, dict]:
    """Load an example, set it to test scale in the graph as a user would, queue it from the frontend, wait.

    ``widgets_by_class`` changes more widgets, as for :func:`helpers.at_test_scale`.

    Returns:
        The API prompt at test scale, and its history entry once it ran successfully.
    """
    frontend.clear()
    prompt = frontend.load(load_workflow(name), name)["prompt"]
    tiny = at_test_scale(prompt, **widgets_by_class)
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
    return tiny, entry


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_example_runs_as_the_frontend_queues_it(frontend, comfy, name):
    """The example, set to test scale in the graph as a user would, queued by the frontend, runs to the end."""
    if any(model["directory"] in NAMED_ONLY for model in linked_models(load_workflow(name))):
        pytest.skip(
            f"{name} loads split files that the test server has by name only (no tiny file of them is detected by "
            "ComfyUI's loaders); tests/test_host_families.py runs it on the tiny models with the loaders swapped"
        )
    tiny, entry = run_at_test_scale(frontend, name)
    start = tiny[node_id(tiny, "P10_EmptyZoomLatent")]["inputs"]
    extended = [node["inputs"]["levels"] for node in tiny.values() if node["class_type"] == "P10_ExtendZoom"]
    levels = start["levels"] + sum(extended)
    saved = entry["outputs"][node_id(tiny, "SaveImage")]["images"]
    assert len(saved) == levels
    scale = 1
    for node in tiny.values():
        if node["class_type"] == "P10_UpscaleZoomLatent":
            scale *= int(node["inputs"]["scale_by"])
    output = frontend.server.layout.output_dir
    views = [Image.open(output / image["subfolder"] / image["filename"]) for image in saved]
    assert all(view.size == (128 * scale, 128 * scale) for view in views)
    import numpy as np
    import torch

    stack = torch.from_numpy(np.stack([np.asarray(view.convert("RGB")) for view in views])).float() / 255
    # The views agree exactly before 8-bit rounding, which moves each side by at most half a grey level.
    # The layout Empty Zoom Latent makes of these inputs, aligned on its latent (8 pixels a latent pixel).
    latent = comfy.pack.nodes.latent
    layout = latent.zoom_layout("test", int(start["zoom_factor"]), start["targets"], start["levels"], start["loop"])
    aligned = layout.aligned(start["height"] * scale // 8, start["width"] * scale // 8)
    assert seam(stack, aligned, comfy=comfy) <= 1 / 255 + 1e-6
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


# Centres the Zoom Views node at scale 1, waits for its row of views, and returns where a click lands on a point.
VIEWS_POINT_JS = """
async ([level, x, y]) => {
    const app = window.app;
    const node = app.graph.nodes.find((n) => n.comfyClass === "P10_ZoomViews");
    const box = app.canvas.canvas.getBoundingClientRect();
    app.canvas.ds.scale = 1;
    const [width, height] = node.size;
    app.canvas.ds.offset = [box.width / 2 - node.pos[0] - width / 2, box.height / 2 - node.pos[1] - height / 2];
    app.canvas.setDirty(true, true);
    const image = node.zoomViewsImage;
    for (let i = 0; i < 100 && !(image.naturalWidth && image.clientWidth); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const views = node.zoomViews;
    const rect = image.getBoundingClientRect();
    const scale = Math.min(rect.width / image.naturalWidth, rect.height / image.naturalHeight);
    const left = rect.left + (rect.width - image.naturalWidth * scale) / 2;
    const top = rect.top + (rect.height - image.naturalHeight * scale) / 2;
    const px = level * (views.width + views.gap) + x * views.width;
    return {x: left + px * scale, y: top + y * views.height * scale, shown: rect.width > 0, scale};
}
"""
TARGETS_JS = """
() => window.app.graph.nodes.find((n) => n.comfyClass === "P10_EmptyZoomLatent").widgets
    .find((w) => w.name === "targets").value
"""


def test_clicking_a_view_places_the_next_level_there(frontend):
    """The frontend extension: after a run, a click inside view 1 on Zoom Views sets where level 2 goes."""
    # Another seed than the examples' run: a graph ComfyUI has cached sends no outputs to show.
    run_at_test_scale(frontend, "text_zoom", P10_ZoomKSampler={"seed": 8})
    point = frontend.page.evaluate(VIEWS_POINT_JS, [1, 0.25, 0.75])
    assert point["shown"], "the row of views is not shown on the node"
    frontend.page.mouse.click(point["x"], point["y"])
    frontend.settle()
    lines = frontend.page.evaluate(TARGETS_JS).splitlines()
    # One target became one per level after level 0; the clicked one to within a displayed pixel.
    assert len(lines) == 5 and lines[0] == lines[2] == lines[4] == "0.5, 0.5", lines
    x, y = (float(value) for value in lines[1].split(","))
    tolerance = 1.5 / (128 * point["scale"])
    assert abs(x - 0.25) < tolerance and abs(y - 0.75) < tolerance, lines[1]
    # A click in the gap between views changes nothing.
    gap = frontend.page.evaluate(VIEWS_POINT_JS, [2, -0.03, 0.5])
    frontend.page.mouse.click(gap["x"], gap["y"])
    frontend.settle()
    assert frontend.page.evaluate(TARGETS_JS).splitlines() == lines
    assert not frontend.errors, f"console errors: {frontend.errors}"
