"""How close a suggested insertion is to the lines that were really inserted: pure functions on lines of text.

Lines are compared stripped, blank lines left out, so indentation and spacing do not decide a match (placement is
scored on its own, by ``near``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from training.evaluation.next_edit import line_f1 as multiset_f1

NEAR_LINES = 3


def code_lines(lines: Sequence[str]) -> list[str]:
    """``lines`` stripped, blank ones left out."""
    return [line.strip() for line in lines if line.strip()]


def exact(predicted: Sequence[str], truth: Sequence[str]) -> bool:
    """Whether both insert the same set of (stripped, non-blank) lines."""
    return set(code_lines(predicted)) == set(code_lines(truth))


def line_f1(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """F1 between the multisets of stripped non-blank lines; 0.0 when either side has none."""
    a, b = code_lines(predicted), code_lines(truth)
    return multiset_f1(a, b) if a and b else 0.0


def edit_similarity(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """``difflib.SequenceMatcher`` ratio (2 x matched characters / total characters, no junk heuristic) of the
    stripped non-blank lines joined with newlines; 1.0 for the same lines in the same order."""
    a, b = "\n".join(code_lines(predicted)), "\n".join(code_lines(truth))
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def near(predicted_line: int | None, true_line: int, within: int = NEAR_LINES) -> bool:
    """Whether a suggestion placed at 0-based ``predicted_line`` lies within ``within`` lines of the truth."""
    return predicted_line is not None and abs(predicted_line - true_line) <= within
