"""The real ComfyUI HTTP server (``main.py``) as a subprocess on 127.0.0.1, on a private :mod:`~host.layout`."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from .layout import free_port, locate_comfyui, prepare_layout


def http_json(url: str, payload: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    """GET (payload None) or POST JSON; returns (status, decoded body or text)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


class ComfyServer:
    """``python main.py --cpu --listen 127.0.0.1 --port N`` with this pack, the tiny checkpoint and LoRA.

    A context manager; ``layout`` can be filled (models, photos, user settings)
    before :meth:`start`::

        with ComfyServer() as server:
            status, body = server.post("/prompt", {"prompt": prompt})
    """

    def __init__(self):
        comfy = locate_comfyui()
        if comfy is None:
            raise RuntimeError("no ComfyUI checkout (set COMFYUI_PATH or put one at <repo>/../ComfyUI)")
        self.comfy_path = comfy
        self.layout = prepare_layout()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.layout.base_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> "ComfyServer":
        command = [
            sys.executable,
            "main.py",
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.layout.args(),
            "--disable-api-nodes",
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            command,
            cwd=self.comfy_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
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
                if http_json(self.url + "/system_stats", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError(f"ComfyUI server not answering after {timeout:.0f} s:\n{self.log_text()[-8000:]}")
            time.sleep(0.25)

    def close(self) -> None:
        """SIGINT (ComfyUI's clean shutdown), then SIGTERM, then SIGKILL; then remove the layout."""
        proc, self.proc = self.proc, None
        if proc is not None:
            for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if proc.poll() is not None:
                    break
                proc.send_signal(sig)
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            self._log.close()
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

    def get(self, path: str, timeout: float = 60.0) -> tuple[int, Any]:
        return http_json(self.url + path, timeout=timeout)

    def post(self, path: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
        return http_json(self.url + path, payload, timeout=timeout)
