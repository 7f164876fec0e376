"""ComfyUI's real frontend in headless Chromium, driven with Playwright, on a :class:`~host.server.ComfyServer`.

Used by the frontend test (load, check and queue every example workflow) and
by ``scripts/build_example_workflows.py`` (the frontend builds each example from
its description and serialises it, so the files are what the frontend writes).
Needs Debian's Chromium and Playwright for Python (``.ci/install_browser.sh``).
"""

import contextlib
import json
import pathlib
import shutil

from .layout import CLICKS, SHARED_MODELS, locate_comfyui, tiny_checkpoint, tiny_lora, write_click_track

CHROMIUM = pathlib.Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
# Margin around the nodes in a thumbnail, in screen pixels.
MARGIN = 24

# Settings stored for the server's default user before the page opens. A new
# user gets the template browser over the canvas. For the screenshots: the
# minimap, the canvas menu and the render statistics would cover parts of the
# graph, the workflow tabs stay on screen in focus mode unless they live in the
# side bar, and a zoomed-out graph is drawn without text unless the level of
# detail is off. The warnings the checks rely on are set explicitly in case
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
    return JSON.stringify({
        // null when the frontend never finished configuring the graph
        missing: window.__p10_probe.missing?.map((t) => (typeof t === "string" ? t : t.type)) ?? null,
        invalidValues,
        prompt: prompt.output,
    });
}
"""

# Builds a workflow in an empty graph as a user would: creates each node (with
# the id, title and column the description gives), sets its widgets by name,
# records its model download links in ``properties.models``, connects the links,
# lays the columns out with the sizes the frontend computed, and returns what the
# frontend saves (``graph.serialize()``) and queues (``graphToPrompt().output``).
BUILD_WORKFLOW_JS = """
async (nodes) => {
    const app = window.app;
    app.graph.clear();
    // Previews are kept by node id: an earlier example's image would show on this one's node of that id.
    app.nodeOutputs = {};
    app.nodePreviewImages = {};
    const made = new Map();
    for (const description of nodes) {
        const node = LiteGraph.createNode(description.type);
        if (!node) throw new Error(`the frontend has no node type ${description.type}`);
        node.id = description.id;
        if (description.title) node.title = description.title;
        app.graph.add(node);
        for (const [name, value] of Object.entries(description.widgets)) {
            const widget = node.widgets?.find((w) => w.name === name);
            if (!widget) throw new Error(`${description.type} has no widget ${name}`);
            widget.value = value;
        }
        if (description.models.length) node.properties.models = description.models;
        made.set(description.id, node);
    }
    for (const description of nodes) {
        for (const [input, [origin, slot]] of Object.entries(description.links)) {
            if (!made.get(origin).connect(slot, made.get(description.id), input)) {
                throw new Error(`cannot connect ${origin}:${slot} to ${description.type}.${input}`);
            }
        }
    }
    const gap = 40;
    const columns = new Map();
    for (const description of nodes) {
        const node = made.get(description.id);
        const [width, height] = node.computeSize();
        // Wide enough for whole titles and widget labels; multiline prompts get room for several lines.
        const multiline = (node.widgets ?? []).filter((w) => w.type === "customtext").length;
        node.setSize([Math.max(width, 340), height + 60 * multiline]);
        if (!columns.has(description.column)) columns.set(description.column, []);
        columns.get(description.column).push(node);
    }
    let x = 0;
    for (const column of [...columns.keys()].sort((a, b) => a - b)) {
        let y = 0;
        let width = 0;
        for (const node of columns.get(column)) {
            node.pos = [x, y];
            y += node.size[1] + gap + LiteGraph.NODE_TITLE_HEIGHT;
            width = Math.max(width, node.size[0]);
        }
        x += width + gap;
    }
    app.graph.setDirtyCanvas(true, true);
    const prompt = await app.graphToPrompt();
    // As the frontend saves a file: through JSON, which drops the fields it leaves undefined.
    return JSON.stringify({workflow: app.graph.serialize(), prompt: prompt.output});
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


def unavailable() -> str | None:
    """Why the frontend cannot run here, or None."""
    if locate_comfyui() is None:
        return "no ComfyUI checkout: set COMFYUI_PATH or put one at ../ComfyUI (see README)"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM}: run .ci/install_browser.sh"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no Playwright: run .ci/install_browser.sh"
    return None


def linked_models(workflow: dict) -> list[dict]:
    """Every model download link a UI workflow carries: its nodes' ``properties.models`` and its own ``models``."""
    links = [model for node in workflow["nodes"] for model in node.get("properties", {}).get("models", [])]
    return links + list(workflow.get("models", []))


def named_photos(workflow: dict) -> list[str]:
    """The photos a UI workflow's Load Image nodes name."""
    return [node["widgets_values"][0] for node in workflow["nodes"] if node["type"] == "LoadImage"]


