"""ComfyUI booted inside the test process, with this pack loaded by ComfyUI's own custom-node loader.

:func:`boot_comfyui` boots ComfyUI once (``--cpu``, a private
:mod:`~host.layout`), loads ComfyUI's extra nodes and then this pack through
``nodes.init_extra_nodes``, and returns a :class:`ComfyHost` that runs
API-format prompts through ``execution.validate_prompt`` and
``execution.PromptExecutor``.
"""

import asyncio
import atexit
import concurrent.futures
import copy
import dataclasses
import logging
import pathlib
import re
import sys
import threading
import uuid
from typing import Any

from .layout import PACK_NAME, ComfyLayout, locate_comfyui, prepare_layout

# Top-level module names of a ComfyUI checkout that a test process could already
# have imported from somewhere else (the repository has a ``nodes/`` package, for one).
_COMFY_TOP_LEVEL = ("nodes", "execution", "server", "folder_paths", "utils", "app", "comfy", "comfy_extras")


def _run_sync(fn, *args):
    """Call ``fn`` here, or in a worker thread when this thread runs an event loop
    (ComfyUI's loader and executor call ``asyncio.run`` / need their own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


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


class _DummyServer:
    """What PromptExecutor needs from ``server.PromptServer``; it is sent events nobody reads."""

    client_id = last_node_id = last_prompt_id = None
    sockets_metadata: dict = {}

    def send_sync(self, event, data, sid=None):
        pass

    def send_progress_text(self, text, node_id, sid=None):
        pass

    def queue_updated(self):
        pass


class PromptFailed(AssertionError):
    """Raised by :meth:`ExecutionResult.raise_for_error`."""


@dataclasses.dataclass
class ExecutionResult:
    success: bool  # validated and executed without error
    validation_error: dict | None  # execution.validate_prompt's error (None if valid)
    node_errors: dict  # per-node validation errors
    execution_error: dict | None  # the "execution_error" message (exception_type, exception_message, ...)
    ui_outputs: dict  # node_id -> ui dict (e.g. {"images": [{filename, subfolder, type}]})
    _executor: Any = dataclasses.field(default=None, repr=False)

    def node_output(self, node_id: str, index: int = 0):
        """A node's raw output from the executor's cache, e.g. the KSampler LATENT dict."""
        if self._executor is None:
            raise KeyError("the prompt did not execute (validation failed)")
        cached = self._executor.caches.outputs.get(str(node_id))
        if cached is None:
            raise KeyError(f"no cached output for node {node_id!r}")
        return cached[index][0]

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
    nodes: Any  # ComfyUI's ``nodes`` module
    execution: Any  # ComfyUI's ``execution`` module
    custom_import_failures: list[str]  # custom-node paths logged as "(IMPORT FAILED)"
    boot_log: list[str]

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

    def validate(self, prompt: dict):
        """``execution.validate_prompt``: ``(valid, error, output_node_ids, node_errors)``."""
        return _run_sync(lambda: asyncio.run(self.execution.validate_prompt(str(uuid.uuid4()), prompt, None)))

    def execute(self, prompt: dict) -> ExecutionResult:
        """Validate and run an API-format prompt through ComfyUI's real executor, with a fresh cache.

        Never raises for prompt errors: check ``result.success`` or call ``result.raise_for_error()``.
        """
        prompt = copy.deepcopy(prompt)  # validation and execution may annotate it
        valid, error, outputs, node_errors = self.validate(prompt)
        if not valid:
            return ExecutionResult(False, error, node_errors, None, {})
        executor = self.execution.PromptExecutor(_DummyServer(), cache_type=self.execution.CacheType.CLASSIC)
        _run_sync(executor.execute, prompt, str(uuid.uuid4()), {}, outputs)
        messages = list(executor.status_messages)
        failure = next((d for ev, d in messages if ev in ("execution_error", "execution_interrupted")), None)
        history = getattr(executor, "history_result", None) or {}
        return ExecutionResult(
            success=bool(executor.success) and failure is None,
            validation_error=None,
            node_errors=node_errors,
            execution_error=failure,
            ui_outputs=dict(history.get("outputs", {})),
            _executor=executor,
        )


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


def boot_comfyui(extra_args: tuple[str, ...] = ()) -> ComfyHost:
    """Boot ComfyUI in this process once (later calls return the same host), with the tiny LoRA as ``loras``.

    Puts ``--cpu``, a private ``--base-directory`` and ``extra_args`` (e.g. a
    benchmark's ``--use-pytorch-cross-attention``) into sys.argv while
    ``comfy.cli_args`` parses them, loads ComfyUI's extra nodes (not the API
    nodes) and then this pack through ``nodes.init_extra_nodes``.

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

        with _LogCapture() as capture:
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

            if getattr(server.PromptServer, "instance", None) is None:
                # node code that reports through PromptServer.instance.send_sync / send_progress_text
                server.PromptServer.instance = _DummyServer()

            hook_breaker_ac10a0.save_functions()
            try:
                _run_sync(lambda: asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False)))
            finally:
                hook_breaker_ac10a0.restore_functions()

        failed = []
        for record in capture.records:
            match = re.match(r"\s*[\d.]+ seconds \(IMPORT FAILED\): (.*)$", _message(record))
            if match:
                failed.append(match.group(1).strip())
        log_lines = [f"{r.levelname} {r.name}: {_message(r)}" for r in capture.records]
        _HOST = ComfyHost(layout, nodes, execution, failed, log_lines)
        return _HOST
