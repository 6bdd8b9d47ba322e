"""Outputs that appear whole or not at all, one writer per output, and one clear line when the disk says no.

Every long command that writes something (``annotate-bag``, ``dataset export``, ``dataset import``,
``dataset recover``) goes through this module, so they behave alike:

* **Staging.** ``staged_output(OUT)`` hands out a scratch folder next to OUT, named
  ``.<OUT name>.partial-<pid>``; what is written there is renamed to OUT only when complete. A failure,
  Ctrl-C, SIGTERM or SIGHUP removes the scratch; nothing is ever left half-written at OUT.
* **One writer.** The run holds an advisory lock (``flock``) on ``.<OUT name>.lock`` for as long as it
  writes, so a second run on the same OUT stops at once with one line naming the first one's pid. The
  kernel drops the lock when its holder dies, even by SIGKILL.
* **Scratch of killed runs.** A SIGKILL leaves its scratch behind. The next run in that folder
  recognises such scratch by its name (``.<name>.partial-*``), checks that no live run holds the
  matching lock, and removes it, saying so on stderr.
* **Signals.** ``terminate_like_interrupt`` makes SIGTERM and SIGHUP raise :class:`Interrupted` (a
  ``KeyboardInterrupt``), so every clean-up that runs on Ctrl-C runs on them too.
* **Filesystem errors** (read-only, full disk, no permission) become :class:`OutputError`: one line
  naming the path and the cause, with what to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

log = logging.getLogger(__name__)

PARTIAL_MARK = ".partial-"
"""Scratch names: ``.<name>.partial-<suffix>``. Every command's scratch is named so, so any run can
recognise scratch that a killed run left behind."""
LOCK_SUFFIX = ".lock"

_CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error (a failing disk or a lost network mount)",
    errno.EFBIG: "file too large (for the file system, or the process's file size limit)",
}
_ADVICE = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EROFS: "write to a writable folder",
    errno.EACCES: "write to a folder you may write to",
    errno.EPERM: "write to a folder you may write to",
}


class OutputError(RuntimeError):
    """An output that cannot be written (read-only, full disk, another run on it); one line, path and cause."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so the same clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupt_exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number, as a shell reports a process ended by that signal (SIGINT: 130)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)


@contextlib.contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread (and SIGINT
    raises KeyboardInterrupt even where a non-interactive shell started us with it ignored)."""
    def raise_interrupted(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    handlers: dict[signal.Signals, Any] = {signal.SIGTERM: raise_interrupted, signal.SIGHUP: raise_interrupted,
                                           signal.SIGINT: signal.default_int_handler}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def os_error_cause(exc: BaseException) -> tuple[str, str | None, int | None] | None:
    """(cause, path, errno) of the first filesystem error in ``exc``'s chain, or None.

    sqlite reports a full or read-only disk as its own error type, without an errno."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            cause = _CAUSES.get(current.errno, current.strerror or errno.errorcode.get(current.errno, str(current.errno)))
            return cause, current.filename, current.errno
        if isinstance(current, sqlite3.OperationalError):
            text = str(current).lower()
            if "disk is full" in text:
                return _CAUSES[errno.ENOSPC], None, errno.ENOSPC
            if "readonly" in text or "read-only" in text:
                return _CAUSES[errno.EROFS], None, errno.EROFS
        current = current.__cause__ or current.__context__
    return None


def output_error(exc: BaseException, target: Path, scratch: Path | None = None) -> OutputError | None:
    """``exc`` as one line about writing ``target`` when it is an error writing there (full disk,
    read-only, no permission...), else None (an error reading the input stays what it is)."""
    found = os_error_cause(exc)
    if found is None or found[2] not in _CAUSES:
        return None
    cause, path, code = found
    detail = ""
    if path:
        path = str(path)
        if not path.startswith(str(target.parent)) and not (scratch is not None and path.startswith(str(scratch))):
            return None  # not a write of this output (an input file, a model)
        if path != str(target):
            detail = f" (at {path})"
    advice = _ADVICE.get(code or 0, "check the path and the disk")
    return OutputError(f"cannot write {target}: {cause}{detail}; {advice}")


