"""pygls' LanguageServerProtocol without its per-notification memory leak.

pygls 2 stores the Future of every handler it runs in ``protocol._request_futures`` under a fresh uuid; for
requests the response callback pops it, but for notifications (and for the inner steps of its generator-style
builtin handlers, such as ``didChange``) nothing ever does, so each keystroke leaks a Future holding its params.
Here every handler's Future is popped when it completes, which keeps the dict at the size of the work in flight.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method


class EditSeqProtocol(LanguageServerProtocol):
    """LanguageServerProtocol whose bookkeeping of running handlers is bounded by the work in flight."""

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):  # noqa: ANN001 (pygls signature)
        def forget_then_callback(future: Future[Any]) -> None:
            # Only drop our own entry: a response Future of a server->client request may share the id space.
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            callback(future)

        return super()._execute_handler(msg_id, handler, forget_then_callback, args, kwargs)

    def _handle_cancel_notification(self, msg_id):  # noqa: ANN001 (pygls signature)
        # pygls can only cancel a handler that has not started (or an asyncio task at its next await); the model
        # thread must be told separately, through the cancel Event the request's generation watches.
        cancel_request = getattr(self._server, "cancel_request", None)
        if cancel_request is not None:
            cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args):  # noqa: ANN002 (pygls signature)
        """pygls' shutdown, iterating over a copy: cancelling a Future now removes it from the dict at once."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None
