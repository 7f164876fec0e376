"""The example workflows in ComfyUI's real frontend, driven in headless Chromium.

Starts the HTTP server (``comfy_host.ComfyServer``) with every model and photo
the workflows name present under that name (the tiny checkpoint and LoRA behind
symlinks, ComfyUI's own example.png as the photo), opens the frontend with
Playwright in Debian's Chromium, loads each UI-format workflow as a user's drop
would, and checks that the frontend finds every node type and every model, shows
no dialog, toast or console error, and queues the same graph as the API copy.
Then it queues text_zoom at test scale from the frontend and waits for it in
``/history``.

Each loaded graph is screenshotted into ``tmp_path``; with
``P10_UPDATE_THUMBNAILS=1`` the screenshots replace the thumbnails in
``example_workflows/``. Needs ``.ci/install_browser.sh`` (Chromium, Playwright).
"""

import json
import logging
import os
import pathlib
import shutil
import time

import pytest
from conftest import REPO_ROOT, load_by_path
from test_host_workflows import for_tiny_model

WORKFLOWS = REPO_ROOT / "example_workflows"
NAMES = sorted(path.stem for path in WORKFLOWS.glob("*.json"))
CHROMIUM = pathlib.Path("/usr/bin/chromium")
UPDATE_THUMBNAILS = os.environ.get("P10_UPDATE_THUMBNAILS") == "1"
VIEWPORT = {"width": 1280, "height": 800}
# Margin around the nodes in a thumbnail, in screen pixels.
MARGIN = 24

log = logging.getLogger(__name__)

# Settings stored for the server's default user before the page opens. A new
# user gets the template browser over the canvas. For the screenshots: the
# minimap, the canvas menu and the render statistics would cover parts of the
# graph, the workflow tabs stay on screen in focus mode unless they live in the
# side bar, and a zoomed-out graph is drawn without text unless the level of
# detail is off. The warnings this test relies on are set explicitly in case
# their defaults change.
SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "Comfy.Minimap.Visible": False,
    "Comfy.Graph.CanvasMenu": False,
    "Comfy.Graph.CanvasInfo": False,
    "Comfy.Workflow.WorkflowTabsPosition": "Sidebar",
    "LiteGraph.Canvas.MinFontSizeForLOD": 0,
    "Comfy.Workflow.ShowMissingNodesWarning": True,
    "Comfy.Workflow.ShowMissingModelsWarning": True,
    "Comfy.Validation.Workflows": True,
}

# Loads a UI-format workflow the way dropping the file does (``app.loadGraphData``
# with the file name), then reports what the frontend made of it: the node types
# it did not know (handed to every extension's ``afterConfigureGraph``), every
# combo widget whose value is not among its options (a model or photo the server
# does not have), and the API-format prompt it would queue.
LOAD_WORKFLOW_JS = """
async ([workflow, name]) => {
    const app = window.app;
    if (!window.__p10_probe) {
        window.__p10_probe = {};
        app.registerExtension({
            name: "powers_of_ten.test_probe",
            afterConfigureGraph(missingNodeTypes) { window.__p10_probe.missing = missingNodeTypes; },
        });
    }
    window.__p10_probe.missing = null;
    await app.loadGraphData(workflow, true, true, name);
    const invalidValues = [];
    for (const node of app.graph.nodes) {
        for (const widget of node.widgets ?? []) {
            let options = widget.options?.values;
            if (typeof options === "function") options = options();
            if (Array.isArray(options) && !options.includes(widget.value)) {
                invalidValues.push(`${node.type}.${widget.name} = ${JSON.stringify(widget.value)}`);
            }
        }
    }
    const prompt = await app.graphToPrompt();
    return {
        // null when the frontend never finished configuring the graph
        missing: window.__p10_probe.missing?.map((t) => (typeof t === "string" ? t : t.type)) ?? null,
        invalidValues,
        prompt: prompt.output,
    };
}
"""

