"""ComfyUI booted inside the test process through its own embedding entry point, serving HTTP on 127.0.0.1.

:func:`boot_comfyui` imports ComfyUI's ``main`` with ``--cpu`` and a private
:mod:`~host.layout` in ``sys.argv`` and calls ``main.start_comfyui()``, which
ComfyUI returns "so that other code can integrate with the ComfyUI loop and
server": it loads ComfyUI's nodes and this pack with its own loader and starts
its prompt worker. The server then runs on its event loop in a daemon thread.
Graphs go through the public HTTP interface only (``POST /prompt``,
``GET /history``): no executor, queue item or validation function is built or
called here, so their signatures can move between ComfyUI versions.

Tests still call nodes and ``comfy.*`` functions directly in this process (the
public node classes, the pack as ComfyUI loaded it), and read a node's raw
outputs through the stand-in ``P10Test_Capture`` output node.
"""

import atexit
import dataclasses
import importlib.util
import logging
import pathlib
import re
import sys
import threading
import time
import uuid
from typing import Any

from .layout import PACK_NAME, ComfyLayout, free_port, locate_comfyui, prepare_layout
from .server import http_json

# Top-level module names of a ComfyUI checkout that a test process could already
# have imported from somewhere else (the repository has a ``nodes/`` package, for one).
_COMFY_TOP_LEVEL = ("nodes", "execution", "server", "folder_paths", "utils", "app", "comfy", "comfy_extras")


class _LogCapture(logging.Handler):
    """Collects root-logger records while active (lowering the root level if needed)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self._guard = threading.Lock()

    def emit(self, record):
        with self._guard:
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


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a record whose arguments do not format
        return repr(record.msg)


class PromptFailed(AssertionError):
    """Raised by :meth:`ExecutionResult.raise_for_error`."""


@dataclasses.dataclass
class ExecutionResult:
    """What ComfyUI answered for one prompt over HTTP."""

    success: bool  # validated and executed without error
    validation_error: dict | None  # the ``error`` of a refused ``POST /prompt`` (None if queued)
    node_errors: dict  # per-node validation errors of ``POST /prompt``
    execution_error: dict | None  # the history's "execution_error" / "execution_interrupted" message
    ui_outputs: dict  # node_id -> ui dict from ``/history`` (e.g. {"images": [{filename, subfolder, type}]})
    captured: dict = dataclasses.field(default_factory=dict, repr=False)  # (node_id, index) -> raw value

    def node_output(self, node_id: str, index: int = 0):
        """A node's raw output (e.g. the KSampler LATENT dict), as captured by ``execute(prompt, capture=...)``."""
        key = (str(node_id), index)
        if key not in self.captured:
            raise KeyError(f"output {index} of node {node_id!r} was not captured: pass it in execute(capture=...)")
        return self.captured[key]

    def raise_for_error(self) -> "ExecutionResult":
        if self.validation_error is not None:
            raise PromptFailed(f"prompt invalid: {self.validation_error}; node errors: {self.node_errors}")
        if not self.success:
            e = self.execution_error or {}
            raise PromptFailed(
                f"node {e.get('node_id')} ({e.get('node_type')}) failed: {e.get('exception_type')}: "
                f"{e.get('exception_message')}\n{''.join(e.get('traceback') or [])}"
            )
        return self


