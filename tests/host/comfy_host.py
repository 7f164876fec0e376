"""Test host for running this node pack inside a real ComfyUI checkout.

A plain helper module (no pytest imports): fixtures wire it up.  Three parts:

* :func:`locate_comfyui` finds the checkout (``COMFYUI_PATH`` or ``<repo>/../ComfyUI``).
* :func:`boot_comfyui` boots ComfyUI *in this process* once (``--cpu``, a private
  temporary ``--base-directory``), loads ComfyUI's own extra nodes and then our
  pack through ComfyUI's real custom-node loader (``nodes.init_extra_nodes``), from
  a temporary ``custom_nodes`` folder holding a symlink ``powers_of_ten -> <repo>``.
  The returned :class:`ComfyHost` gives ``NODE_CLASS_MAPPINGS``, the import
  failures and the boot log, and runs API-format prompts through
  ``execution.validate_prompt`` + ``execution.PromptExecutor`` (:meth:`ComfyHost.execute`).
* :class:`ComfyServer` runs the real HTTP server (``main.py``) as a subprocess on
  127.0.0.1 with a free port, same folder layout; :func:`run_prompt_http` POSTs
  ``/prompt`` and polls ``/history`` until the prompt is done.

Models: ``<base>/models/checkpoints/<name>`` is a symlink to the tiny SD1.5
checkpoint (``scripts/make_tiny_checkpoint.py``, generated on first use), and
the TAESD folders under ``<repo>/../shared/models`` are registered as
``vae_approx`` through an ``extra_model_paths`` yaml (the same file serves the
in-process host and the server).
"""

import asyncio
import atexit
import concurrent.futures
import dataclasses
import importlib.util
import json
import logging
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Iterable, Mapping

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"
PACK_NAME = "powers_of_ten"
CHECKPOINT_NAME = "tiny_sd15.safetensors"

# Top-level module names of a ComfyUI checkout that a test process could already
# have imported from somewhere else (our repo has a ``nodes/`` package, for one).
_COMFY_TOP_LEVEL = (
    "nodes",
    "execution",
    "server",
    "folder_paths",
    "utils",
    "app",
    "comfy",
    "comfy_extras",
    "comfy_execution",
    "comfy_api",
    "comfy_config",
    "protocol",
    "latent_preview",
    "node_helpers",
    "middleware",
    "api_server",
    "hook_breaker_ac10a0",
    "comfyui_version",
)


# --------------------------------------------------------------------------- paths


def locate_comfyui(explicit: str | os.PathLike | None = None) -> pathlib.Path | None:
    """The ComfyUI checkout: ``explicit``, else ``$COMFYUI_PATH``, else ``<repo>/../ComfyUI``.

    Returns None when the chosen candidate has no ``main.py`` (a set but wrong
    ``COMFYUI_PATH`` does not fall back to the default).
    """
    if explicit is not None:
        candidates = [explicit]
    elif os.environ.get("COMFYUI_PATH"):
        candidates = [os.environ["COMFYUI_PATH"]]
    else:
        candidates = [REPO_ROOT.parent / "ComfyUI"]
    for c in candidates:
        p = pathlib.Path(c).expanduser().resolve()
        if (p / "main.py").is_file():
            return p
    return None