def named_tracks(workflow: dict) -> list[str]:
    """The audio files a UI workflow's Load Audio nodes name."""
    return [node["widgets_values"][0] for node in workflow["nodes"] if node["type"] == "LoadAudio"]


NAMED_ONLY = ("diffusion_models", "text_encoders", "vae")
"""Model folders whose example files are provided by name only (:func:`provide_named_files`)."""


def provide_named_files(layout, models: list[dict], photos: list[str], tracks: list[str]) -> None:
    """Put the named models, photos and audio tracks into the server's folders under those names.

    Each model link becomes the tiny stand-in for its folder (checkpoints: the
    tiny checkpoint, loras: the tiny LoRA, vae_approx: the shared TAESD of the
    same name, saved as ``.pth`` where the link names one), so that the frontend
    finds exactly the files the examples name and queues the graph unchanged.
    The split files of the 2026 families (:data:`NAMED_ONLY` folders) are names
    only, the tiny checkpoint under the file's name: no tiny file of theirs is
    detected by ComfyUI's loaders, so the examples that load them run in
    ``tests/test_host_families.py`` with the loaders swapped for the tiny models. A
    photo comes from ComfyUI's own input folder (``example.png`` ships with it),
    else is scikit-image's astronaut; a track is the click track.
    """
    import torch
    from PIL import Image
    from safetensors.torch import load_file
    from skimage import data

    stand_ins = {"checkpoints": tiny_checkpoint(), "loras": tiny_lora()}
    stand_ins |= dict.fromkeys(NAMED_ONLY, stand_ins["checkpoints"])
    for model in models:
        folder = layout.base_dir / "models" / model["directory"]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / model["name"]
        if target.exists():
            continue
        if model["directory"] == "vae_approx":
            stem = pathlib.Path(model["name"]).stem
            torch.save(load_file(SHARED_MODELS / stem.split("_")[0] / f"{stem}.safetensors"), target)
        else:
            target.symlink_to(stand_ins[model["directory"]])
    for name in photos:
        shipped = locate_comfyui() / "input" / name
        if shipped.is_file():
            shutil.copyfile(shipped, layout.input_dir / name)
        else:
            Image.fromarray(data.astronaut()).save(layout.input_dir / name)
    for name in tracks:
        # directed_zoom's five crossings 1.5 s apart end near 8 s, where the beat tracker misses the last clicks.
        write_click_track(layout.input_dir / name, **CLICKS | {"seconds": 16.0})


def prepare_user(folder: pathlib.Path) -> None:
    """The default user's files as after a first session: :data:`SETTINGS`, no node templates, no saved workflows.

    Without them the frontend's requests for them fail (404, a console error),
    some of them late enough to land in the middle of a check.
    """
    (folder / "workflows").mkdir(parents=True, exist_ok=True)
    (folder / "subgraphs").mkdir(exist_ok=True)
    (folder / "comfy.settings.json").write_text(json.dumps(SETTINGS))
    (folder / "comfy.templates.json").write_text("[]")


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
        """Forget the errors so far and close what an earlier step left open."""
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
        """Load a UI workflow as a drop would; what the frontend made of it (:data:`LOAD_WORKFLOW_JS`)."""
        report = json.loads(self.page.evaluate(LOAD_WORKFLOW_JS, [workflow, name]))
        self.settle()
        return report

    def build(self, nodes: list[dict]) -> tuple[dict, dict]:
        """Build a workflow from node descriptions (see :data:`BUILD_WORKFLOW_JS`): ``(ui_workflow, api_prompt)``."""
        result = json.loads(self.page.evaluate(BUILD_WORKFLOW_JS, nodes))
        self.settle()
        return result["workflow"], result["prompt"]

    def set_widgets(self, changes: dict) -> None:
        """``{node_id: {widget: value}}`` on the loaded graph, as a user's edits would."""
        self.page.evaluate(SET_WIDGETS_JS, changes)

    def queue(self):
        """Queue the loaded graph as the Queue button does; returns the ``/api/prompt`` response."""
        with self.page.expect_response(lambda r: r.url.endswith("/api/prompt") and r.request.method == "POST") as sent:
            self.page.evaluate("() => window.app.queuePrompt(0, 1)")
        return sent.value

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


@contextlib.contextmanager
def open_frontend(server, profile: pathlib.Path):
    """The frontend of a started server, open in headless Chromium with a fresh profile in ``profile``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A persistent context is the only way to hand Chromium its own --user-data-dir.
        context = playwright.chromium.launch_persistent_context(
            profile,
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
            if not page.evaluate(FOCUS_MODE_JS):
                raise RuntimeError("the frontend did not enter focus mode")
            yield frontend
        finally:
            context.close()