@dataclasses.dataclass
class ComfyHost:
    layout: ComfyLayout
    url: str  # the in-process server, http://127.0.0.1:PORT
    nodes: Any  # ComfyUI's ``nodes`` module (node classes, called directly by tests)
    custom_import_failures: list[str]  # custom-node paths logged as "(IMPORT FAILED)"
    boot_log: list[str]
    captures: dict  # the stand-in capture node's store: key -> raw value

    @property
    def NODE_CLASS_MAPPINGS(self) -> dict:
        return self.nodes.NODE_CLASS_MAPPINGS

    @property
    def checkpoint_name(self) -> str:
        return self.layout.checkpoint_name

    @property
    def pack(self):
        """The pack as ComfyUI imported it: the one copy host tests use (``pack.blending``, ``pack.nodes``...)."""
        # ComfyUI registers a custom-node folder under its full path, dots replaced.
        return sys.modules[str(self.layout.pack_path()).replace(".", "_x_")]

    def pack_log(self) -> str:
        """Boot-log lines that mention the pack (its tracebacks and warnings)."""
        path = str(self.layout.pack_path())
        return "\n".join(line for line in self.boot_log if path in line or f"/{PACK_NAME}/" in line)

    def pack_node_ids(self) -> list[str]:
        """Node ids whose class ComfyUI attributed to the pack (``custom_nodes.<name>``)."""
        module = f"custom_nodes.{PACK_NAME}"
        mappings = self.NODE_CLASS_MAPPINGS
        return sorted(k for k, v in mappings.items() if getattr(v, "RELATIVE_PYTHON_MODULE", None) == module)

    def get(self, path: str, timeout: float = 60.0) -> tuple[int, Any]:
        return http_json(self.url + path, timeout=timeout)

    def post(self, path: str, payload: Any, timeout: float = 60.0) -> tuple[int, Any]:
        return http_json(self.url + path, payload, timeout=timeout)

    def execute(self, prompt: dict, capture=(), timeout: float = 1800.0) -> ExecutionResult:
        """Queue an API-format prompt with ``POST /prompt`` and wait for its ``/history`` entry.

        ``capture`` names outputs to bring back raw: node ids (output 0) or
        ``(node_id, index)`` pairs; each gets a ``P10Test_Capture`` node. The
        server runs with ``--cache-none``, so every node executes in every prompt.
        Never raises for prompt errors: check ``result.success`` or call ``result.raise_for_error()``.
        """
        prompt = dict(prompt)
        keys = {}
        for item in capture:
            node_id, index = (item, 0) if isinstance(item, (str, int)) else item
            key = uuid.uuid4().hex
            keys[(str(node_id), index)] = key
            prompt[f"capture_{key}"] = {
                "class_type": "P10Test_Capture",
                "inputs": {"value": [str(node_id), index], "key": key},
            }
        status, body = self.post("/prompt", {"prompt": prompt, "client_id": "p10-tests"})
        if status != 200:
            if not isinstance(body, dict) or "error" not in body:
                raise PromptFailed(f"POST /prompt answered {status}: {body}")
            return ExecutionResult(False, body["error"], body.get("node_errors", {}), None, {})
        entry = self.wait_for_history(body["prompt_id"], timeout)
        messages = entry["status"].get("messages", [])
        failure = next((d for ev, d in messages if ev in ("execution_error", "execution_interrupted")), None)
        captured = {output: self.captures.pop(key) for output, key in keys.items() if key in self.captures}
        return ExecutionResult(
            success=entry["status"].get("status_str") == "success" and failure is None,
            validation_error=None,
            node_errors=body.get("node_errors", {}),
            execution_error=failure,
            ui_outputs={k: v for k, v in entry.get("outputs", {}).items() if not k.startswith("capture_")},
            captured=captured,
        )

    def wait_for_history(self, prompt_id: str, timeout: float) -> dict:
        """Poll ``/history/<prompt_id>`` until the prompt finished or failed (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, history = self.get(f"/history/{prompt_id}")
            entry = history.get(prompt_id) if status == 200 and isinstance(history, dict) else None
            if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
                return entry
            time.sleep(0.05)
        raise PromptFailed(f"prompt {prompt_id} not finished after {timeout:.0f} s")


_HOST: ComfyHost | None = None
_HOST_LOCK = threading.Lock()


def _check_module_conflicts(comfy: pathlib.Path) -> None:
    clashes = []
    for name in _COMFY_TOP_LEVEL:
        module = sys.modules.get(name)
        if module is None:
            continue
        where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", []) or []), None)
        if where is None or not pathlib.Path(where).resolve().is_relative_to(comfy):
            clashes.append(f"{name} ({where})")
    if clashes:
        raise RuntimeError(
            "cannot boot ComfyUI in this process: these top-level modules are already imported "
            f"from outside {comfy}: {', '.join(clashes)}. Keep the repo root off sys.path."
        )


def _wait_until_serving(url: str, thread: threading.Thread, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("ComfyUI's server thread ended during start-up (see the log above)")
        try:
            if http_json(url + "/system_stats", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"ComfyUI's in-process server not answering at {url} after {timeout:.0f} s")


def boot_comfyui(extra_args: tuple[str, ...] = ()) -> ComfyHost:
    """Boot ComfyUI in this process once (later calls return the same host) and serve it on 127.0.0.1.

    ``sys.argv`` holds ``--cpu`` (before anything imports ``comfy.model_management``),
    the private layout, ``--cache-none``, ``--disable-api-nodes`` and
    ``extra_args`` (e.g. a benchmark's ``--use-pytorch-cross-attention``) while
    ComfyUI's ``main`` parses them.

    Raises:
        RuntimeError: no ComfyUI checkout (see :func:`~host.layout.locate_comfyui`).
    """
    global _HOST
    with _HOST_LOCK:
        if _HOST is not None:
            return _HOST
        comfy = locate_comfyui()
        if comfy is None:
            raise RuntimeError("no ComfyUI checkout (set COMFYUI_PATH or put one at <repo>/../ComfyUI)")
        _check_module_conflicts(comfy)
        layout = prepare_layout()
        atexit.register(layout.cleanup)
        port = free_port()

        if str(comfy) not in sys.path:
            sys.path.insert(0, str(comfy))
        argv = ["--cpu", *layout.args(), "--listen", "127.0.0.1", "--port", str(port)]
        old_argv = sys.argv
        sys.argv = [str(comfy / "main.py"), *argv, "--cache-none", "--disable-api-nodes", *extra_args]
        with _LogCapture() as capture:
            # pytest imports the repository's own __init__.py as its folder's name, which may be "main":
            # ComfyUI's main.py is loaded under a name of its own (it parses sys.argv, applies the paths).
            spec = importlib.util.spec_from_file_location("comfyui_main", comfy / "main.py")
            comfyui_main = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(comfyui_main)
            finally:
                sys.argv = old_argv
            loop, _, start_all = comfyui_main.start_comfyui()
            serving = threading.Thread(
                target=loop.run_until_complete, args=(start_all(),), name="comfyui-server", daemon=True
            )
            serving.start()
            url = f"http://127.0.0.1:{port}"
            _wait_until_serving(url, serving)

        failed = []
        for record in capture.records:
            match = re.match(r"\s*[\d.]+ seconds \(IMPORT FAILED\): (.*)$", _message(record))
            if match:
                failed.append(match.group(1).strip())
        log_lines = [f"{r.levelname} {r.name}: {_message(r)}" for r in capture.records]
        captures = sys.modules[str(layout.stand_ins_path()).replace(".", "_x_")].CAPTURED
        host = ComfyHost(layout, url, comfyui_main.nodes, failed, log_lines, captures)
        # ComfyUI's progress hook (main.hijack_progress) reports to the last prompt the server ran, which tests
        # calling samplers directly do not have: a first prompt gives it one, and shows that prompts run.
        first = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}}
        host.execute(first, capture=["1"]).raise_for_error()
        _HOST = host
        return _HOST
