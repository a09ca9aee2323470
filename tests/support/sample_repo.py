"""A small repository of documented Python functions, with files that retraining must leave out (ignored by
``.gitignore``, vendored, generated). ``editseq retrain`` tests and the VS Code end-to-end workspace learn from it."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "shapes/area.py": '''
"""Areas of simple shapes."""
import math


def circle(radius):
    """Return the area of a circle of the given radius."""
    if radius < 0:
        raise ValueError("negative radius")
    area = math.pi * radius * radius
    return area


def rectangle(width, height):
    """Return the area of a width x height rectangle."""
    if width < 0 or height < 0:
        raise ValueError("negative side")
    area = width * height
    return area
''',
    "shapes/perimeter.py": '''
"""Perimeters of simple shapes."""


def square(side):
    """Return the perimeter of a square."""
    if side < 0:
        raise ValueError("negative side")
    total = 4 * side
    return total


def triangle(a, b, c):
    """Return the perimeter of a triangle with sides a, b and c."""
    sides = [a, b, c]
    total = 0
    for side in sides:
        total += side
    return total
''',
    "text/words.py": '''
"""Counting words."""


def count_words(text):
    """Return how many words the text holds."""
    words = text.split()
    count = 0
    for word in words:
        count += 1
    return count


def longest(text):
    """Return the longest word of the text."""
    best = ""
    for word in text.split():
        if len(word) > len(best):
            best = word
    return best
''',
    "text/lines.py": '''
"""Counting lines."""


def count_lines(text):
    """Return the number of non-blank lines."""
    total = 0
    for line in text.splitlines():
        if line.strip():
            total += 1
    return total


def first_line(text):
    """Return the first non-blank line, or an empty string."""
    for line in text.splitlines():
        if line.strip():
            return line
    return ""
''',
    "numbers/stats.py": '''
"""Small statistics."""


def mean(values):
    """Return the mean of the values."""
    total = 0
    for value in values:
        total += value
    return total / len(values)


def spread(values):
    """Return the largest minus the smallest value."""
    low = min(values)
    high = max(values)
    result = high - low
    return result
''',
    # Left out: ignored by .gitignore, vendored, generated.
    "build/copy.py": '"""A build artefact."""\n\n\ndef ignored_build(x):\n    """Doc."""\n    y = x\n    z = y\n    return z\n',
    "vendor/lib.py": '"""Vendored."""\n\n\ndef vendored(x):\n    """Doc."""\n    y = x\n    z = y\n    return z\n',
    "gen_pb2.py": '"""Generated."""\n\n\ndef generated(x):\n    """Doc."""\n    y = x\n    z = y\n    return z\n',
}


def make_repo(root: Path, files: dict[str, str] = FILES) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    (root / ".gitignore").write_text("build/\n")
    return root


# A later commit of the git sample: one pure insertion (a new function) into a file that exists.
LATER_FUNCTION = '''

def halfway(values):
    """Return the value halfway between the smallest and the largest."""
    low = min(values)
    high = max(values)
    return (low + high) / 2
'''


def make_git_repo(root: Path) -> Path:
    """``make_repo`` as a git repository of two commits: every file, then ``LATER_FUNCTION`` appended to
    ``numbers/stats.py`` (the one next edit its history holds)."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(root), "-c", "user.name=EditSeq", "-c", "user.email=t@example.com", *args],
            check=True,
            capture_output=True,
        )

    make_repo(root)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    stats = root / "numbers" / "stats.py"
    stats.write_text(stats.read_text() + LATER_FUNCTION)
    git("commit", "-q", "-am", "halfway")
    return root