# Focus mode: no menus or side bars over the canvas, which then fills the window.
FOCUS_MODE_JS = """
async () => {
    await window.app.extensionManager.command.execute("Workspace.ToggleFocusMode");
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    return window.app.extensionManager.focusMode;
}
"""

# Zooms and centres the canvas on the graph, a margin in page pixels all round,
# and returns the nodes' bounding box in page pixels. Set directly rather than
# with the "Zoom to fit" command, which animates and leaves a wide border.
FIT_VIEW_JS = """
async (margin) => {
    const app = window.app;
    let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const node of app.graph.nodes) {
        const [x, y, w, h] = node.boundingRect;
        [left, top] = [Math.min(left, x), Math.min(top, y)];
        [right, bottom] = [Math.max(right, x + w), Math.max(bottom, y + h)];
    }
    const box = app.canvas.canvas.getBoundingClientRect();
    const scale = Math.min((box.width - 2 * margin) / (right - left), (box.height - 2 * margin) / (bottom - top));
    const [width, height] = [(right - left) * scale, (bottom - top) * scale];
    const [x, y] = [(box.width - width) / 2, (box.height - height) / 2];
    // LiteGraph draws a graph point p at (p + offset) * scale.
    app.canvas.ds.scale = scale;
    app.canvas.ds.offset = [x / scale - left, y / scale - top];
    app.canvas.setDirty(true, true);
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    return {x: box.left + x, y: box.top + y, width, height};
}
"""

# Sets widget values by node id and widget name, as a user's edits would.
SET_WIDGETS_JS = """
(changes) => {
    for (const [id, values] of Object.entries(changes)) {
        const node = window.app.graph.getNodeById(Number(id));
        for (const [name, value] of Object.entries(values)) {
            node.widgets.find((widget) => widget.name === name).value = value;
        }
    }
}
"""

# What the open dialogs and toasts show.
OVERLAYS_JS = """
() => Array.from(document.querySelectorAll(".p-dialog, .p-toast-message"))
    .filter((element) => element.getClientRects().length > 0)
    .map((element) => element.innerText.trim())
"""

# Closes every dialog and toast, as their close buttons do.
DISMISS_JS = """
() => document.querySelectorAll(".p-dialog-close-button, .p-toast-close-button").forEach((button) => button.click())
"""


def workflow_json(name: str) -> dict:
    """The UI-format example ``example_workflows/<name>.json``."""
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


def provide_named_files(layout, workflows, checkpoint, lora) -> None:
    """Put every checkpoint, LoRA and photo the workflows name into the server's folders under that name.

    The checkpoints and LoRAs are symlinks to the tiny ones, so that the frontend
    lists exactly the names the examples ship with (no missing models, and the
    graph queued unchanged), and a photo comes from ComfyUI's own input folder
    (``example.png`` ships with it), else is scikit-image's astronaut.
    """
    from PIL import Image
    from skimage import data

    comfy_host = load_by_path("comfy_host", REPO_ROOT / "tests" / "host" / "comfy_host.py")
    shipped = comfy_host.locate_comfyui() / "input"
    targets = {
        "CheckpointLoaderSimple": (layout.checkpoints_dir, checkpoint),
        "LoraLoader": (layout.base_dir / "models" / "loras", lora),
    }
    for workflow in workflows:
        for node in workflow["nodes"]:
            if node["type"] in targets:
                folder, target = targets[node["type"]]
                folder.mkdir(parents=True, exist_ok=True)
                link = folder / node["widgets_values"][0]
                if not link.exists():
                    link.symlink_to(target)
            elif node["type"] == "LoadImage":
                name = node["widgets_values"][0]
                if (shipped / name).is_file():
                    shutil.copyfile(shipped / name, layout.input_dir / name)
                else:
                    Image.fromarray(data.astronaut()).save(layout.input_dir / name)


