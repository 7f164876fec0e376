"""Zoom videos: continuous frames from a zoom stack (Zoom Video Frames) and streamed export (Save Zoom Video)."""

import contextlib
import json
import logging
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import comfy.model_management
import comfy.utils
import folder_paths
import torch
from comfy.cli_args import args
from comfy_api.latest import io, ui

from ..blending import (
    DIRECTIONS,
    EASINGS,
    ZoomLayout,
    check_frame_size,
    iter_zoom_frames,
    render_zoom_frames,
    zoom_angles,
    zoom_positions,
)
from .schema import CATEGORY, DEEPEST, MAX_SIZE, level_input, resolve_level, schema_error, zoom_input

log = logging.getLogger(__name__)

FRAMES, SAVE = "Zoom Video Frames", "Save Zoom Video"


@dataclass(frozen=True)
class VideoFormat:
    """How one export format is written with PyAV (FFmpeg)."""

    extension: str
    codec: str
    pix_fmt: str
    max_crf: int
    container_options: dict
    audio_codec: str | None
    audio_rates: tuple[int, ...] = ()
    """The sample rates the audio codec takes, when it does not take any (Opus: 48 kHz and its fractions)."""


FORMATS = {
    "mp4 (h264)": VideoFormat("mp4", "libx264", "yuv420p", 51, {"movflags": "use_metadata_tags"}, "aac"),
    "webm (vp9)": VideoFormat("webm", "libvpx-vp9", "yuv420p", 63, {}, "libopus", (48000, 24000, 16000, 12000, 8000)),
    "webp (animated)": VideoFormat("webp", "libwebp_anim", "bgra", 63, {"loop": "0"}, None),
}


def video_inputs() -> list:
    """The inputs both zoom video nodes share: the stack, its zoom, the frame size and the timing."""
    return [
        io.Image.Input(
            "images",
            tooltip="The zoom stack as images, one per level (e.g. after Blend Zoom Stack or Render Zoom Stack).",
        ),
        zoom_input(),
        io.Int.Input(
            "width",
            default=512,
            min=16,
            max=MAX_SIZE,
            step=2,
            tooltip="Frame width in pixels (even, for video codecs).",
        ),
        io.Int.Input(
            "height",
            default=0,
            min=0,
            max=MAX_SIZE,
            step=2,
            tooltip="Frame height in pixels (even). 0: from the width and the stack's aspect ratio. "
            "Frames always show the stack's whole field of view, so the aspect must match the stack's.",
        ),
        io.Float.Input("fps", default=30.0, min=1.0, max=120.0, step=1.0, tooltip="Frames per second."),
        io.Float.Input(
            "seconds_per_level",
            default=2.0,
            min=0.05,
            max=60.0,
            step=0.05,
            tooltip="Time to zoom through one level (one zoom_factor), on average over the zoom. level_seconds, "
            "when given, sets one time per level instead.",
        ),
        io.Combo.Input(
            "easing",
            options=list(EASINGS),
            default="linear",
            tooltip="linear: constant perceived speed. ease_in / ease_out: start / end slowly. ease_in_out: both.",
        ),
        io.Combo.Input(
            "direction",
            options=list(DIRECTIONS),
            default="in",
            tooltip="in: widest level to the deepest. out: the reverse. in_out: in, then back out (ping-pong).",
        ),
        io.Int.Input("hold_start", default=0, min=0, max=10000, tooltip="Frames to hold still at the start."),
        io.Int.Input(
            "hold_end",
            default=0,
            min=0,
            max=10000,
            tooltip="Frames to hold still where the zoom ends: the last frame, or for in_out the turning point.",
        ),
        level_input("first_level", "The widest level the zoom starts from (0: the widest)."),
        level_input("last_level", "The deepest level the zoom reaches.", default=DEEPEST, deepest=True),
    ]


def loop_input() -> io.Boolean.Input:
    """Both video nodes' last input: one seamless turn around a looping zoom."""
    return io.Boolean.Input(
        "loop",
        default=False,
        optional=True,
        tooltip="For a looping zoom (Empty Zoom Latent's loop): one whole turn through every level at constant "
        "speed, back to where it began, so the video repeats with no visible restart. Needs easing linear, "
        "direction in or out, and last_level -1.",
    )


