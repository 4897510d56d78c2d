"""A background process that ends with the process that started it.

The app starts evaluations as child processes in their own process group (so Stop reaches their
children). When the app itself is stopped — a process manager's SIGTERM, a container stop, a
crash — nothing would tell them, and they would go on writing to the database unobserved. A child
that calls ``stop_with_parent`` watches its parent's pid from a daemon thread and interrupts
itself (SIGINT: the same clean stop as Ctrl-C, nothing half recorded) once it has been orphaned.

Polling ``os.getppid()`` is used rather than Linux's ``PR_SET_PDEATHSIG``, which fires when the
*thread* that forked exits — in a Streamlit app, the script thread of the click, long before the
app stops.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

INTERVAL = 1.0  # seconds between checks; an orphan stops within about this long


def stop_with_parent(
    parent: int | None = None,
    *,
    interval: float = INTERVAL,
    on_orphaned: Callable[[], None] | None = None,
) -> threading.Thread:
    """Interrupt this process when ``parent`` (default: the current parent) is gone.

    A starter should pass its own pid: a child that reads ``os.getppid()`` only after its
    imports would watch init if the starter had already died by then.

    ``on_orphaned`` replaces the default action (SIGINT to this process), for tests.
    """
    watched = os.getppid() if parent is None else parent
    stop = on_orphaned or (lambda: os.kill(os.getpid(), signal.SIGINT))

    def watch() -> None:
        event = threading.Event()
        # Checked at once too: the parent may have died while this process was starting.
        while os.getppid() == watched:
            if event.wait(interval):
                return
        stop()

    thread = threading.Thread(target=watch, name="stop-with-parent", daemon=True)
    thread.start()
    return thread
