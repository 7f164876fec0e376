#!/usr/bin/env python
"""Make a zoom video from a prompt file with one command, through ComfyUI.

Runs an API-format workflow (default ``example_workflows/api/zoom_video.json``)
with one prompt per level from a text file and the checkpoint you name, either
against a running ComfyUI server or in-process from a ComfyUI checkout (which
then serves the same HTTP interface on a private port), and copies the video
the workflow saves to ``--out``::

    python scripts/run_zoom.py --prompts zoom.txt --checkpoint v1-5-pruned-emaonly.safetensors \\
        --server 127.0.0.1:8188 --out zoom.mp4
    python scripts/run_zoom.py --prompts zoom.txt --checkpoint v1-5-pruned-emaonly.safetensors \\
        --comfyui ~/ComfyUI --out zoom.mp4

``zoom.txt`` holds one prompt per line, widest view first; the number of
lines sets the number of levels. ``--set CLASS.INPUT=VALUE`` changes any
widget of the workflow (values are read as JSON when they parse, e.g.
``--set P10_SaveZoomVideo.fps=24``).
"""

import argparse
import json
import logging
import os
import pathlib
import shutil
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_WORKFLOW = REPO_ROOT / "example_workflows" / "api" / "zoom_video.json"
VIDEO_NODE = "P10_SaveZoomVideo"

log = logging.getLogger("powers_of_ten.run_zoom")


def prepare_prompt(workflow: dict, prompts: list[str], checkpoint: str, settings: list[str]) -> dict:
    """The workflow with the prompts, their level count, the checkpoint and every ``CLASS.INPUT=VALUE`` applied."""
    changes = {
        ("P10_ZoomPrompts", "prompts"): "\n".join(prompts),
        ("P10_EmptyZoomLatent", "levels"): len(prompts),
        ("CheckpointLoaderSimple", "ckpt_name"): checkpoint,
    }
    for setting in settings:
        target, _, value = setting.partition("=")
        class_type, _, name = target.partition(".")
        if not (class_type and name and value):
            raise ValueError(f"--set expects CLASS.INPUT=VALUE; got {setting!r}")
        try:
            changes[(class_type, name)] = json.loads(value)
        except json.JSONDecodeError:
            changes[(class_type, name)] = value
    prompt = json.loads(json.dumps(workflow))
    for (class_type, name), value in changes.items():
        nodes = [node for node in prompt.values() if node["class_type"] == class_type]
        if not nodes:
            raise ValueError(f"the workflow has no {class_type} node to set {name} on")
        for node in nodes:
            node["inputs"][name] = value
    return prompt


def saved_video(outputs: dict, prompt: dict) -> dict:
    """The ``{filename, subfolder, type}`` entry of the video the workflow saved."""
    for node_id, node in prompt.items():
        if node["class_type"] == VIDEO_NODE and node_id in outputs:
            entries = next(iter(v for v in outputs[node_id].values() if isinstance(v, list) and v), None)
            if entries:
                return entries[0]
    raise RuntimeError(f"the workflow saved no video: no {VIDEO_NODE} output in {sorted(outputs)}")


def run_on_server(address: str, prompt: dict, out: pathlib.Path, timeout: float) -> None:
    base = f"http://{address}"
    request = urllib.request.Request(
        f"{base}/prompt", data=json.dumps({"prompt": prompt}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        prompt_id = json.load(response)["prompt_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/history/{prompt_id}", timeout=60) as response:
            history = json.load(response).get(prompt_id)
        if history and history.get("status", {}).get("completed") is not None:
            if history["status"].get("status_str") != "success":
                raise RuntimeError(f"ComfyUI reported an error: {history['status'].get('messages')}")
            entry = saved_video(history["outputs"], prompt)
            query = urllib.parse.urlencode(entry)
            with urllib.request.urlopen(f"{base}/view?{query}", timeout=600) as response, out.open("wb") as file:
                shutil.copyfileobj(response, file)
            return
        time.sleep(0.5)
    raise TimeoutError(f"no result from {base} within {timeout:.0f} s")


def run_in_process(comfyui: pathlib.Path, comfy_args: list[str], prompt: dict, out: pathlib.Path, timeout: float):
    """Start ComfyUI inside this process, serve it on a free port of 127.0.0.1 and run the prompt over HTTP.

    ``main.start_comfyui()`` is ComfyUI's entry point for embedding: it sets up
    folders, loads the custom nodes (this pack among them) and starts the prompt
    worker; its server then runs in a thread, and the prompt goes through the
    same public ``/prompt`` and ``/history`` routes as :func:`run_on_server`.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sys.path.insert(0, str(comfyui))
    # The last --listen/--port win: this server is private to the run.
    sys.argv = [str(comfyui / "main.py"), *comfy_args, "--listen", "127.0.0.1", "--port", str(port)]
    # ComfyUI's main.py, imported rather than run: it parses the flags and applies the paths.
    import main as comfyui_main

    loop, _, start_all = comfyui_main.start_comfyui()
    serving = threading.Thread(target=loop.run_until_complete, args=(start_all(),), daemon=True)
    serving.start()
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://{address}/system_stats", timeout=2):
                break
        except OSError:
            if not serving.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("ComfyUI's server did not start (see its log above)") from None
            time.sleep(0.1)
    run_on_server(address, prompt, out, timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=pathlib.Path, required=True, help="text file: one prompt per level")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file name, as in Load Checkpoint")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help="a running ComfyUI, host:port (e.g. 127.0.0.1:8188)")
    where.add_argument("--comfyui", type=pathlib.Path, help="a ComfyUI checkout to run in-process")
    parser.add_argument("--comfy-arg", action="append", default=[], help="extra ComfyUI flag (in-process; repeat)")
    parser.add_argument("--workflow", type=pathlib.Path, default=DEFAULT_WORKFLOW, help="API-format workflow")
    parser.add_argument("--set", action="append", default=[], metavar="CLASS.INPUT=VALUE", help="change a widget")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("zoom.mp4"), help="where to write the video")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the result")
    args = parser.parse_args()
    if args.server:
        # In-process, ComfyUI's own start-up installs the log handler; a second one would print every line twice.
        logging.basicConfig(level=logging.INFO, format="%(message)s")

    prompts = [line.strip() for line in args.prompts.read_text().splitlines() if line.strip()]
    prompt = prepare_prompt(json.loads(args.workflow.read_text()), prompts, args.checkpoint, args.set)
    out = args.out.resolve()
    start = time.perf_counter()
    if args.server:
        run_on_server(args.server, prompt, out, args.timeout)
    else:
        comfyui = args.comfyui.resolve()
        # ComfyUI resolves its default folders from the working directory.
        os.chdir(comfyui)
        run_in_process(comfyui, args.comfy_arg, prompt, out, args.timeout)
    log.info("wrote %s (%d levels, %.0f s)", args.out, len(prompts), time.perf_counter() - start)


if __name__ == "__main__":
    main()