def timing_inputs() -> list:
    """Both video nodes' trailing inputs, after ``loop`` (older workflows have no widget for them)."""
    return [
        io.String.Input(
            "level_seconds",
            default="",
            optional=True,
            tooltip="Seconds from each level to the next, one per level but the deepest (level 0 to 1 first), "
            "separated by commas or spaces: replaces seconds_per_level. The speed eases from one to the next "
            "around each crossing, with no jump. Empty: seconds_per_level for every level.",
        ),
        io.String.Input(
            "holds",
            default="",
            multiline=True,
            optional=True,
            tooltip="Levels to stop at on the way, one 'level: seconds' per line (for example '3: 2'). The zoom "
            "slows into each hold and out of it. Whole levels between first_level and last_level; use "
            "hold_start and hold_end at the ends.",
        ),
        io.Float.Input(
            "rotation",
            default=0.0,
            min=-360.0,
            max=360.0,
            step=1.0,
            optional=True,
            tooltip="Degrees the picture turns (counterclockwise) per level zoomed in; it turns back zooming out "
            "and stands still in holds. A turning video shows the largest turned frame that fits inside each "
            "view, so no corner is ever empty: 1/sqrt(2) of a square view once it has turned 45 degrees. A loop "
            "must turn whole turns per loop.",
        ),
        io.String.Input(
            "level_rotation",
            default="",
            optional=True,
            tooltip="Degrees from each level to the next, one per level but the deepest (level 0 to 1 first), "
            "separated by commas or spaces: replaces rotation. The turning speed eases from one to the next "
            "around each crossing. Not with loop.",
        ),
    ]


def parse_per_level(node: str, name: str, text: str | None, *, positive: bool) -> list[float] | None:
    """A list input such as ``level_seconds`` as numbers, or None when empty; errors name the node, input, entry."""
    entries = (text or "").replace(",", " ").split()
    if not entries:
        return None
    values = []
    for index, entry in enumerate(entries):
        try:
            value = float(entry)
        except ValueError:
            raise ValueError(f"{node}: {name} entry {index} {entry!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{node}: {name} entry {index} is {entry}; give a finite number")
        if positive and value <= 0:
            raise ValueError(f"{node}: {name} entry {index} is {entry}; every time must be above 0")
        values.append(value)
    return values


def parse_holds(node: str, text: str | None) -> dict[int, float]:
    """``holds`` as ``{level: seconds}``; errors name ``node``, the line and the value."""
    holds = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.replace(":", " ").replace(",", " ").split()
        try:
            if len(parts) != 2:
                raise ValueError
            level, seconds = int(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"{node}: holds line {number} {line.strip()!r} is not 'level: seconds'") from None
        if not (seconds > 0 and seconds != float("inf")):
            raise ValueError(
                f"{node}: holds line {number}: the hold at level {level} lasts {seconds:g} s; give more than 0"
            )
        if level in holds:
            raise ValueError(f"{node}: holds line {number}: level {level} is held twice")
        holds[level] = seconds
    return holds


def video_input_error(
    node: type[io.ComfyNode],
    width,
    height,
    first_level,
    last_level,
    loop=None,
    easing=None,
    direction=None,
    level_seconds=None,
    holds=None,
    level_rotation=None,
) -> str | None:
    """What the shared inputs alone show to be wrong, at validation, before any sampling runs."""
    error = schema_error(
        node,
        width=width,
        height=height,
        first_level=first_level,
        last_level=last_level,
        easing=easing,
        direction=direction,
    )
    if error:
        return error
    name = node.define_schema().display_name
    for label, value in (("width", width), ("height", height)):
        if value is not None and value % 2:
            return f"{name}: {label} {value} is odd; video codecs need even frame sizes"
    try:
        per_level, held = parse_per_level(name, "level_seconds", level_seconds, positive=True), parse_holds(name, holds)
        turns = parse_per_level(name, "level_rotation", level_rotation, positive=False)
    except ValueError as error:
        return str(error)
    if loop:
        if easing not in (None, "linear") or direction == "in_out" or last_level not in (None, DEEPEST):
            return (
                f"{name}: loop turns at constant speed through every level: it needs easing linear, direction in "
                f"or out and last_level -1; got easing {easing}, direction {direction}, last_level {last_level}"
            )
        if held or (per_level and len(set(per_level)) > 1):
            return f"{name}: loop turns at constant speed through every level: it takes no holds and one time per level"
        if turns:
            return f"{name}: loop turns at constant speed through every level: use rotation, not level_rotation"
        return None
    if None not in (first_level, last_level) and last_level != DEEPEST and last_level <= first_level:
        return f"{name}: last_level {last_level} must be deeper than first_level {first_level}"
    for level in held:
        deeper = first_level is None or level > first_level
        wider = last_level in (None, DEEPEST) or level < last_level
        if not (deeper and wider):
            return (
                f"{name}: holds: level {level} is not between first_level {first_level} and last_level "
                f"{last_level}; hold_start and hold_end hold the ends"
            )
    return None


