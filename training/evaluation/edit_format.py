"""Whether a lintseq-mode generation is a well-formed edit sequence, and if not, why, in words a report can count.

A generation is *well-formed* when it holds at least one edit and every hunk reads strictly (a ``@@ -a,0 +c,d @@``
header, then exactly ``d`` rows that start with ``+``) and applies in order from the empty file as an insertion.
That is stricter than what ``model_runtime.edits.resolve`` (like the reference resolver) accepts: it reads only a
header's start line and skips what it cannot apply. The classes below say which rule a generation broke first, and,
for a well-formed one, whether every program state it passes through parses, as every LintSeq training state does.
"""

from __future__ import annotations

from model_runtime.edits import SEPARATOR, EditApplyError, EditFormatError, parse_sequence
from model_runtime.lint import parse_or_none

WELL_FORMED = "well-formed"
WELL_FORMED_BROKEN_STEP = "well-formed, a step does not parse"
LINE_COUNT = "header's line count is off"
PAST_END = "inserts past the end"
DELETES = "deletes lines"
UNREADABLE = "unreadable hunk"
NO_EDIT = "no edit"

# The order a report shows them in: the well-formed classes first, then the breaks, most structural last.
CLASSES = (WELL_FORMED, WELL_FORMED_BROKEN_STEP, LINE_COUNT, PAST_END, DELETES, UNREADABLE, NO_EDIT)


def edit_format_class(generated: str) -> str:
    """One of ``CLASSES`` for a lintseq-mode generation (the text the model wrote after the first separator)."""
    try:
        sequence = parse_sequence(SEPARATOR + generated, strict=True)
        states = sequence.states()  # applies every edit in order
    except EditFormatError as error:
        return LINE_COUNT if error.reason.startswith("header promises") else UNREADABLE
    except EditApplyError as error:
        return DELETES if "deletes lines" in str(error) else PAST_END
    if not sequence.edits:
        return NO_EDIT
    if any(parse_or_none(state) is None for state in states[1:]):
        return WELL_FORMED_BROKEN_STEP
    return WELL_FORMED


def well_formed(generated: str) -> bool:
    """Whether a lintseq-mode generation is a well-formed edit sequence (see the module docstring)."""
    return edit_format_class(generated) in (WELL_FORMED, WELL_FORMED_BROKEN_STEP)
