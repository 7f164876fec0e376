"""Zoom Video Frames and Save Zoom Video in a real ComfyUI: files decode back, core video nodes accept the frames."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import validation_messages
from host.layout import CLICK_TRACK, CLICKS
from PIL import Image

from powers_of_ten.blending import render_zoom_frames, zoom_angles, zoom_positions

TEXTURE = "p10_zoom_texture.png"
LEVELS = 3
# 3 levels at 10 fps, 0.5 s per level: 10 steps, 11 frames, plus 1 + 2 held.
TIMING = {
    "fps": 10.0,
    "seconds_per_level": 0.5,
    "easing": "linear",
    "direction": "in",
    "hold_start": 1,
    "hold_end": 2,
    "first_level": 0,
    "last_level": -1,
}
FRAME_COUNT = 14
FORMATS = ["mp4 (h264)", "webm (vp9)", "webp (animated)"]


def write_texture(path: pathlib.Path, height: int, width: int) -> None:
    """A smooth random colour texture with detail at several scales, as a PNG."""
    generator = torch.Generator().manual_seed(0)
    octaves = [torch.rand(1, 3, height // k, width // k, generator=generator) for k in (2, 8, 32)]
    texture = sum(F.interpolate(octave, size=(height, width), mode="bicubic") for octave in octaves)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    Image.fromarray((texture[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(path)


@pytest.fixture(scope="module")
def texture(comfy):
    write_texture(comfy.layout.input_dir / TEXTURE, 72, 128)
    return TEXTURE


def video_prompt(node_type: str, texture: str, levels: int = LEVELS, **settings) -> dict:
    """LoadImage repeated into a stack of ``levels`` images (a self-similar zoom) -> the video node as node "4".

    Zoom Video Frames is not an output node: a Preview Image of its frames makes it run.
    """
    inputs = {"images": ["3", 0], "zoom": ["1", 1], "width": 64, "height": 0} | TIMING | settings
    prompt = {
        "1": {
            "class_type": "P10_EmptyZoomLatent",
            "inputs": {"width": 64, "height": 64, "levels": LEVELS, "zoom_factor": "2"},
        },
        "2": {"class_type": "LoadImage", "inputs": {"image": texture}},
        "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": levels}},
        "4": {"class_type": node_type, "inputs": inputs},
    }
    if node_type == "P10_ZoomVideoFrames":
        prompt["9"] = {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}}
    return prompt


def saved_path(comfy, result, node: str) -> pathlib.Path:
    entry = result.ui_outputs[node]["images"][0]
    assert entry["type"] == "output"
    return comfy.layout.output_dir / entry["subfolder"] / entry["filename"]


def decode(path: pathlib.Path) -> tuple[np.ndarray, float]:
    """All frames ``(F, H, W, 3)`` uint8 and the frame rate: PyAV for mp4/webm, Pillow for animated WebP.

    libwebp stores a held frame once with a longer duration; it is repeated here to its length in frames.
    """
    if path.suffix == ".webp":
        image = Image.open(path)
        frames, durations = [], []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()
            frames.append(np.asarray(image.convert("RGB")))
            durations.append(image.info["duration"])
        interval = min(durations)
        repeats = [round(duration / interval) for duration in durations]
        return np.repeat(np.stack(frames), repeats, axis=0), 1000 / interval
    with av.open(str(path)) as container:
        rate = float(container.streams.video[0].average_rate)
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]), rate


def test_nodes_share_their_inputs_and_explain_every_one(comfy):
    frames, save = (comfy.NODE_CLASS_MAPPINGS[n].GET_SCHEMA() for n in ("P10_ZoomVideoFrames", "P10_SaveZoomVideo"))
    # The shared inputs first, in the same order; loop and the timing lists last on both, in the order they
    # came, where old workflows have no widget (and Save Zoom Video's soundtrack after them).
    trailing = ["loop", "level_seconds", "holds", "rotation", "level_rotation"]
    shared = [i.id for i in frames.inputs[: -len(trailing)]]
    assert [i.id for i in save.inputs[: len(shared)]] == shared
    assert [i.id for i in frames.inputs[-len(trailing) :]] == trailing
    assert [i.id for i in save.inputs[-len(trailing) - 1 :]] == [*trailing, "audio"]
    for schema in (frames, save):
        assert schema.description and schema.category == "powers_of_ten"
        assert all(i.tooltip for i in schema.inputs), [i.id for i in schema.inputs if not i.tooltip]
    assert save.is_output_node and not frames.is_output_node


@pytest.mark.parametrize("video_format", FORMATS)
def test_saved_video_decodes_to_the_zoom_frames(comfy, texture, video_format):
    prompt = video_prompt("P10_SaveZoomVideo", texture, format=video_format, crf=10, filename_prefix="p10_test/zoom")
    prompt["5"] = video_prompt("P10_ZoomVideoFrames", texture)["4"]  # the same settings, as frames
    prompt["6"] = {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}}
    result = comfy.execute(prompt, capture=["5"]).raise_for_error()
    assert list(result.ui_outputs["4"]["animated"]) == [True]
    path = saved_path(comfy, result, "4")
    assert path.parent.name == "p10_test"
    frames, rate = decode(path)
    assert frames.shape == (FRAME_COUNT, 36, 64, 3)
    assert rate == pytest.approx(10, rel=0.01)
    # Compare luma: 4:2:0 chroma subsampling blurs colour by design. At crf 10 / quality 90 the
    # mean error is a few grey levels, well below that against the next frame of the zoom.
    luma = np.array([0.299, 0.587, 0.114])
    decoded, expected = frames @ luma, (result.node_output("5").numpy() * 255) @ luma
    error = np.abs(decoded - expected).mean()
    assert error < 4
    assert np.abs(decoded[1:-3] - expected[2:-2]).mean() > 2 * error


def test_frames_feed_core_animated_webp_and_video_nodes(comfy, texture):
    prompt = video_prompt("P10_ZoomVideoFrames", texture)
    prompt["5"] = {
        "class_type": "SaveAnimatedWEBP",
        "inputs": {
            "images": ["4", 0],
            "filename_prefix": "p10_test/frames",
            "fps": 10.0,
            "lossless": False,
            "quality": 80,
            "method": "fastest",
        },
    }
    prompt["6"] = {"class_type": "CreateVideo", "inputs": {"images": ["4", 0], "fps": 10.0}}
    prompt["7"] = {
        "class_type": "SaveVideo",
        "inputs": {"video": ["6", 0], "filename_prefix": "p10_test/frames", "format": "mp4", "codec": "h264"},
    }
    result = comfy.execute(prompt, capture=["4"]).raise_for_error()
    frames = result.node_output("4")
    assert frames.shape == (FRAME_COUNT, 36, 64, 3) and frames.dtype == torch.float32
    assert 0 <= frames.min() and frames.max() <= 1
    for node in ("5", "7"):
        decoded, rate = decode(saved_path(comfy, result, node))
        assert decoded.shape == (FRAME_COUNT, 36, 64, 3)
        assert rate == pytest.approx(10, rel=0.02)


def test_a_time_per_level_and_a_hold_set_the_frames(comfy, texture):
    # 3 levels at 10 fps: 0.5 s then 1 s, and a hold of 0.3 s at level 1, plus 1 + 2 frames held at the ends.
    prompt = video_prompt("P10_ZoomVideoFrames", texture, level_seconds="0.5, 1", holds="1: 0.3")
    frames = comfy.execute(prompt, capture=["4"]).raise_for_error().node_output("4")
    assert frames.shape == (1 + 18 + 1 + 2, 36, 64, 3)
    # The held level shows the same frame 4 times, from 0.5 s on (frame 1 + 5).
    same = (frames[1:] - frames[:-1]).abs().amax(dim=(1, 2, 3)) == 0
    assert same[6:9].all() and not same[5] and not same[9]


def test_a_turning_zoom_is_the_core_turned_frames(comfy, texture):
    # 37 degrees per level, and one angle per level: the node's frames are the core's for the same stack.
    for settings, degrees in (({"rotation": 37.0}, 37.0), ({"level_rotation": "90, -20"}, [90.0, -20.0])):
        prompt = video_prompt("P10_ZoomVideoFrames", texture, **settings)
        result = comfy.execute(prompt, capture=["3", "4"]).raise_for_error()
        stack, frames = result.node_output("3").movedim(-1, 1), result.node_output("4")
        timing = {k: v for k, v in TIMING.items() if k != "last_level"}
        positions = zoom_positions(LEVELS, **timing)
        angles = zoom_angles(positions, degrees, LEVELS)
        expected = render_zoom_frames(stack, 2, positions, (36, 64), angles=angles).movedim(1, -1).clamp(0, 1)
        torch.testing.assert_close(frames, expected, rtol=0, atol=1e-6)
        assert (frames[2] - frames[1]).abs().mean() > 0.01


@pytest.mark.parametrize(
    "node_type, settings, message",
    [
        (
            "P10_ZoomVideoFrames",
            {"level_rotation": "10, 20, 30"},
            "Zoom Video Frames: level_rotation gives 3 angles but the zoom has 3 levels, so 2 crossings",
        ),
        (
            "P10_ZoomVideoFrames",
            {"level_seconds": "1, 1, 1"},
            "Zoom Video Frames: level_seconds gives 3 times but the zoom has 3 levels, so 2 crossings",
        ),
        ("P10_ZoomVideoFrames", {"height": 40}, "Zoom Video Frames: size 40x64 (height x width) does not have the "),
        ("P10_ZoomVideoFrames", {"levels": 4}, "Zoom Video Frames: the image batch has 4 levels but the zoom has 3"),
        ("P10_ZoomVideoFrames", {"last_level": 3}, "Zoom Video Frames: first_level and last_level must satisfy"),
    ],
)
def test_bad_settings_fail_naming_the_node_and_numbers(comfy, texture, node_type, settings, message):
    before = set(comfy.layout.output_dir.rglob("bad*"))
    result = comfy.execute(video_prompt(node_type, texture, **settings))
    assert not result.success
    assert message in result.execution_error["exception_message"]
    assert set(comfy.layout.output_dir.rglob("bad*")) == before


@pytest.mark.parametrize(
    "node_type, settings, message",
    [
        (
            "P10_ZoomVideoFrames",
            {"width": 63},
            "Zoom Video Frames: width 63 is odd; video codecs need even frame sizes",
        ),
        ("P10_SaveZoomVideo", {"height": 35}, "Save Zoom Video: height 35 is odd; video codecs need even frame sizes"),
        ("P10_SaveZoomVideo", {"crf": 60}, "Save Zoom Video: crf 60 is above mp4 (h264)'s maximum 51"),
        ("P10_SaveZoomVideo", {"first_level": 2, "last_level": 1}, "last_level 1 must be deeper than first_level 2"),
        ("P10_ZoomVideoFrames", {"holds": "1 for 2 s"}, "Zoom Video Frames: holds line 1 '1 for 2 s' is not 'level: "),
        ("P10_SaveZoomVideo", {"holds": "0: 1"}, "Save Zoom Video: holds: level 0 is not between first_level 0 and "),
        ("P10_ZoomVideoFrames", {"level_seconds": "1, fast"}, "Zoom Video Frames: level_seconds entry 1 'fast' is not"),
        ("P10_SaveZoomVideo", {"level_rotation": "10, inf"}, "Save Zoom Video: level_rotation entry 1 is inf; give a "),
        (
            "P10_ZoomVideoFrames",
            {"loop": True, "level_rotation": "90, 90"},
            "Zoom Video Frames: loop turns at constant speed through every level: use rotation, not level_rotation",
        ),
    ],
)
def test_settings_the_inputs_alone_refute_fail_before_anything_runs(comfy, texture, node_type, settings, message):
    if node_type == "P10_SaveZoomVideo":
        settings = {"format": "mp4 (h264)", "crf": 19, "filename_prefix": "p10_test/bad"} | settings
    result = comfy.execute(video_prompt(node_type, texture, **settings))
    assert result.validation_error is not None, "nothing may run"
    assert message in validation_messages(result)


def beats_prompt(texture: str, levels: int, detect: str, **save) -> dict:
    """A click track timing a zoom of ``levels`` (Zoom Beats as node "21"); with ``save``, Save Zoom Video as "4"."""
    prompt = video_prompt("P10_SaveZoomVideo", texture, levels=levels, **save) if save else {}
    prompt["1"] = {
        "class_type": "P10_EmptyZoomLatent",
        "inputs": {"width": 64, "height": 64, "levels": levels, "zoom_factor": "2"},
    }
    # A click every 0.5 s from 0.25 s: at least 1 s apart, the crossings fall on the clicks at 1.25, 2.25, ... s.
    prompt["20"] = {"class_type": "LoadAudio", "inputs": {"audio": CLICK_TRACK}}
    prompt["21"] = {
        "class_type": "P10_ZoomBeats",
        "inputs": {"audio": ["20", 0], "zoom": ["1", 1], "detect": detect, "min_seconds": 1.0},
    }
    if save:
        prompt["4"]["inputs"] |= {"level_seconds": ["21", 0], "audio": ["20", 0]}
    return prompt


@pytest.mark.parametrize("detect", ["beats", "onsets"])
def test_zoom_beats_put_every_crossing_on_a_click_within_a_frame(comfy, detect):
    level_seconds = comfy.execute(beats_prompt(None, 5, detect), capture=["21"]).raise_for_error().node_output("21")
    seconds = [float(entry) for entry in level_seconds.split(",")]
    fps = 30
    positions = zoom_positions(5, fps=fps, seconds_per_level=seconds)
    clicks = CLICKS["first"] + CLICKS["interval"] * torch.arange(16, dtype=torch.float64)
    for level, reached in enumerate(torch.tensor(seconds, dtype=torch.float64).cumsum(0), start=1):
        # The frame that shows the level is within a frame of a click, and at least 1 s after the last crossing.
        frame = (positions - level).abs().argmin().item()
        assert (clicks - frame / fps).abs().min() <= 1 / fps, (level, frame, level_seconds)
        assert (clicks - reached).abs().min() <= 1 / fps
    assert min(seconds) >= 1.0


@pytest.mark.parametrize("video_format, sample_rate", [("mp4 (h264)", 44100), ("webm (vp9)", 48000)])
def test_the_saved_video_carries_the_track_cut_at_its_end(comfy, texture, video_format, sample_rate):
    # webm's Opus takes 48 kHz: the encoder resamples the 44.1 kHz track.
    settings = {"format": video_format, "crf": 19, "filename_prefix": "p10_test/beats", "hold_start": 0}
    result = comfy.execute(beats_prompt(texture, 5, "onsets", **settings), capture=["21"]).raise_for_error()
    path = saved_path(comfy, result, "4")
    duration = sum(float(entry) for entry in result.node_output("21").split(","))
    with av.open(str(path)) as container:
        sound = container.streams.audio[0]
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        samples = np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)
        rate = container.streams.audio[0].sample_rate
    assert sound.channels == 2 and rate == sample_rate
    # The zoom at 10 fps plus the 2 frames held at the end, and the track cut there (the codec pads its last frame).
    assert frames == round(duration * 10) + 1 + 2
    assert abs(samples.shape[1] / rate - frames / 10) < 0.05
    # The clicks are where they were: the loudest sample of each 0.5 s stretch lies within a frame of its click.
    loud = np.abs(samples).max(axis=0)
    for click in np.arange(0.25, frames / 10 - 0.25, 0.5):
        start = round((click - 0.2) * rate)
        peak = (start + np.argmax(loud[start : start + round(0.4 * rate)])) / rate
        assert abs(peak - click) < 1 / 10, (click, peak)


def test_an_animated_webp_refuses_a_soundtrack(comfy, texture):
    settings = {"format": "webp (animated)", "crf": 19, "filename_prefix": "p10_test/beats"}
    result = comfy.execute(beats_prompt(texture, 5, "onsets", **settings))
    assert not result.success
    assert "Save Zoom Video: webp (animated) cannot carry audio" in result.execution_error["exception_message"]


MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, shutil, sys
    sys.path.insert(0, sys.argv[1])
    from host.in_process import boot_comfyui

    host = boot_comfyui()
    shutil.copyfile(sys.argv[3], host.layout.input_dir / "texture.png")
    host.execute(json.loads(sys.argv[2])).raise_for_error()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """
)


