"""Where a test ComfyUI finds its checkout, models and custom nodes: a private ``--base-directory``.

Models: ``<base>/models/checkpoints/<name>`` links to the tiny SD1.5 checkpoint
(``scripts/make_tiny_checkpoint.py``, generated on first use), and the TAESD
folders under ``<repo>/../shared/models`` are registered as ``vae_approx``
through an ``extra_model_paths`` yaml (the same file serves the in-process host
and the server). Input: :data:`CLICK_TRACK`, for core Load Audio.
"""

import dataclasses
import json
import math
import os
import pathlib
import shutil
import socket
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"
PACK_NAME = "powers_of_ten"
STAND_INS = pathlib.Path(__file__).resolve().parent / "stand_ins"
"""A test-only node pack loaded beside the pack: stand-in models, and an output node that captures raw outputs."""
STAND_INS_NAME = "p10_stand_ins"
TINY_MODELS = REPO_ROOT / ".cache" / "models"
"""Where ``scripts/make_tiny_models.py`` writes the tiny family models and the generated VAEs (Wan 2.1, Flux.2)."""
CLICK_TRACK = "clicks.wav"
"""The click track in every test ComfyUI's input folder: :data:`CLICKS`, 16-bit PCM."""
CLICKS = {"seconds": 8.0, "first": 0.25, "interval": 0.5, "sample_rate": 44100}
"""A click every ``interval`` seconds from ``first``, ``seconds`` long."""


def locate_comfyui() -> pathlib.Path | None:
    """The ComfyUI checkout: ``$COMFYUI_PATH``, else ``<repo>/../ComfyUI``; None when it has no ``main.py``.

    A set but wrong ``COMFYUI_PATH`` does not fall back to the default.
    """
    candidate = pathlib.Path(os.environ.get("COMFYUI_PATH") or REPO_ROOT.parent / "ComfyUI").expanduser().resolve()
    return candidate if (candidate / "main.py").is_file() else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_click_track(path: pathlib.Path, seconds: float, first: float, interval: float, sample_rate: int) -> None:
    """A stereo track of 200-sample windowed tone bursts at ``first + k * interval``, silence between.

    Written by PyAV in the format the name says: ``.wav`` (16-bit PCM, every
    click on its sample) or ``.mp3``.
    """
    import av
    import torch

    waveform = torch.zeros(2, round(seconds * sample_rate))
    burst = torch.hann_window(200) * torch.sin(torch.arange(200) * 0.9)
    for index in range(math.floor((seconds - first) / interval) + 1):
        start = round((first + index * interval) * sample_rate)
        waveform[:, start : start + 200] += burst[: waveform.shape[-1] - start]
    codec = {".wav": "pcm_s16le", ".mp3": "libmp3lame"}[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=sample_rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(waveform.numpy(), format="fltp", layout="stereo")
        frame.sample_rate = sample_rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def tiny_checkpoint() -> pathlib.Path:
    """The tiny SD1.5 checkpoint in ``<repo>/.cache``, generated if missing or stale."""
    from helpers import import_path

    maker = import_path("make_tiny_checkpoint", REPO_ROOT / "scripts" / "make_tiny_checkpoint.py")
    return maker.ensure_tiny_checkpoint()


def tiny_lora() -> pathlib.Path:
    """The tiny LoRA for the tiny checkpoint, generated if missing."""
    from helpers import import_path

    return import_path("make_tiny_lora", REPO_ROOT / "scripts" / "make_tiny_lora.py").ensure_tiny_lora()


@dataclasses.dataclass
class ComfyLayout:
    """A private ComfyUI ``--base-directory`` (models, custom_nodes, input, output, temp, user)."""

    base_dir: pathlib.Path
    extra_model_paths_yaml: pathlib.Path
    checkpoint_name: str

    @property
    def custom_nodes_dir(self) -> pathlib.Path:
        return self.base_dir / "custom_nodes"

    @property
    def output_dir(self) -> pathlib.Path:
        return self.base_dir / "output"

    @property
    def input_dir(self) -> pathlib.Path:
        return self.base_dir / "input"

    @property
    def user_dir(self) -> pathlib.Path:
        return self.base_dir / "user"

    def pack_path(self) -> pathlib.Path:
        """Where ComfyUI sees the pack (the link inside custom_nodes)."""
        return self.custom_nodes_dir / PACK_NAME

    def stand_ins_path(self) -> pathlib.Path:
        """Where ComfyUI sees the stand-in test pack."""
        return self.custom_nodes_dir / STAND_INS_NAME

    def args(self) -> list[str]:
        """ComfyUI command-line flags that point it at this layout."""
        return [
            "--base-directory",
            str(self.base_dir),
            "--extra-model-paths-config",
            str(self.extra_model_paths_yaml),
            "--database-url",
            "sqlite:///:memory:",
        ]

    def cleanup(self) -> None:
        shutil.rmtree(self.base_dir, ignore_errors=True)


def prepare_layout() -> ComfyLayout:
    """A new private base directory with this pack, the tiny checkpoint, its LoRA, the shared TAESD folders and
    the click track."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="p10_comfy_"))
    for sub in ("custom_nodes", "models/checkpoints", "input", "output", "temp", "user"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "custom_nodes" / PACK_NAME).symlink_to(REPO_ROOT, target_is_directory=True)
    (base / "custom_nodes" / STAND_INS_NAME).symlink_to(STAND_INS, target_is_directory=True)
    write_click_track(base / "input" / CLICK_TRACK, **CLICKS)
    TINY_MODELS.mkdir(parents=True, exist_ok=True)
    checkpoint = tiny_checkpoint()
    (base / "models" / "checkpoints" / checkpoint.name).symlink_to(checkpoint)

    shared = sorted(p for p in SHARED_MODELS.iterdir() if p.is_dir() and p.name.startswith("tae"))
    folders = {
        "vae_approx": [str(p) for p in shared],
        # The tiny family models, as UNETLoader and CheckpointLoaderSimple list them (generated on first use).
        "diffusion_models": [str(TINY_MODELS)],
        "checkpoints": [str(TINY_MODELS)],
        "vae": [str(TINY_MODELS)],  # the generated Wan 2.1 and Flux.2 VAEs, for Load VAE
        "loras": [str(tiny_lora().parent.resolve())],
    }
    # JSON strings are valid YAML double-quoted scalars: no yaml dependency needed here
    lines = ["powers_of_ten_tests:"] + [f"  {kind}: {json.dumps(chr(10).join(dirs))}" for kind, dirs in folders.items()]
    yaml_path = base / "extra_model_paths.yaml"
    yaml_path.write_text("\n".join(lines) + "\n")
    return ComfyLayout(base_dir=base, extra_model_paths_yaml=yaml_path, checkpoint_name=checkpoint.name)
