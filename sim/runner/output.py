"""Where a run's results go: one output step shared by run, stress, sensitivity, calibrate.

A results folder ``T`` is made in three moves, so that a folder that exists is
whole and two runs never share one:

1. ``claim``: before anything is simulated, ``T.partial/`` is created with
   ``mkdir`` (atomic: of two runs racing for ``T`` exactly one gets it) and
   locked with ``flock`` on ``T.partial/.lock`` for as long as the run lives (a
   resume takes the same lock; the kernel drops it when the process dies, even
   by kill -9). The finished chunks of the run are kept in ``T.partial/`` as
   its checkpoint.
2. ``staging()``: every file of the results folder is written into
   ``T.partial/.staging/``: the tables by the runner (``Results.write_tables``),
   the report and any extra file (stress.csv, tornado.png...) by the layers
   above it.
3. ``publish()``: one ``rename`` of the staging folder to ``T``; then the
   checkpoint is removed.

A run that fails removes what it wrote but keeps finished chunks for
``--resume``; it never removes a folder it did not create. Temporary leftovers
of a run that died (``.staging``, ``.chunk-NNNNN.tmpPID``, ``.T.writing-PID``
of older versions) are removed by the next run or resume that claims ``T``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import IO

from sim.scenario.errors import Problem, ScenarioError

__all__ = ["OutputClaim", "check_target", "partial_of", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A folder name from user text: letters, digits, '.', '_' and '-' only, never a path,
    '.', '..' or hidden (a scenario named ``../../x`` becomes ``x``)."""
    name = _UNSAFE.sub("-", text).strip("-.")
    return name[:100] or "scenario"


def partial_of(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def check_target(target: Path, what: str = "--out", resume: bool = False) -> list[Problem]:
    """Problems with ``target`` as a results folder, found without writing anything."""
    t = Path(os.path.abspath(target))
    if t.parent == t or not t.name:
        return [Problem(what, None, "", f"{target} is the root of the file system; give a new "
                        "folder, e.g. --out results/my-run")]
    if t.exists() or t.is_symlink():
        return [Problem(what, None, "", f"{target} already exists; choose another folder "
                        "(revsim never writes into an existing folder)")]
    partial = partial_of(t)
    if _busy(partial):
        return [Problem(what, None, "", f"another revsim run is writing {partial} right now; "
                        "wait for it or choose another folder")]
    if resume and not partial.is_dir():
        return [Problem("--resume", None, "", f"no interrupted run in {partial}")]
    if not resume and (partial.exists() or partial.is_symlink()):
        return [Problem(what, None, "", f"an interrupted run is in {partial}: add --resume to "
                        "finish it, or choose another folder")]
    parent = t.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return [Problem(what, None, "", f"{parent} is a file, so {target} cannot be created")]
    if not os.access(parent, os.W_OK | os.X_OK):
        return [Problem(what, None, "", f"{parent} is not writable, so {target} cannot be "
                        "created")]
    return []


class OutputClaim:
    """A results folder this process is writing (see the module docstring)."""

    def __init__(self, target: Path, partial: Path, lock: IO[bytes], created: bool):
        self.target = target
        self.partial = partial
        self._lock: IO[bytes] | None = lock
        self.created = created  # this run made the .partial folder (so it may remove it)

    @classmethod
    def claim(cls, target: str | Path, resume: bool = False, what: str = "--out") -> OutputClaim:
        """Take ``target`` for this run, or raise a ScenarioError (exit 2) naming why not."""
        t = Path(os.path.abspath(target))
        problems = check_target(t, what, resume)
        if problems:
            raise ScenarioError(problems)
        partial = partial_of(t)
        created = False
        if not resume:
            t.parent.mkdir(parents=True, exist_ok=True)
            try:
                partial.mkdir()
                created = True
            except FileExistsError:
                raise ScenarioError([Problem(what, None, "", (
                    f"another run is writing {t} (or was interrupted: see {partial}); "
                    "choose another folder"))]) from None
        lock = open(partial / ".lock", "ab")  # noqa: SIM115 - held for the claim's lifetime
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise ScenarioError([Problem(what, None, "", (
                f"another revsim run is writing {partial} right now; wait for it or choose "
                "another folder"))]) from None
        claim = cls(t, partial, lock, created)
        if t.exists():  # another run published it between the check and the claim
            claim.release(remove=created)
            raise ScenarioError([Problem(what, None, "", f"{t} already exists; choose another "
                                         "folder")])
        claim.clean_leftovers()
        return claim

    def clean_leftovers(self) -> None:
        """Remove what a run that died left half-written (this claim holds the lock)."""
        for p in self.partial.glob(".*"):
            if p.name == ".lock":
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        for p in self.target.parent.glob(f".{self.target.name}.writing-*"):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True)

    def staging(self) -> Path:
        """An empty folder for every file of the results folder, renamed by ``publish``."""
        folder = self.partial / ".staging"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        return folder

    def publish(self) -> Path:
        """Rename the staging folder to the target (the folder appears whole), then remove
        the checkpoint and let go of the claim."""
        staging = self.partial / ".staging"
        _fsync_tree(staging)
        os.rename(staging, self.target)
        _fsync_dir(self.target.parent)
        self.release(remove=True)
        return self.target

    def release(self, remove: bool = False) -> None:
        """Let go of the claim; ``remove``: delete the .partial folder (only if this run
        created it, or resumed it to completion)."""
        if remove:
            shutil.rmtree(self.partial, ignore_errors=True)
        else:
            shutil.rmtree(self.partial / ".staging", ignore_errors=True)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None

    def abandon(self) -> bool:
        """After a failure: keep finished chunks for ``--resume`` (True), or remove the
        .partial folder if this run created it and nothing in it is worth keeping."""
        keep = any(self.partial.glob("chunk-*"))
        self.release(remove=self.created and not keep)
        return keep


def _busy(partial: Path) -> bool:
    """Whether a live run holds the lock of ``partial`` (checked without writing)."""
    try:
        fd = os.open(partial / ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken just now
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    """Every file of ``folder`` on disk before the rename makes it visible."""
    for p in folder.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
