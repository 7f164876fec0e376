"""scripts/run_zoom.py, the one-command zoom video: against the HTTP server, and in-process."""

import pathlib
import subprocess
import sys

import av
import pytest
from host.layout import locate_comfyui, prepare_layout
from host.server import ComfyServer

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "run_zoom.py"
# Test scale: 3 levels of 128 px, 2 steps, a short clip with no held frames.
SMALL = [
    "P10_EmptyZoomLatent.width=128",
    "P10_EmptyZoomLatent.height=128",
    "P10_ZoomKSampler.steps=2",
    "P10_SaveZoomVideo.width=128",
    "P10_SaveZoomVideo.fps=8",
    "P10_SaveZoomVideo.seconds_per_level=0.5",
    "P10_SaveZoomVideo.hold_start=0",
    "P10_SaveZoomVideo.hold_end=0",
    "P10_ZoomVideoFrames.width=64",
]


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "zoom.txt"
    path.write_text("a spiral galaxy\n\na blue planet\na city at night\n")
    return path


def run_script(*args):
    command = [sys.executable, str(SCRIPT), *args, *(f"--set={setting}" for setting in SMALL)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def check_video(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (128, 128)
    # 3 levels: 2 level spans of 0.5 s at 8 frames/s, plus the last frame.
    assert frames == pytest.approx(9, abs=1)


def test_against_a_running_server(comfy, prompt_file, tmp_path):
    out = tmp_path / "zoom.mp4"
    with ComfyServer() as server:
        address = server.url.removeprefix("http://")
        run_script(
            "--prompts", str(prompt_file), "--checkpoint", comfy.checkpoint_name, "--server", address, "--out", str(out)
        )
    check_video(out)


def test_in_process(comfy, prompt_file, tmp_path):
    layout = prepare_layout()
    out = tmp_path / "zoom.mp4"
    comfy_args = ["--cpu", *layout.args()]
    try:
        result = run_script(
            "--prompts",
            str(prompt_file),
            "--checkpoint",
            comfy.checkpoint_name,
            "--comfyui",
            str(locate_comfyui()),
            *(f"--comfy-arg={arg}" for arg in comfy_args),
            "--out",
            str(out),
        )
    finally:
        layout.cleanup()
    check_video(out)
    # One handler: ComfyUI's own. Every line once.
    log = result.stdout + result.stderr
    assert log.count("Zoom sampling: 3 levels") == 1, log[-3000:]
    assert log.count(f"wrote {out}") == 1, log[-3000:]
