"""The model's lifecycle as the editor sees it: lazy background load, work-done progress, status notifications,
a load failure shown once, reload on demand, and the "model loading" / "no model" answers meanwhile.

``ModelHost`` (model_host.py) owns the model and its thread; this module drives it from the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_server.model_host import ERROR, IDLE, LOADING

logger = logging.getLogger(__name__)

STATUS_NOTIFICATION = "editseq/status"
CLIENT_REPLY_TIMEOUT_S = 5.0


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was fine but cannot be served now (the message says why)."""

    CODE = -32803


class ModelLifecycle:
    """Loads the model in the background when first needed, reloads it on request, and reports how it went.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``settings``,
    ``host``, ``docs``, ``suggestions``, ``show``, ``spawn``, progress and notifications.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self._load_task: asyncio.Task | None = None
        self._error_shown = False
        # Set once the client's settings are known (initialized + workspace/configuration), so that the first
        # didOpen does not start loading the default model while the configured one is a round trip away.
        self.settings_known = asyncio.Event()

    def start_loading(self) -> None:
        """Load (or reload) the model in the background, with work-done progress."""
        self.server.suggestions.clear_cache()
        self._error_shown = False
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()  # a stale load still finishes on the model thread, but ModelHost ignores it
        self.server.host.state = LOADING  # from now on: requests get "model loading" answers
        self._load_task = self.server.spawn(self._load())

    def ensure_loading(self) -> None:
        if self.server.host.state == IDLE:
            self.start_loading()

    async def _load(self) -> None:
        server, host = self.server, self.server.host
        try:
            await asyncio.wait_for(self.settings_known.wait(), CLIENT_REPLY_TIMEOUT_S)
        except asyncio.TimeoutError:
            logger.warning("no settings from the client; loading with the current ones")
        token = f"editseq-load-{time.monotonic_ns()}"
        progress = await self._begin_progress(
            token, "EditSeq: loading model", server.settings.model_path or "default"
        )
        loading = host.load(server.settings)
        self.notify_status()
        ready = await loading
        if progress:
            message = "ready" if ready else "failed"
            server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        if not ready and host.state == ERROR and not self._error_shown:
            self._error_shown = True
            server.show(f"EditSeq could not load its model: {host.error}", types.MessageType.Error)
        self.notify_status()
        if ready and server.settings.prefetch:
            for uri in list(server.docs):
                server.suggestions.schedule_idle(uri, delay=0.0)

    async def _begin_progress(self, token: str, title: str, message: str) -> bool:
        server = self.server
        window = getattr(server.client_capabilities, "window", None)
        if not getattr(window, "work_done_progress", False):
            return False
        try:
            await asyncio.wait_for(server.work_done_progress.create_async(token), CLIENT_REPLY_TIMEOUT_S)
        except Exception as exc:
            logger.warning("window/workDoneProgress/create failed: %s", exc)
            return False
        server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message))
        return True

    def require_model(self) -> None:
        """Raise a clear RequestFailed unless the model is ready (starting the load if nobody has)."""
        self.ensure_loading()
        host = self.server.host
        if host.state == LOADING:
            raise RequestFailed("EditSeq: the model is loading; try again in a moment")
        if host.state == ERROR:
            raise RequestFailed(f"EditSeq: no model ({host.error}); fix the settings and run reloadModel")

    def notify_status(self) -> None:
        self.server.protocol.notify(STATUS_NOTIFICATION, self.server.host.status())
