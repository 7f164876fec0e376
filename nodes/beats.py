"""Zoom Beats: a zoom's level crossings on a track's beats or onsets, as the video nodes' ``level_seconds``."""

import torch
from comfy_api.latest import io

from ..blending import beat_level_seconds
from .schema import CATEGORY, schema_error, zoom_input

NODE = "Zoom Beats"
DETECTORS = ("beats", "onsets")
"""librosa's beat tracker (a steady pulse) or its onset detector (every new note or hit)."""


def detect_beats(waveform: torch.Tensor, sample_rate: int, detector: str) -> list[float]:
    """Beat or onset times in seconds of a track (librosa, from its onset strength envelope).

    Shape:
        waveform ``(channels, samples)``, mixed to mono.
    """
    # Imported here: an install without librosa still loads the pack, and only this node asks for it.
    try:
        import librosa
    except ImportError:
        raise RuntimeError(f"{NODE} needs librosa, a dependency of this pack: pip install 'librosa>=0.10'") from None
    mono = waveform.float().mean(0).cpu().numpy()
    envelope = librosa.onset.onset_strength(y=mono, sr=sample_rate)
    if detector == "beats":
        _, times = librosa.beat.beat_track(onset_envelope=envelope, sr=sample_rate, units="time")
    else:
        times = librosa.onset.onset_detect(onset_envelope=envelope, sr=sample_rate, units="time")
    return [float(time) for time in times]


class ZoomBeats(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomBeats",
            display_name=NODE,
            category=CATEGORY,
            description=(
                "Times a zoom video to music: finds the beats (or onsets) of an audio track and puts each level "
                "crossing on one, at least min_seconds apart. Connect level_seconds to Save Zoom Video's (or Zoom "
                "Video Frames') level_seconds, and the same audio to Save Zoom Video's audio. The zoom starts "
                "with the track: hold_start and holds delay the crossings after them."
            ),
            inputs=[
                io.Audio.Input("audio", tooltip="The track, e.g. from Load Audio."),
                zoom_input(),
                io.Combo.Input(
                    "detect",
                    options=list(DETECTORS),
                    default="beats",
                    tooltip="beats: the track's steady pulse (librosa's beat tracker). onsets: every new note "
                    "or hit, for music without a steady beat.",
                ),
                io.Float.Input(
                    "min_seconds",
                    default=1.0,
                    min=0.1,
                    max=60.0,
                    step=0.1,
                    tooltip="The shortest time from one level to the next: each crossing takes the first beat at "
                    "least this long after the one before.",
                ),
            ],
            outputs=[
                io.String.Output(
                    display_name="level_seconds",
                    tooltip="Seconds from each level to the next, for the video nodes' level_seconds.",
                )
            ],
        )

    @classmethod
    def validate_inputs(cls, detect=None, min_seconds=None) -> bool | str:
        return schema_error(cls, detect=detect, min_seconds=min_seconds) or True

    @classmethod
    def execute(cls, audio, zoom, detect, min_seconds) -> io.NodeOutput:
        beats = detect_beats(audio["waveform"][0], audio["sample_rate"], detect)
        try:
            seconds = beat_level_seconds(beats, zoom.levels, min_seconds)
        except ValueError as error:
            raise ValueError(f"{NODE}: {error}") from None
        return io.NodeOutput(", ".join(f"{value:.4f}" for value in seconds))