def prepare_user(folder: pathlib.Path) -> None:
    """The default user's files as after a first session: :data:`SETTINGS`, no node templates, no saved workflows.

    Without them the frontend's requests for them fail (404, a console error),
    some of them late enough to land in the middle of a test.
    """
    (folder / "workflows").mkdir(parents=True)
    (folder / "subgraphs").mkdir()
    (folder / "comfy.settings.json").write_text(json.dumps(SETTINGS))
    (folder / "comfy.templates.json").write_text("[]")


def wait_for_history(server, prompt_id: str, timeout: float) -> dict:
    """Poll ``/history/<prompt_id>`` until the prompt finished or failed (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, history = server.get(f"/history/{prompt_id}")
        entry = history.get(prompt_id) if status == 200 and isinstance(history, dict) else None
        if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
            return entry
        time.sleep(0.25)
    raise AssertionError(
        f"prompt {prompt_id} not finished after {timeout:.0f} s; server log:\n{server.log_text()[-4000:]}"
    )


class Frontend:
    """The frontend page and what it reported (console errors, uncaught exceptions) since :meth:`clear`."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _on_console(self, message) -> None:
        # A failed request's message names no URL; its location does.
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def clear(self) -> None:
        """Forget the errors so far and close what an earlier test left open."""
        self.page.evaluate(DISMISS_JS)
        self.settle()
        self.errors.clear()

    def settle(self) -> None:
        """Wait until Vue has rendered what the last action opened (a dialog, a toast)."""
        self.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        self.page.wait_for_timeout(200)

    def overlays(self) -> list[str]:
        return self.page.evaluate(OVERLAYS_JS)

    def load(self, workflow: dict, name: str) -> dict:
        report = self.page.evaluate(LOAD_WORKFLOW_JS, [workflow, name])
        self.settle()
        return report

    def screenshot(self, path: pathlib.Path) -> None:
        """The graph, zoomed to fill the window and cut to the nodes plus :data:`MARGIN`, as a JPEG."""
        box = self.page.evaluate(FIT_VIEW_JS, MARGIN)
        clip = {
            "x": box["x"] - MARGIN,
            "y": box["y"] - MARGIN,
            "width": box["width"] + 2 * MARGIN,
            "height": box["height"] + 2 * MARGIN,
        }
        self.page.screenshot(path=path, type="jpeg", quality=85, clip=clip)