def _load_checkpoint_maker():
    path = REPO_ROOT / "scripts" / "make_tiny_checkpoint.py"
    spec = importlib.util.spec_from_file_location("p10_make_tiny_checkpoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_checkpoint(path: str | os.PathLike | None = None, *, middle_block: bool = False) -> pathlib.Path:
    """The tiny SD1.5 checkpoint (default ``<repo>/.cache/tiny_sd15.safetensors``), generated if missing.

    ``middle_block=True``: the variant with a UNet middle block (``tiny_sd15_mid.safetensors``).
    """
    return _load_checkpoint_maker().ensure_tiny_checkpoint(path, middle_block=middle_block)


def shared_vae_approx_dirs(shared_models: pathlib.Path = SHARED_MODELS) -> list[pathlib.Path]:
    """The TAESD-family folders (taesd, taesdxl, taesd3, taef1) under shared/models."""
    if not shared_models.is_dir():
        return []
    return sorted(p for p in shared_models.iterdir() if p.is_dir() and p.name.startswith("tae"))


@dataclasses.dataclass
class ComfyLayout:
    """A private ComfyUI ``--base-directory`` (models, custom_nodes, input, output, temp, user)."""

    base_dir: pathlib.Path
    custom_nodes_dir: pathlib.Path
    checkpoints_dir: pathlib.Path
    extra_model_paths_yaml: pathlib.Path
    checkpoint_name: str
    packs: dict[str, pathlib.Path]

    @property
    def output_dir(self) -> pathlib.Path:
        return self.base_dir / "output"

    @property
    def input_dir(self) -> pathlib.Path:
        return self.base_dir / "input"

    @property
    def temp_dir(self) -> pathlib.Path:
        return self.base_dir / "temp"

    @property
    def user_dir(self) -> pathlib.Path:
        return self.base_dir / "user"

    def pack_path(self, name: str = PACK_NAME) -> pathlib.Path:
        """Where ComfyUI sees the pack (the symlink inside custom_nodes)."""
        return self.custom_nodes_dir / name

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


def prepare_layout(
    *,
    packs: Mapping[str, str | os.PathLike] | None = None,
    checkpoint: str | os.PathLike | None = None,
    extra_model_paths: Mapping[str, Iterable[str | os.PathLike]] | None = None,
    base_dir: str | os.PathLike | None = None,
) -> ComfyLayout:
    """Create a private base directory for ComfyUI.

    packs: custom-node folders to load, ``{module_name: folder}``; default
        ``{"powers_of_ten": <repo root>}``.  Each becomes a symlink in
        ``<base>/custom_nodes``; nothing from ComfyUI's own custom_nodes is loaded.
    checkpoint: the checkpoint to offer as ``CheckpointLoaderSimple`` input; default
        the tiny SD1.5 one (generated if missing).  Its file name is the ckpt_name.
    extra_model_paths: more model folders, ``{folder_type: [dir, ...]}``, added to
        the shared TAESD folders registered as ``vae_approx``.
    """
    base = pathlib.Path(base_dir) if base_dir else pathlib.Path(tempfile.mkdtemp(prefix="p10_comfy_"))
    for sub in ("custom_nodes", "models/checkpoints", "input", "output", "temp", "user"):
        (base / sub).mkdir(parents=True, exist_ok=True)

    packs = {PACK_NAME: REPO_ROOT} if packs is None else dict(packs)
    resolved_packs = {}
    for name, folder in packs.items():
        if "." in name or "/" in name:
            raise ValueError(f"bad pack module name {name!r}")
        folder = pathlib.Path(folder).resolve()
        link = base / "custom_nodes" / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(folder, target_is_directory=True)
        resolved_packs[name] = folder

    ckpt = pathlib.Path(checkpoint).resolve() if checkpoint else ensure_checkpoint()
    ckpt_link = base / "models" / "checkpoints" / ckpt.name
    if ckpt_link.is_symlink() or ckpt_link.exists():
        ckpt_link.unlink()
    ckpt_link.symlink_to(ckpt)

    folders: dict[str, list[str]] = {"vae_approx": [str(p) for p in shared_vae_approx_dirs()]}
    for kind, dirs in (extra_model_paths or {}).items():
        folders.setdefault(kind, []).extend(str(pathlib.Path(d).resolve()) for d in dirs)
    # JSON strings are valid YAML double-quoted scalars: no yaml dependency needed here
    lines = ["powers_of_ten_tests:"]
    for kind, dirs in folders.items():
        if dirs:
            lines.append(f"  {kind}: {json.dumps(chr(10).join(dirs))}")
    yaml_path = base / "extra_model_paths.yaml"
    yaml_path.write_text("\n".join(lines) + "\n" if len(lines) > 1 else "{}\n")

    return ComfyLayout(
        base_dir=base,
        custom_nodes_dir=base / "custom_nodes",
        checkpoints_dir=base / "models" / "checkpoints",
        extra_model_paths_yaml=yaml_path,
        checkpoint_name=ckpt.name,
        packs=resolved_packs,
    )


# --------------------------------------------------------------------------- async helpers


def _run_sync(fn, *args, **kwargs):
    """Call ``fn`` here, or in a worker thread when this thread runs an event loop
    (ComfyUI's loader and executor call ``asyncio.run`` / need their own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def _run_coro(coro_fn, *args, **kwargs):
    return _run_sync(lambda: asyncio.run(coro_fn(*args, **kwargs)))


class _LogCapture(logging.Handler):
    """Collects root-logger records while active (lowering the root level if needed)."""

    def __init__(self, level=logging.INFO):
        super().__init__(level)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._lock_ = threading.Lock()

    def emit(self, record):
        with self._lock_:
            self.records.append(record)

    def __enter__(self):
        root = logging.getLogger()
        self._old_level = root.level
        if root.level == logging.NOTSET or root.level > self.level:
            root.setLevel(self.level)
        root.addHandler(self)
        return self

    def __exit__(self, *exc):
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._old_level)

    def lines(self) -> list[str]:
        out = []
        for r in self.records:
            try:
                out.append(self.format(r))
            except Exception:  # a record whose args do not format
                out.append(f"{r.levelname} {r.name}: {r.msg!r}")
        return out


# --------------------------------------------------------------------------- in-process host


class DummyServer:
    """What PromptExecutor needs from ``server.PromptServer``: records what it is sent."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata: dict = {}
        self.events: list[tuple[str, Any]] = []
        self.progress_text: list[tuple[str, Any]] = []

    def send_sync(self, event, data, sid=None):
        self.events.append((event, data))

    def send_progress_text(self, text, node_id, sid=None):
        self.progress_text.append((node_id, text))

    def queue_updated(self):
        pass


class PromptFailed(AssertionError):
    """Raised by ``ExecutionResult.raise_for_error`` / ``run_prompt_http(check=True)``."""


@dataclasses.dataclass
class ExecutionResult:
    prompt_id: str
    success: bool  # validated and executed without error
    validation_error: dict | None  # execution.validate_prompt's error (None if valid)
    node_errors: dict  # per-node validation errors
    execution_error: dict | None  # the "execution_error" message (traceback, node_id, ...)
    ui_outputs: dict  # node_id -> ui dict (e.g. {"images": [{filename, subfolder, type}]})
    messages: list  # executor.status_messages: [(event, data), ...]
    events: list  # what the dummy server was sent
    log: list[str]  # log lines during execution
    seconds: float
    _executor: Any = dataclasses.field(default=None, repr=False)

    def node_output(self, node_id: str, index: int = 0, batch: int | None = 0):
        """A node's raw output from the executor's cache, e.g. the KSampler LATENT dict.

        ``index``: which output socket; ``batch``: which list item (ComfyUI keeps
        each output as a list; None returns the whole list).
        """
        if self._executor is None:
            raise KeyError(f"prompt {self.prompt_id} did not execute (validation failed)")
        cached = self._executor.caches.outputs.get(str(node_id))
        if cached is None:
            raise KeyError(f"no cached output for node {node_id!r}")
        values = cached[index]
        return values if batch is None else values[batch]

    def raise_for_error(self) -> "ExecutionResult":
        if not self.success:
            if self.validation_error is not None:
                raise PromptFailed(f"prompt invalid: {self.validation_error}; node errors: {self.node_errors}")
            e = self.execution_error or {}
            raise PromptFailed(
                f"node {e.get('node_id')} ({e.get('node_type')}) failed: {e.get('exception_type')}: "
                f"{e.get('exception_message')}\n{''.join(e.get('traceback') or [])}"
            )
        return self


@dataclasses.dataclass
class ComfyHost:
    comfy_path: pathlib.Path
    layout: ComfyLayout
    nodes: Any  # ComfyUI's ``nodes`` module
    execution: Any  # ComfyUI's ``execution`` module
    folder_paths: Any
    server: DummyServer
    extras_import_failures: list[str]  # comfy_extras files that failed (e.g. nodes_audio.py: no torchaudio)
    custom_import_failures: list[str]  # custom-node paths logged as "(IMPORT FAILED)"
    boot_log: list[str]
    boot_seconds: float
    _executor: Any = dataclasses.field(default=None, repr=False)

    @property
    def NODE_CLASS_MAPPINGS(self) -> dict:
        return self.nodes.NODE_CLASS_MAPPINGS

    @property
    def checkpoint_name(self) -> str:
        return self.layout.checkpoint_name

    def pack_sys_module_name(self, name: str = PACK_NAME) -> str:
        # nodes.load_custom_node registers a folder module under its *full path*
        # with dots replaced, not under its folder name
        return str(self.layout.pack_path(name)).replace(".", "_x_")

    def pack_module(self, name: str = PACK_NAME):
        """The pack's module object as ComfyUI imported it (None if its import failed)."""
        return sys.modules.get(self.pack_sys_module_name(name))

    def pack_loaded(self, name: str = PACK_NAME) -> bool:
        """True when ComfyUI imported the pack and registered its nodes without error."""
        path = str(self.layout.pack_path(name))
        return name in self.nodes.LOADED_MODULE_DIRS and path not in self.custom_import_failures

    def pack_log(self, name: str = PACK_NAME) -> str:
        """Boot-log lines that mention the pack (its tracebacks and warnings)."""
        path = str(self.layout.pack_path(name))
        return "\n".join(line for line in self.boot_log if path in line or f"/{name}/" in line)

    def pack_node_ids(self, name: str = PACK_NAME) -> list[str]:
        """Node ids whose class ComfyUI attributed to the pack (``custom_nodes.<name>``)."""
        rel = f"custom_nodes.{name}"
        return sorted(
            k for k, v in self.NODE_CLASS_MAPPINGS.items() if getattr(v, "RELATIVE_PYTHON_MODULE", None) == rel
        )

    def executor(self, fresh: bool = False):
        """The shared ``execution.PromptExecutor`` (classic cache), or a new one."""
        if fresh or self._executor is None:
            ex = self.execution.PromptExecutor(self.server, cache_type=self.execution.CacheType.CLASSIC)
            if fresh:
                return ex
            self._executor = ex
        return self._executor

    def validate(self, prompt: dict, prompt_id: str | None = None):
        """``execution.validate_prompt``: (valid, error, output_node_ids, node_errors)."""
        return _run_coro(self.execution.validate_prompt, prompt_id or str(uuid.uuid4()), prompt, None)

    def execute(
        self,
        prompt: dict,
        *,
        prompt_id: str | None = None,
        fresh_cache: bool = True,
        extra_data: dict | None = None,
        log_level: int = logging.INFO,
    ) -> ExecutionResult:
        """Validate and run an API-format prompt through ComfyUI's real executor.

        fresh_cache: a new PromptExecutor (no outputs cached from earlier prompts);
            False reuses the host's executor and its cache, as the server would.
        Never raises for prompt errors: check ``result.success`` or call
        ``result.raise_for_error()``.
        """
        import copy

        prompt = copy.deepcopy(prompt)  # validation and execution may annotate it
        prompt_id = prompt_id or str(uuid.uuid4())
        self.server.events = []
        t0 = time.perf_counter()
        with _LogCapture(log_level) as cap:
            valid, error, outputs, node_errors = self.validate(prompt, prompt_id)
            if not valid:
                return ExecutionResult(
                    prompt_id,
                    False,
                    error,
                    node_errors,
                    None,
                    {},
                    [],
                    list(self.server.events),
                    cap.lines(),
                    time.perf_counter() - t0,
                )
            ex = self.executor(fresh=fresh_cache)
            _run_sync(ex.execute, prompt, prompt_id, dict(extra_data or {}), outputs)
        messages = list(ex.status_messages)
        exec_error = next((d for ev, d in messages if ev == "execution_error"), None)
        interrupted = next((d for ev, d in messages if ev == "execution_interrupted"), None)
        if exec_error is None and interrupted is not None:
            exec_error = {
                **interrupted,
                "exception_type": "InterruptProcessingException",
                "exception_message": "execution interrupted",
            }
        history = getattr(ex, "history_result", None) or {}
        return ExecutionResult(
            prompt_id=prompt_id,
            success=bool(ex.success) and exec_error is None,
            validation_error=None,
            node_errors=node_errors,
            execution_error=exec_error,
            ui_outputs=dict(history.get("outputs", {})),
            messages=messages,
            events=list(self.server.events),
            log=cap.lines(),
            seconds=time.perf_counter() - t0,
            _executor=ex,
        )


_HOST: ComfyHost | None = None
_HOST_LOCK = threading.Lock()


class ComfyUINotFound(RuntimeError):
    pass


def _check_module_conflicts(comfy: pathlib.Path) -> None:
    clashes = []
    for name in _COMFY_TOP_LEVEL:
        mod = sys.modules.get(name)
        if mod is None:
            continue
        where = getattr(mod, "__file__", None) or next(iter(getattr(mod, "__path__", []) or []), None)
        if where is None or not pathlib.Path(where).resolve().is_relative_to(comfy):
            clashes.append(f"{name} ({where})")
    if clashes:
        raise RuntimeError(
            "cannot boot ComfyUI in this process: these top-level modules are already imported "
            f"from outside {comfy}: {', '.join(clashes)}. Keep the repo root off sys.path "
            "(or import ComfyUI before them)."
        )


def get_host() -> ComfyHost | None:
    """The in-process host if :func:`boot_comfyui` already ran in this process."""
    return _HOST


def boot_comfyui(
    comfy_path: str | os.PathLike | None = None,
    *,
    packs: Mapping[str, str | os.PathLike] | None = None,
    checkpoint: str | os.PathLike | None = None,
    extra_model_paths: Mapping[str, Iterable[str | os.PathLike]] | None = None,
    extra_args: Iterable[str] = (),
) -> ComfyHost:
    """Boot ComfyUI in this process (once; later calls return the same host).

    Puts ``--cpu`` and a private ``--base-directory`` (plus ``extra_args``) into
    sys.argv while ``comfy.cli_args`` parses them, loads ComfyUI's extra nodes
    (not the API nodes) and then the ``packs`` (default: this repo as
    ``powers_of_ten``) through ``nodes.init_extra_nodes``.  Arguments of later
    calls are ignored.  Raises ComfyUINotFound when no checkout is found.
    """
    global _HOST
    with _HOST_LOCK:
        if _HOST is not None:
            return _HOST
        t0 = time.perf_counter()
        comfy = locate_comfyui(comfy_path)
        if comfy is None:
            raise ComfyUINotFound("no ComfyUI checkout (set COMFYUI_PATH or put one at <repo>/../ComfyUI)")
        _check_module_conflicts(comfy)

        layout = prepare_layout(packs=packs, checkpoint=checkpoint, extra_model_paths=extra_model_paths)
        atexit.register(layout.cleanup)

        if str(comfy) not in sys.path:
            sys.path.insert(0, str(comfy))
        old_argv = sys.argv
        sys.argv = [old_argv[0] if old_argv else "comfyui", "--cpu", *layout.args(), *extra_args]
        try:
            import comfy.options

            comfy.options.enable_args_parsing()
            import comfy.cli_args  # noqa: F401  (parses sys.argv now)
        finally:
            sys.argv = old_argv

        with _LogCapture(logging.INFO) as cap:
            import folder_paths
            import utils.extra_config

            # as main.apply_custom_paths does
            utils.extra_config.load_extra_path_config(str(layout.extra_model_paths_yaml))
            folder_paths.folder_names_and_paths["custom_nodes"] = ([str(layout.custom_nodes_dir)], set())

            import comfy.model_management  # noqa: F401  (device setup: --cpu)
            import execution
            import hook_breaker_ac10a0
            import server

            import nodes

            dummy = DummyServer()
            if getattr(server.PromptServer, "instance", None) is None:
                # node code that reports through PromptServer.instance.send_sync / send_progress_text
                server.PromptServer.instance = dummy

            hook_breaker_ac10a0.save_functions()
            try:
                extras_failed = _run_coro(nodes.init_extra_nodes, init_custom_nodes=True, init_api_nodes=False)
            finally:
                hook_breaker_ac10a0.restore_functions()

        log = cap.lines()
        custom_failed = []
        for r in cap.records:
            m = re.match(r"\s*[\d.]+ seconds \(IMPORT FAILED\): (.*)$", r.getMessage())
            if m:
                custom_failed.append(m.group(1).strip())

        _HOST = ComfyHost(
            comfy_path=comfy,
            layout=layout,
            nodes=nodes,
            execution=execution,
            folder_paths=folder_paths,
            server=dummy,
            extras_import_failures=list(extras_failed or []),
            custom_import_failures=custom_failed,
            boot_log=log,
            boot_seconds=time.perf_counter() - t0,
        )
        return _HOST


# --------------------------------------------------------------------------- HTTP server


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_json(url: str, payload: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    """GET (payload None) or POST JSON; returns (status, decoded body or text)."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


class ComfyServer:
    """The real ComfyUI server (``python main.py --cpu --listen 127.0.0.1 --port N``) as a subprocess.

    Use as a context manager or ``start()`` / ``stop()`` / ``close()``::

        with ComfyServer() as srv:
            entry = srv.run_prompt(prompt)      # the /history entry
    """

    def __init__(
        self,
        comfy_path: str | os.PathLike | None = None,
        *,
        packs: Mapping[str, str | os.PathLike] | None = None,
        checkpoint: str | os.PathLike | None = None,
        extra_model_paths: Mapping[str, Iterable[str | os.PathLike]] | None = None,
        extra_args: Iterable[str] = (),
        port: int | None = None,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        keep_files: bool = False,
    ):
        comfy = locate_comfyui(comfy_path)
        if comfy is None:
            raise ComfyUINotFound("no ComfyUI checkout (set COMFYUI_PATH or put one at <repo>/../ComfyUI)")
        self.comfy_path = comfy
        self.layout = prepare_layout(packs=packs, checkpoint=checkpoint, extra_model_paths=extra_model_paths)
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.url = f"http://{self.host}:{self.port}"
        self.log_path = self.layout.base_dir / "server.log"
        self.cmd = [
            python or sys.executable,
            "main.py",
            "--cpu",
            "--listen",
            self.host,
            "--port",
            str(self.port),
            *self.layout.args(),
            "--disable-api-nodes",
            *extra_args,
        ]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.keep_files = keep_files
        self.proc: subprocess.Popen | None = None
        self.start_seconds: float | None = None

    # lifecycle -----------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> "ComfyServer":
        if self.proc is not None:
            return self
        t0 = time.perf_counter()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.comfy_path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI server exited with {self.proc.returncode}:\n{self.log_text()[-8000:]}")
            try:
                status, _ = http_json(self.url + "/system_stats", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"ComfyUI server not answering after {timeout:.0f} s:\n{self.log_text()[-8000:]}")
            time.sleep(0.25)
        self.start_seconds = time.perf_counter() - t0
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGINT (ComfyUI's clean shutdown), then SIGTERM, then SIGKILL; returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if proc.poll() is not None:
                    break
                proc.send_signal(sig)
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            return proc.poll()
        finally:
            self._log.close()

    def close(self) -> None:
        self.stop()
        if not self.keep_files:
            self.layout.cleanup()

    def __enter__(self) -> "ComfyServer":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # API -----------------------------------------------------------------------
    def get(self, path: str, timeout: float = 30.0) -> tuple[int, Any]:
        return http_json(self.url + path, timeout=timeout)

    def post(self, path: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
        return http_json(self.url + path, payload, timeout=timeout)

    def object_info(self) -> dict:
        status, body = self.get("/object_info", timeout=60)
        assert status == 200, (status, body)
        return body

    def run_prompt(self, prompt: dict, timeout: float = 300.0, check: bool = True) -> dict:
        return run_prompt_http(self.url, prompt, timeout=timeout, check=check)


def run_prompt_http(
    base_url: str,
    prompt: dict,
    timeout: float = 300.0,
    poll: float = 0.25,
    check: bool = True,
    client_id: str | None = None,
) -> dict:
    """POST ``/prompt`` and poll ``/history/<id>`` until it is done (at most ``timeout`` s).

    Returns the history entry (``outputs``, ``status`` with ``status_str``/``messages``,
    ``meta``) plus ``prompt_id``.  A rejected prompt (HTTP 400 with node_errors)
    raises PromptFailed; so does a failed execution when ``check``.
    """
    status, body = http_json(base_url + "/prompt", {"prompt": prompt, "client_id": client_id or uuid.uuid4().hex})
    if status != 200 or not isinstance(body, dict) or "prompt_id" not in body:
        raise PromptFailed(f"POST /prompt -> {status}: {body}")
    prompt_id = body["prompt_id"]
    deadline = time.monotonic() + timeout
    while True:
        status, hist = http_json(f"{base_url}/history/{prompt_id}")
        entry = hist.get(prompt_id) if status == 200 and isinstance(hist, dict) else None
        if (
            entry
            and entry.get("status", {}).get("completed") is not None
            and (entry["status"].get("completed") or entry["status"].get("status_str") == "error")
        ):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"prompt {prompt_id} not done after {timeout:.0f} s (last /history: {status} {hist})")
        time.sleep(poll)
    entry = dict(entry, prompt_id=prompt_id)
    if check and entry["status"].get("status_str") != "success":
        errors = [d for ev, d in entry["status"].get("messages", []) if ev == "execution_error"]
        raise PromptFailed(f"prompt {prompt_id} failed: {errors or entry['status']}")
    return entry


# --------------------------------------------------------------------------- sample prompt


def txt2img_prompt(
    ckpt_name: str = CHECKPOINT_NAME,
    *,
    width: int = 128,
    height: int = 128,
    batch_size: int = 4,
    steps: int = 8,
    cfg: float = 7.0,
    sampler_name: str = "euler_ancestral",
    scheduler: str = "normal",
    seed: int = 0,
    positive: str = "a photo of a cat",
    negative: str = "",
    output: str = "PreviewImage",
    filename_prefix: str = "p10_test",
) -> dict:
    """A core-only API prompt: CheckpointLoaderSimple -> CLIPTextEncode x2 ->
    EmptyLatentImage -> KSampler (node "5") -> VAEDecode -> PreviewImage/SaveImage (node "7")."""
    out_inputs = {"images": ["6", 0]}
    if output == "SaveImage":
        out_inputs["filename_prefix"] = filename_prefix
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["1", 1]}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": batch_size}},
        "5": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "positive": ["2", 0],
                "negative": ["3", 0],
                "latent_image": ["4", 0],
                "seed": seed,
                "steps": steps,
                "cfg": cfg,
                "sampler_name": sampler_name,
                "scheduler": scheduler,
                "denoise": 1.0,
            },
        },
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": output, "inputs": out_inputs},
    }
