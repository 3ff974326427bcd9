"""A cross-process lock on a separate lock file: ``fcntl.flock`` with a timeout.

A waiter tries again after short pauses (0.2 ms, doubling up to 5 ms) on the one descriptor it opened; it
never re-opens the lock file. Waiting in the kernel on a helper thread woke waiters sooner, but a wait that
timed out left the thread blocked and its descriptor open until the holder let go (a thousand retries against
a stuck holder left a thousand threads); a timed-out wait must leave nothing behind.
The lock dies with its process (``kill -9`` included): the kernel drops it when the file is closed.
"""

from __future__ import annotations

import fcntl
import os
import time


class LockTimeout(Exception):
    """The lock stayed taken for longer than the timeout."""


class ProcessLock:
    """Exclusive lock between processes; re-entrant within one thread is NOT supported (callers nest no locks)."""

    def __init__(self, path: str, *, timeout: float, mode: int = 0o600) -> None:
        self.path = path
        self.timeout = timeout
        self.mode = mode
        self._fd: int | None = None

    def _open(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, self.mode)
        try:
            st = os.fstat(fd)
            if st.st_uid == os.getuid() and (st.st_mode & 0o777) != self.mode:
                os.fchmod(fd, self.mode)  # exactly the configured mode, whatever the umask
        except OSError:
            pass
        return fd

    def acquire(self) -> None:
        fd = self._open()
        deadline = time.monotonic() + self.timeout
        pause = 0.0002
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LockTimeout(self.path) from None
                    # Taken: try again soon. The pause grows to 5 ms, so a waiter notices a released lock
                    # within a few milliseconds, and a timed-out wait leaves no thread or descriptor behind.
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, 0.005)
                    continue
                break
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def write_note(self, data: bytes) -> None:
        """Leave a short note in the lock file (with the lock held): what the holder is in the middle of."""
        assert self._fd is not None
        if data:
            os.pwrite(self._fd, data, 0)
        os.ftruncate(self._fd, len(data))

    def read_note(self) -> bytes:
        """The note the last holder left (with the lock held); empty when it finished what it was doing."""
        assert self._fd is not None
        return os.pread(self._fd, 1 << 16, 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
