"""A thread of an object's own that works through what it is handed, for the embedded default's
alert delivery (`wakeup.BackgroundDelivery`) and a server's wake-ups sent after the response
(`api/wakeups.SentAfterResponse`): started on first use, started again in a forked child (which
has none of its parent's threads), woken through one condition, and stopped by `close`, which lets
it finish what it was handed for up to a set time."""

from __future__ import annotations

import logging
import os
import threading


class OwnThread:
    """The lifecycle; a subclass keeps its work under `_changed` (`_clear` empties it) and runs it
    in `_run`, which returns once `_closing` is set and nothing is left."""

    thread_name = "ktpledger-background"
    # Logged when `close` gives up waiting: "%.0f" takes the seconds waited.
    unfinished = "a background thread still running after %.0f s"

    def __init__(self, *, close_timeout: float, log: logging.Logger) -> None:
        self._close_timeout = close_timeout
        self._log = log
        self._reset()

    def _reset(self) -> None:
        # Also after a fork: the child has none of the parent's threads, and the parent's lock may
        # have been held at that moment by one of them.
        self._pid = os.getpid()
        self._changed = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._clear()

    def _clear(self) -> None:
        """Forget the work handed over (a new object, or a forked child's)."""

    def _forked(self) -> None:
        if self._pid != os.getpid():
            self._reset()

    def _wake(self) -> None:
        """With `_changed` held: start the thread if need be, and wake it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        self._changed.notify()

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> bool:
        """Let the thread finish what it was handed, then stop it; True if that ended within the
        time allowed."""
        self._forked()
        with self._changed:
            self._closing = True
            thread = self._thread
            self._changed.notify()
        if thread is None:
            return True
        thread.join(self._close_timeout)
        if thread.is_alive():
            self._log.warning(self.unfinished, self._close_timeout)
            return False
        return True
