"""The workbook as a file: which names are workbooks, its errors, lock files, and the atomic replace.

A write must never cost the user their file: it refuses while Excel or LibreOffice has the workbook open
(their lock file is beside it), refuses a read-only workbook instead of silently replacing it, writes
through a symbolic link to the file it points to (the link stays a link), keeps the file's mode and
owner, and replaces the file only with a complete, re-checked copy (temporary file in the same folder,
``fsync``, ``os.replace``), and only if nobody changed it in the meantime.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from jtl_automator.resilience import TransientFailure
from jtl_automator.sheets.base import SheetError

SUPPORTED = (".xlsx", ".xlsm")
SUPPORTED_TEXT = "supported: .xlsx, .xlsm, or a Google spreadsheet id"

#: Spreadsheet-like files people point the flow at, and what they are.
OTHER_FORMATS = {
    ".xls": "an Excel 97-2003 (.xls) workbook",
    ".xlsb": "an Excel binary (.xlsb) workbook",
    ".xlt": "an Excel 97-2003 template (.xlt)",
    ".xltx": "an Excel template (.xltx)",
    ".xltm": "an Excel template (.xltm)",
    ".csv": "a CSV file",
    ".tsv": "a TSV file",
    ".txt": "a text file",
    ".ods": "an OpenDocument spreadsheet (.ods)",
    ".fods": "a flat OpenDocument spreadsheet (.fods)",
    ".numbers": "an Apple Numbers file",
    ".json": "a JSON file",
}

#: What Google spreadsheet ids look like (the sandbox's readable ids included).
_GOOGLE_ID = re.compile(r"[A-Za-z0-9_-]+")


class WorkbookError(SheetError):
    """A workbook that cannot be read or written; the message is one line that names the file."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class WorkbookNotFound(WorkbookError, FileNotFoundError):
    """No file at the path (or a symbolic link that points nowhere)."""


class UnsupportedWorkbook(WorkbookError):
    """Not an ``.xlsx``/``.xlsm`` workbook: another format, or a name that is neither a path nor an id."""


class CorruptWorkbook(WorkbookError):
    """Empty, truncated, not a zip archive, or a part that is not well-formed XML."""


class WorkbookLocked(WorkbookError):
    """Excel or LibreOffice has the workbook open: writing now would be lost when they save."""


class WorkbookReadOnly(WorkbookError):
    """The file (or its folder, where the new copy is made) is not writable."""


class WorkbookChanged(WorkbookError, TransientFailure):
    """Someone saved the workbook while it was being written; a retry starts from their version."""


def workbook_path(sheet: str) -> Path | None:
    """The workbook's path if ``sheet`` names one, None for a Google spreadsheet id.

    Anything else fails at once with one line, instead of being sent to Google as an id (a 404).
    """
    name = sheet.strip()
    suffix = Path(name).suffix.lower()
    if suffix in SUPPORTED:
        return Path(name).expanduser()
    if suffix in OTHER_FORMATS:
        raise UnsupportedWorkbook(name, f"is {OTHER_FORMATS[suffix]}; {SUPPORTED_TEXT}")
    if name.startswith(("http://", "https://")):
        raise UnsupportedWorkbook(
            name, f"is a URL; give the spreadsheet id (the part after /d/ in the URL); {SUPPORTED_TEXT}"
        )
    if _GOOGLE_ID.fullmatch(name):
        return None
    raise UnsupportedWorkbook(name, f"is no .xlsx/.xlsm path and no Google spreadsheet id; {SUPPORTED_TEXT}")


def resolve_target(path: Path) -> Path:
    """The file a path (or a chain of symbolic links) ends at; the link itself is never replaced."""
    target = Path(os.path.realpath(path))
    if not target.exists():
        if path.is_symlink():
            raise WorkbookNotFound(path, f"is a symbolic link to {target}, which does not exist")
        raise WorkbookNotFound(path, "workbook not found")
    if not target.is_file():
        raise UnsupportedWorkbook(path, f"is not a file; {SUPPORTED_TEXT}")
    return target