def test_export_memory_does_not_grow_with_video_length(comfy):
    # Two processes export 61 and 601 frames of 256x256; their peak resident memory may differ by
    # less than ten such frames in float32 (7.5 MiB): frames are streamed, never held all at once.
    tests = pathlib.Path(__file__).resolve().parent
    texture = comfy.layout.base_dir / "memory_texture.png"
    write_texture(texture, 256, 256)

    def prompt(steps):
        return video_prompt(
            "P10_SaveZoomVideo",
            "texture.png",
            width=256,
            height=256,
            fps=30.0,
            seconds_per_level=steps / 90,  # 3 levels: 2 x 30 x s frames
            hold_start=0,
            hold_end=0,
            format="mp4 (h264)",
            crf=23,
            filename_prefix="memory",
        )

    runs = [
        subprocess.Popen(
            [sys.executable, "-c", MEMORY_PROBE, str(tests), json.dumps(prompt(steps)), str(texture)],
            cwd=tests,
            # One thread each: the probes run side by side, and on a small machine an oversubscribed
            # thread pool makes them slow without changing what is held in memory.
            env=os.environ | {"OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for steps in (60, 600)
    ]
    peaks = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-4000:]
        peaks.append(int(stdout.split()[-1]))
    short, long = peaks
    print(f"peak RSS: {short / 2**20:.1f} MiB for 61 frames, {long / 2**20:.1f} MiB for 601")
    assert long - short < 10 * 256 * 256 * 3 * 4, f"peak RSS grew by {(long - short) / 2**20:.1f} MiB"