@pytest.fixture(scope="module")
def frontend(tmp_path_factory):
    """The ComfyUI server with the examples' files and its frontend open in headless Chromium."""
    comfy_host = load_by_path("comfy_host", REPO_ROOT / "tests" / "host" / "comfy_host.py")
    if comfy_host.locate_comfyui() is None:
        pytest.skip("no ComfyUI checkout: set COMFYUI_PATH or put one at ../ComfyUI (see README)")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: run .ci/install_browser.sh")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="no Playwright: run .ci/install_browser.sh")

    lora = load_by_path("make_tiny_lora", REPO_ROOT / "scripts" / "make_tiny_lora.py").ensure_tiny_lora()
    server = comfy_host.ComfyServer()
    try:
        provide_named_files(
            server.layout, [workflow_json(name) for name in NAMES], comfy_host.ensure_checkpoint(), lora
        )
        prepare_user(server.layout.user_dir / "default")
        server.start()
        with playwright_api.sync_playwright() as playwright:
            # A persistent context is the only way to hand Chromium its own --user-data-dir.
            context = playwright.chromium.launch_persistent_context(
                tmp_path_factory.mktemp("chromium-profile"),
                executable_path=CHROMIUM,
                headless=True,
                viewport=VIEWPORT,
                # Sharp text in the thumbnails: a whole graph fitted into 1280 px is drawn at about half size.
                device_scale_factor=1.5,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                frontend = Frontend(page, server)
                page.goto(server.url, wait_until="networkidle", timeout=60_000)
                page.wait_for_function("() => window.app?.graph && window.app.canvas", timeout=60_000)
                assert page.evaluate(FOCUS_MODE_JS), "the frontend did not enter focus mode"
                yield frontend
            finally:
                context.close()
    finally:
        server.close()


@pytest.mark.parametrize("name", NAMES)
def test_example_workflow_loads_cleanly_in_the_frontend(frontend, name, tmp_path):
    """No unknown node type or model, no dialog, toast or console error, and the API copy's graph queued."""
    workflow = workflow_json(name)
    frontend.clear()
    report = frontend.load(workflow, name)
    assert report["missing"] == [], f"{name}: the frontend does not know the node types {report['missing']}"
    assert not report["invalidValues"], f"{name}: values the frontend does not offer: {report['invalidValues']}"
    overlays = frontend.overlays()
    assert not overlays, f"{name}: the frontend shows {overlays}"
    assert not frontend.errors, f"{name}: console errors while loading: {frontend.errors}"

    api = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
    queued = {
        key: {"class_type": node["class_type"], "inputs": node["inputs"]} for key, node in report["prompt"].items()
    }
    expected = {key: {"class_type": node["class_type"], "inputs": node["inputs"]} for key, node in api.items()}
    assert queued == expected, f"{name}: the frontend would queue a different graph than api/{name}.json"

    screenshot = tmp_path / f"{name}.jpg"
    frontend.screenshot(screenshot)
    if UPDATE_THUMBNAILS:
        shutil.copyfile(screenshot, WORKFLOWS / f"{name}.jpg")
        log.info("updated the thumbnail of %s", name)


def test_a_missing_node_type_is_reported(frontend):
    """The checks above can see a problem: a node type no pack provides opens the missing-nodes dialog."""
    workflow = workflow_json("text_zoom")
    workflow["nodes"][0]["type"] = "P10_NoSuchNode"
    frontend.clear()
    report = frontend.load(workflow, "missing_node")
    assert report["missing"] == ["P10_NoSuchNode"]
    overlays = frontend.overlays()
    assert any("P10_NoSuchNode" in text for text in overlays), overlays
    frontend.clear()
    assert not frontend.overlays(), "clear() leaves the dialog open: the next tests would see it"


def test_text_zoom_queued_from_the_frontend_runs(frontend):
    """text_zoom, set to test scale in the graph as a user would, queued by the frontend, runs to the end."""
    workflow = workflow_json("text_zoom")
    frontend.clear()
    prompt = frontend.load(workflow, "text_zoom")["prompt"]
    # The example's own checkpoint name, which is the tiny checkpoint here; test scale for the rest.
    checkpoint = next(n["inputs"]["ckpt_name"] for n in prompt.values() if n["class_type"] == "CheckpointLoaderSimple")
    tiny = for_tiny_model(prompt, checkpoint)
    changes = {
        key: {field: value for field, value in node["inputs"].items() if prompt[key]["inputs"][field] != value}
        for key, node in tiny.items()
    }
    frontend.page.evaluate(SET_WIDGETS_JS, changes)

    with frontend.page.expect_response(lambda r: r.url.endswith("/api/prompt") and r.request.method == "POST") as sent:
        frontend.page.evaluate("() => window.app.queuePrompt(0, 1)")
    response = sent.value
    assert response.status == 200, f"the server rejected the prompt: {response.text()}"
    queued = response.request.post_data_json["prompt"]
    assert {key: node["inputs"] for key, node in queued.items()} == {key: node["inputs"] for key, node in tiny.items()}
    entry = wait_for_history(frontend.server, response.json()["prompt_id"], timeout=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    levels = next(n["inputs"]["levels"] for n in tiny.values() if n["class_type"] == "P10_EmptyZoomLatent")
    saved = next(output["images"] for key, output in entry["outputs"].items() if tiny[key]["class_type"] == "SaveImage")
    assert len(saved) == levels
    frontend.settle()
    overlays = frontend.overlays()
    assert not overlays, f"the frontend shows {overlays}"
    assert not frontend.errors, f"console errors while running: {frontend.errors}"