# -- locks ------------------------------------------------------------------------------------------
@dataclass
class RunLock:
    """An advisory ``flock`` on ``lock_path(target)`` holding the owner's pid; released (and the file
    removed) on exit. ``what`` names the target in messages."""

    target: Path
    what: str = ""
    _handle: IO[str] | None = field(default=None, init=False, repr=False)

    @property
    def path(self) -> Path:
        return lock_path(self.target)

    def __enter__(self) -> RunLock:
        what = self.what or str(self.target)
        while True:
            try:
                handle = open(self.path, "a+", encoding="utf-8")
            except OSError as exc:
                raise output_error(exc, self.target) or exc from exc
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.seek(0)
                owner = handle.read().strip() or "?"
                handle.close()
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise OutputError(f"{what} is being written by another run (pid {owner}, lock {self.path}); "
                                      "wait for it to finish or choose another output") from None
                raise output_error(exc, self.target) or exc from exc
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()  # the holder before us removed the file between our open and flock: lock the new one
        with contextlib.suppress(OSError):  # the pid is for messages only; a full disk must not stop the lock
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)  # while still held: no other run is between open and flock
            self._handle.close()
            self._handle = None


def is_locked(path: Path) -> bool:
    """Whether a live run holds the lock file ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


# -- scratch ----------------------------------------------------------------------------------------
_SCRATCH = re.compile(r"^\.(?P<name>.+)" + re.escape(PARTIAL_MARK) + r"[^/]*$")


def scratch_owner(path: Path) -> str | None:
    """The output name a scratch folder or file was made for, or None when ``path`` is not scratch."""
    match = _SCRATCH.match(path.name)
    return match.group("name") if match else None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def remove_dead_scratch(folder: Path, held: str | None = None) -> list[tuple[Path, int]]:
    """Remove the scratch killed runs left in ``folder`` (no live run holds its output's lock; ``held``:
    the name of an output whose lock the caller holds itself); returns (path, bytes) of each, which is
    also reported on the log."""
    removed: list[tuple[Path, int]] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = scratch_owner(entry)
        if name is None or (name != held and is_locked(folder / f".{name}{LOCK_SUFFIX}")):
            continue
        try:
            size = _size(entry)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as exc:
            log.warning("scratch %s left by a killed run cannot be removed: %s", entry, exc.strerror or exc)
            continue
        log.warning("removed %s: scratch left by a killed run (%.1f MB)", entry, size / 1e6)
        removed.append((entry, size))
        with contextlib.suppress(OSError):  # its lock file, unless a run holds it by now
            stale = folder / f".{name}{LOCK_SUFFIX}"
            if name != held and not is_locked(stale):
                stale.unlink(missing_ok=True)
    return removed


@contextlib.contextmanager
def locked_scratch(target: Path) -> Iterator[Path]:
    """A scratch folder next to ``target`` for work that is not itself an output (a camera tracked by one
    worker of ``annotate-bags`` while others write beside it): named and locked as ``staged_output``'s
    scratch, so no other run's clean-up takes it for a killed run's, and removed on exit (created by
    the caller)."""
    target = Path(target).absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, target) or exc from exc
    with RunLock(target):
        scratch = target.parent / f".{target.name}{PARTIAL_MARK}{os.getpid()}"
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class Stage:
    """Where a staged run writes: ``path`` becomes the output; ``scratch`` holds it and any temporary files."""

    scratch: Path
    path: Path
    target: Path


@contextlib.contextmanager
def staged_output(target: str | Path, *, replace_empty_dir: bool = False) -> Iterator[Stage]:
    """Write ``target`` whole or not at all (see the module docstring).

    The block writes ``stage.path`` (a path inside ``stage.scratch`` with ``target``'s name; it must
    create it) and may keep other temporary files in ``stage.scratch``. When the block completes,
    ``stage.path`` is renamed to ``target`` (onto nothing, or onto an empty folder when
    ``replace_empty_dir``); whatever happens, the scratch is removed. Parent folders made for
    ``target`` are removed again when the run fails. Filesystem errors become :class:`OutputError`.
    """
    target = Path(target).absolute()
    target = target.resolve() if target.is_symlink() else target
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, target) or exc from exc
    try:
        with RunLock(target):
            remove_dead_scratch(target.parent, held=target.name)
            scratch = target.parent / f".{target.name}{PARTIAL_MARK}{os.getpid()}"
            try:
                scratch.mkdir()
                stage = Stage(scratch, scratch / target.name, target)
                yield stage
                if target.exists() and not (replace_empty_dir and target.is_dir() and not any(target.iterdir())):
                    raise OutputError(f"{target} appeared while this run was writing it; the new output was not moved there")
                os.replace(stage.path, target)
            except OutputError:
                raise
            except BaseException as exc:
                error = output_error(exc, target, scratch) if isinstance(exc, Exception) else None
                if error is not None:
                    raise error from exc
                raise
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        for parent in made:
            try:
                parent.rmdir()
            except OSError:
                break
        raise