@dataclass(frozen=True)
class LockFile:
    """An office program's sign that the workbook is open: the file and who holds it, if it says."""

    path: Path
    program: str
    owner: str | None

    def describe(self) -> str:
        """``open in Excel by 'Anna' (lock file ~$x.xlsx)``."""
        who = f" by {self.owner!r}" if self.owner else ""
        return f"open in {self.program}{who} (lock file {self.path.name})"


def lock_files(path: Path, target: Path) -> list[LockFile]:
    """Lock files beside the path the user gave and beside the file it points to.

    Excel writes ``~$name.xlsx`` (Word-style ``~$`` plus the name without its first two characters is
    checked too), LibreOffice ``.~lock.name.xlsx#``; both sit in the folder the file was opened from.
    """
    found: list[LockFile] = []
    seen: set[Path] = set()
    for place in dict.fromkeys((path.absolute(), target)):
        candidates = [
            (place.with_name("~$" + place.name), "Excel"),
            (place.with_name(".~lock." + place.name + "#"), "LibreOffice"),
        ]
        if len(place.name) > 2:
            candidates.append((place.with_name("~$" + place.name[2:]), "Excel"))
        for lock, program in candidates:
            if lock in seen or not lock.is_file():
                continue
            seen.add(lock)
            found.append(LockFile(lock, program, _lock_owner(lock, program)))
    return found


def _lock_owner(lock: Path, program: str) -> str | None:
    """Who holds the lock, as far as the lock file says (best effort: it is only for the message)."""
    try:
        data = lock.read_bytes()[:512]
    except OSError:
        return None
    if program == "LibreOffice":
        # "Full Name,user,host,date,url;"
        fields = data.decode("utf-8", errors="replace").split(",")
        name = next((f.strip() for f in fields[:2] if f.strip()), "")
        return name or None
    # Excel owner file: one length byte, then the user name in the ANSI code page.
    if not data or not 0 < data[0] <= 53 or len(data) < 1 + data[0]:
        return None
    return data[1 : 1 + data[0]].decode("cp1252", errors="replace").strip() or None


def ensure_not_locked(path: Path, target: Path) -> None:
    """Refuse while the workbook is open in Excel or LibreOffice: their next save would undo ours."""
    locks = lock_files(path, target)
    if locks:
        held = locks[0]
        raise WorkbookLocked(
            path,
            f"is {held.describe()}; nothing was written. Close it there and run again "
            f"(or delete {held.path} if nobody has the workbook open)",
        )


def ensure_writable(path: Path, target: Path) -> None:
    """Refuse a read-only workbook (even for root, who could write it anyway) or an unwritable folder."""
    mode = target.stat().st_mode
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise WorkbookReadOnly(path, "the workbook is read-only; nothing was written (make it writable)")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise WorkbookReadOnly(
            path,
            f"its folder {target.parent} is not writable; nothing was written "
            "(the workbook is replaced through a temporary file in the same folder)",
        )


@dataclass(frozen=True)
class FileVersion:
    """Enough of ``stat`` to tell whether someone saved the file since it was read."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, target: Path) -> FileVersion:
        """The version on disk now."""
        info = target.stat()
        return cls(info.st_ino, info.st_size, info.st_mtime_ns)


@contextlib.contextmanager
def atomic_replace(path: Path, target: Path, version: FileVersion) -> Iterator[BinaryIO]:
    """A temporary file beside ``target`` that replaces it when the block ends without an error.

    The new file gets the old one's mode (and owner, where allowed). Just before the replace the lock
    files and the version are checked again: a workbook someone opened or saved meanwhile is left as it
    is. On any error the temporary file is removed and the workbook is untouched.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".jtl-tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        info = target.stat()
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.chown(tmp, info.st_uid, info.st_gid)
        ensure_not_locked(path, target)
        if FileVersion.of(target) != version:
            raise WorkbookChanged(path, "was saved by someone else during the write; nothing was written")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