@dataclass(frozen=True)
class ZoomVideo:
    """What both nodes render: the stack ``(N, C, H, W)``, its layout, one position per frame, ``(h, w)``, and
    one angle per frame (degrees; None for a zoom that does not turn)."""

    stack: torch.Tensor
    layout: ZoomLayout
    positions: torch.Tensor
    size: tuple[int, int]
    angles: torch.Tensor | None = None


def plan_zoom_video(
    node: str,
    images,
    zoom,
    width,
    height,
    last_level,
    loop=False,
    level_seconds="",
    holds="",
    rotation=0.0,
    level_rotation="",
    **timing,
) -> ZoomVideo:
    """The stack, frame size and frame positions the shared inputs describe; errors name ``node`` and the numbers."""
    zoom.check_count(images.shape[0], node, "the image batch")
    if loop and not zoom.layout.cyclic:
        raise ValueError(
            f"{node}: loop needs a looping zoom (turn on loop in Empty Zoom Latent); for a zoom in and back out "
            "use direction in_out"
        )
    stack = images.movedim(-1, 1)
    per_level, holds = parse_per_level(node, "level_seconds", level_seconds, positive=True), parse_holds(node, holds)
    turns = parse_per_level(node, "level_rotation", level_rotation, positive=False)
    try:
        size = frame_size(stack, width, height)
        deepest = None if loop else resolve_level(last_level, zoom.levels)
        if per_level is not None:
            if len(per_level) != zoom.levels - 1:
                raise ValueError(
                    f"level_seconds gives {len(per_level)} times but the zoom has {zoom.levels} levels, so "
                    f"{zoom.levels - 1} crossings"
                )
            timing["seconds_per_level"] = per_level
        positions = zoom_positions(zoom.levels, last_level=deepest, loop=loop, holds=holds, **timing)
        if turns is not None and len(turns) != zoom.levels - 1:
            raise ValueError(
                f"level_rotation gives {len(turns)} angles but the zoom has {zoom.levels} levels, so "
                f"{zoom.levels - 1} crossings"
            )
        turning = turns is not None or rotation
        angles = zoom_angles(positions, turns or rotation, zoom.levels, loop=loop) if turning else None
    except ValueError as error:
        raise ValueError(f"{node}: {error}") from None
    return ZoomVideo(stack, zoom.layout, positions, size, angles)


def frame_size(stack, width: int, height: int) -> tuple[int, int]:
    """``(height, width)`` of the frames; a height of 0 follows the stack's aspect, rounded to an even size."""
    _, _, stack_height, stack_width = stack.shape
    if height == 0:
        height = 2 * round(width * stack_height / stack_width / 2)
    return check_frame_size(stack_height, stack_width, (height, width))


class ZoomVideoFrames(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomVideoFrames",
            display_name=FRAMES,
            category=CATEGORY,
            description=(
                "Renders a continuous zoom through a zoom stack as video frames: every frame takes each pixel from "
                "the sharpest level that covers it, with anti-aliasing, and crossing from one level to the next "
                "does not pop. Feed the frames to Save Animated WEBP, or Create Video and Save Video. All frames "
                "are held in memory: for long or large videos use Save Zoom Video, which streams them to a file."
            ),
            inputs=[*video_inputs(), loop_input(), *timing_inputs()],
            outputs=[io.Image.Output(display_name="frames", tooltip="The video frames, in order.")],
        )

    @classmethod
    def validate_inputs(
        cls,
        width=None,
        height=None,
        first_level=None,
        last_level=None,
        loop=None,
        easing=None,
        direction=None,
        level_seconds=None,
        holds=None,
        level_rotation=None,
    ) -> bool | str:
        error = video_input_error(
            cls, width, height, first_level, last_level, loop, easing, direction, level_seconds, holds, level_rotation
        )
        return error or True

    @classmethod
    def execute(cls, images, zoom, width, height, last_level, **timing) -> io.NodeOutput:
        video = plan_zoom_video(FRAMES, images, zoom, width, height, last_level, **timing)
        height, width = video.size
        gib = video.positions.numel() * height * width * images.shape[-1] * images.element_size() / 2**30
        if gib > 2:
            log.warning("%s: %.1f GiB of frames in memory; %s streams them", FRAMES, gib, SAVE)
        frames = render_zoom_frames(video.stack, video.layout, video.positions, video.size, angles=video.angles)
        return io.NodeOutput(frames.movedim(1, -1).clamp_(0, 1))


class SaveZoomVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_SaveZoomVideo",
            display_name=SAVE,
            category=CATEGORY,
            description=(
                "Renders a continuous zoom through a zoom stack and encodes it to a video file in the output folder, "
                "frame by frame, so memory stays flat however long the video: mp4 (h264), webm (vp9) or animated "
                "WebP. The frames are those of Zoom Video Frames."
            ),
            inputs=[
                *video_inputs(),
                io.Combo.Input(
                    "format", options=list(FORMATS), default="mp4 (h264)", tooltip="Container and codec of the file."
                ),
                io.Int.Input(
                    "crf",
                    default=19,
                    min=0,
                    max=63,
                    tooltip="Quality: 0 is lossless, higher gives smaller files. h264 takes 0-51 (17-23 typical), "
                    "vp9 0-63 (24-36 typical); animated WebP uses quality 100 - crf.",
                ),
                io.String.Input(
                    "filename_prefix",
                    default="powers_of_ten/zoom",
                    tooltip="File name prefix in the output folder; may include subfolders and %date:...% fields.",
                ),
                loop_input(),
                *timing_inputs(),
                io.Audio.Input(
                    "audio",
                    optional=True,
                    tooltip="A soundtrack for the video (e.g. Load Audio, the one Zoom Beats timed the zoom to), from "
                    "its start, cut where the video ends. mp4 and webm only.",
                ),
            ],
            outputs=[],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(
        cls,
        width=None,
        height=None,
        first_level=None,
        last_level=None,
        loop=None,
        easing=None,
        direction=None,
        format=None,
        crf=None,
        level_seconds=None,
        holds=None,
        level_rotation=None,
    ) -> bool | str:
        error = video_input_error(
            cls, width, height, first_level, last_level, loop, easing, direction, level_seconds, holds, level_rotation
        )
        error = error or schema_error(cls, crf=crf, format=format)
        if error or None in (format, crf):
            return error or True
        if crf > FORMATS[format].max_crf:
            return f"{SAVE}: crf {crf} is above {format}'s maximum {FORMATS[format].max_crf}"
        return True

    @classmethod
    def execute(
        cls, images, zoom, width, height, last_level, format, crf, filename_prefix, audio=None, **timing
    ) -> io.NodeOutput:
        node = SAVE
        video_format = FORMATS[format]
        if audio is not None and video_format.audio_codec is None:
            raise ValueError(f"{node}: {format} cannot carry audio; use mp4 (h264) or webm (vp9), or leave audio out")
        video = plan_zoom_video(node, images, zoom, width, height, last_level, **timing)
        height, width = video.size
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, folder_paths.get_output_directory(), width, height
        )
        file = f"{name}_{counter:05}_.{video_format.extension}"
        # One frame at a time: the encoder is the bottleneck anyway, and small same-sized
        # temporaries keep the heap from fragmenting, so memory stays flat however long the video.
        frames = iter_zoom_frames(
            video.stack, video.layout, video.positions, video.size, angles=video.angles, chunk_size=1
        )
        progress = comfy.utils.ProgressBar(video.positions.numel())

        def on_chunk(count: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            progress.update(count)

        write_video(
            os.path.join(folder, file),
            frames,
            video_format,
            video.size,
            fps=timing["fps"],
            crf=crf,
            metadata=cls.metadata(),
            on_chunk=on_chunk,
            audio=audio,
        )
        log.info("%s: wrote %s (%d frames, %dx%d)", node, file, video.positions.numel(), width, height)
        return io.NodeOutput(ui=ui.PreviewVideo([ui.SavedResult(file, subfolder, io.FolderType.output)]))

    @classmethod
    def metadata(cls) -> dict:
        """The workflow and prompt, as core Save Video stores them, unless metadata is disabled."""
        if args.disable_metadata:
            return {}
        metadata = dict(cls.hidden.extra_pnginfo or {})
        if cls.hidden.prompt is not None:
            metadata["prompt"] = cls.hidden.prompt
        return metadata


def write_video(
    path: str,
    frames,
    video_format: VideoFormat,
    size: tuple[int, int],
    fps: float,
    crf: int,
    metadata: dict,
    on_chunk,
    audio: dict | None = None,
) -> None:
    """Encode chunks of frames to ``path`` as they arrive, then the soundtrack, if any.

    Only the chunk in hand and the encoder's own look-ahead are in memory
    (libwebp assembles an animated WebP in memory, compressed, until the end).
    A file left unfinished by an error or a cancel is removed.

    Args:
        path: the file to write.
        frames: an iterable of frame chunks in ``[0, 1]``, e.g. from :func:`~..blending.iter_zoom_frames`;
            they are overwritten while being converted.
        video_format: one of :data:`FORMATS`.
        size: frame ``(height, width)``.
        fps: frames per second.
        crf: quality, 0 lossless; see the Save Zoom Video node.
        metadata: container tags; non-string values are stored as JSON.
        on_chunk: called with the number of frames after each chunk (progress, cancel).
        audio: an AUDIO (``waveform`` ``(B, channels, samples)``, the first track used, and ``sample_rate``),
            from time 0 and cut at the last frame's end; only for a format with an audio codec.

    Shape:
        each chunk ``(f, C, h, w)``, ``C >= 3`` (extra channels are ignored).
    """
    rate = Fraction(round(fps * 1000), 1000)
    container = av.open(path, mode="w", options=video_format.container_options)
    try:
        for key, value in metadata.items():
            container.metadata[key] = value if isinstance(value, str) else json.dumps(value)
        stream = container.add_stream(video_format.codec, rate=rate)
        stream.height, stream.width = size
        stream.pix_fmt = video_format.pix_fmt
        stream.time_base = 1 / rate
        stream.options = _encoder_options(video_format.codec, crf)
        if video_format.codec == "libvpx-vp9":
            stream.bit_rate = 0  # constant quality: crf alone sets it
        sound = None if audio is None else _add_audio_stream(container, video_format, audio)
        index = 0
        for chunk in frames:
            pixels = chunk[:, :3].movedim(1, -1).mul_(255).round_().clamp_(0, 255).to("cpu", torch.uint8).numpy()
            for image in pixels:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = index
                index += 1
                container.mux(stream.encode(frame))
            on_chunk(len(pixels))
        container.mux(stream.encode(None))
        if sound is not None:
            _write_audio(container, sound, audio, seconds=index / rate)
        container.close()
    except BaseException:
        with contextlib.suppress(Exception):  # the error that got us here is the one to report
            container.close()
        os.remove(path)
        raise


def _add_audio_stream(container, video_format: VideoFormat, audio: dict):
    """The audio stream, at the track's rate, or at the nearest the codec takes (the encoder resamples)."""
    sample_rate = int(audio["sample_rate"])
    if video_format.audio_rates and sample_rate not in video_format.audio_rates:
        sample_rate = min(video_format.audio_rates, key=lambda rate: (abs(rate - sample_rate), -rate))
    channels = audio["waveform"].shape[1]
    return container.add_stream(
        video_format.audio_codec, rate=sample_rate, layout="mono" if channels == 1 else "stereo"
    )


def _write_audio(container, stream, audio: dict, seconds: float) -> None:
    """The track's first ``seconds``, mono or stereo (a third channel and beyond are left out), from time 0."""
    sample_rate = int(audio["sample_rate"])
    waveform = audio["waveform"][0, :2, : math.ceil(seconds * sample_rate)]
    samples = waveform.float().clamp(-1, 1).cpu().numpy()
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono" if samples.shape[0] == 1 else "stereo")
    frame.sample_rate = sample_rate
    frame.pts = 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _encoder_options(codec: str, crf: int) -> dict:
    if codec == "libwebp_anim":
        return {"lossless": "1"} if crf == 0 else {"quality": str(100 - crf)}
    if codec == "libvpx-vp9":
        # cpu-used 4 and row threading make long VP9 encodes practical at little cost in quality.
        return {"crf": str(crf), "cpu-used": "4", "row-mt": "1"} | ({"lossless": "1"} if crf == 0 else {})
    return {"crf": str(crf)}
