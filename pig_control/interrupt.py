"""Stopping long work cleanly on SIGTERM or SIGINT (Ctrl-C).

Inside :class:`StopRequests`, the first SIGTERM or SIGINT only records that a stop was asked
for; the loop checks :attr:`StopRequests.signum` at its next safe point (training: after a
step), saves what it needs to resume and raises :class:`Interrupted`. A second signal stops at
once (``KeyboardInterrupt``). The entry point then says how to resume and exits with the shell's
status for the signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading

#: The signals a stop request may come as.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(Exception):
    """Long work stopped at a safe point because signal ``signum`` asked it to."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        """The status a shell reports for a process ended by this signal: 128 + its number."""
        return 128 + self.signum


class _StopSignals:
    """Installs :meth:`_handle` for SIGTERM and SIGINT on entry and restores the previous
    handlers on exit; only in the main thread (Python allows signal handlers nowhere else)."""

    def __init__(self):
        self._previous: dict[int, object] = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        raise NotImplementedError


class StopRequests(_StopSignals):
    """A context in which SIGTERM and SIGINT request a stop instead of ending the process.

    ``signum`` is None until a stop is requested; the loop checks it at its safe points.
    """

    def __init__(self):
        super().__init__()
        self.signum: int | None = None

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # asked twice: stop now
            raise KeyboardInterrupt
        self.signum = signum


class RaiseOnStop(_StopSignals):
    """A context in which SIGTERM and SIGINT raise :class:`Interrupted` at once, for work that
    keeps what it finished as it goes (compare's rows and saved agents): the entry point can
    then say how to resume."""

    def _handle(self, signum: int, frame) -> None:
        raise Interrupted(signum)
