"""Validated next edits: prompt -> k sampled edits -> parse -> apply -> lint -> deduplicate -> rank.

A suggestion is shown only if applying it adds no pyflakes error the buffer did not already have; a buffer that does
not parse gets a clear ``buffer_error`` instead of a guess. Malformed model output and edits that add errors are
dropped and counted, never raised. ``validate`` is the pure core (text in, suggestions out); ``suggest`` and
``generate_sequences`` put a model in front of it. Beside the model's edits, ``suggest`` offers the import a buffer's
own undefined name needs when it is certain (``auto_import.import_fix``), ranked first.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from model_runtime import lint
from model_runtime.auto_import import Symbols, import_fix
from model_runtime.candidate_checks import BufferLint
from model_runtime.edits import (
    SEPARATOR,
    Edit,
    EditApplyError,
    EditFormatError,
    diff_states,
    normalise,
    parse_edit,
)
from model_runtime.generation import CancelFlag, Timings, generate
from model_runtime.incremental_lint import IncrementalLint
from model_runtime.loading import LoadedModel
from model_runtime.prompts import UNPARSED, build_prompt, without_lines
from model_runtime.repair import nearest_parsing, parses
from model_runtime.strategies import STRATEGIES, Proposal, Request
from model_runtime.strategies import resolve as resolve_strategy
from model_runtime.strategies.lintseq import head_for
from model_runtime.windows import DEFAULT_WINDOW

__all__ = [
    "Placement",
    "SequenceCandidate",
    "SuggestResult",
    "Suggestion",
    "Timings",
    "generate_sequences",
    "head_for",
    "place_step",
    "placements_for",
    "suggest",
    "validate",
]


@dataclass(frozen=True)
class Placement:
    """Insert ``lines`` before 0-based line ``line`` of the buffer the caller passed (``line == len`` appends)."""

    line: int
    lines: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"line": self.line, "lines": list(self.lines)}


@dataclass(frozen=True)
class Suggestion:
    """One validated next edit: its text, parsed form, where it goes, the resulting program and its score."""

    edit_text: str
    edit: Edit
    placements: tuple[Placement, ...]
    program: str
    score: float  # mean token log-probability; higher is better
    timings: Timings | None = None
    # A plan of several steps (rewrite, fim): every step's edit in order, the first being ``edit_text``, each
    # against the program the ones before it left; ``final_program`` is the buffer after all of them.
    steps: tuple[str, ...] = ()
    final_program: str = ""

    @property
    def added_lines(self) -> int:
        return self.edit.added_lines

    def as_dict(self) -> dict:
        found = {
            "edit": self.edit_text,
            "placements": [p.as_dict() for p in self.placements],
            "program": self.program,
            "score": self.score,
        }
        if len(self.steps) > 1:
            found |= {"steps": list(self.steps), "final_program": self.final_program}
        return found


@dataclass(frozen=True)
class SuggestResult:
    """The suggestions for one buffer, best first; or why there are none."""

    suggestions: list[Suggestion]
    buffer_error: str | None = None
    dropped_malformed: int = 0
    dropped_invalid: int = 0
    duplicates: int = 0
    timings: Timings | None = None
    # Candidates whose hunk headers miscounted their + rows, read by their rows (see ``read_edit``).
    recounted: int = 0
    # Answers that would delete or change buffer lines, so were not offered as insertions (rewrite strategy).
    non_insertions: int = 0
    strategy: str = ""

    def as_dict(self) -> dict:
        return {
            "suggestions": [s.as_dict() for s in self.suggestions],
            "buffer_error": self.buffer_error,
            "strategy": self.strategy,
            "dropped_malformed": self.dropped_malformed,
            "dropped_invalid": self.dropped_invalid,
            "non_insertions": self.non_insertions,
            "duplicates": self.duplicates,
            "recounted": self.recounted,
            "timings": self.timings.as_dict() if self.timings else None,
        }


@dataclass(frozen=True)
class SequenceCandidate:
    """A whole generated sequence: ``steps`` replay it from the starting buffer; ``valid`` if no step added errors."""

    program: str
    steps: list[Suggestion]
    valid: bool
    score: float
    step_valid: tuple[bool, ...] = field(default=())
    text: str = ""
    moved: int = 0  # steps moved from their stated position to one where the buffer parses (``replay``)

    def as_dict(self) -> dict:
        return {
            "program": self.program,
            "steps": [s.as_dict() for s in self.steps],
            "valid": self.valid,
            "step_valid": list(self.step_valid),
            "score": self.score,
            "moved": self.moved,
        }


def placements_for(buffer: str, edit: Edit) -> tuple[tuple[Placement, ...], str]:
    """Where an insertion edit puts its lines in ``buffer`` (0-based, in the caller's lines) and the new buffer.

    Hunks apply in order, each against the program left by the ones before (the LintSeq rule); placements are all
    relative to the original buffer, as an editor applying several TextEdits at once expects. Raises
    EditApplyError for a hunk that deletes or points past the end.
    """
    lines = buffer.split("\n")
    # Edits count lines of the stripped buffer; leading blank lines shift them in the caller's buffer.
    offset = next((i for i, text in enumerate(lines) if text.strip()), 0)
    markers: list[int | tuple[int]] = list(range(len(normalise(buffer))))
    for i, hunk in enumerate(edit.hunks):
        if not hunk.is_insertion:
            raise EditApplyError(f"hunk {i + 1} deletes lines; only insertions apply")
        if hunk.insert_at > len(markers):
            raise EditApplyError(
                f"hunk {i + 1} inserts at line {hunk.new_start} but the program has {len(markers)}"
            )
        markers[hunk.insert_at : hunk.insert_at] = [(i,)] * len(hunk.added)
    placements: list[Placement] = []
    for i, hunk in enumerate(edit.hunks):
        if not hunk.added:
            continue
        first = markers.index((i,))
        at = offset + sum(1 for m in markers[:first] if isinstance(m, int))
        if placements and placements[-1].line == at:
            placements[-1] = Placement(at, placements[-1].lines + hunk.added)
        else:
            placements.append(Placement(at, hunk.added))
    ordered = tuple(sorted(placements, key=lambda p: p.line))
    return ordered, insert_placements(buffer, ordered)


def insert_placements(buffer: str, placements: Sequence[Placement]) -> str:
    """``buffer`` with each placement's lines inserted before its (0-based, original) line."""
    result = buffer.split("\n") if buffer.strip() else []
    for placement in sorted(placements, key=lambda p: p.line, reverse=True):
        result[placement.line : placement.line] = placement.lines
    return "\n".join(result)


def unhide(
    buffer: str, hidden: Sequence[int], placements: Sequence[Placement], end: int | None = None
) -> tuple[Placement, ...]:
    """Placements made against ``buffer`` without its lines ``hidden``, moved to ``buffer``'s own lines; one after
    the last shown line goes to 0-based line ``end`` (None: the end of the buffer)."""
    drop = set(hidden)
    shown = [i for i in range(len(buffer.split("\n"))) if i not in drop]
    end = len(buffer.split("\n")) if end is None else end
    return tuple(Placement(shown[p.line] if p.line < len(shown) else end, p.lines) for p in placements)


def validate(
    buffer: str,
    outputs: Sequence[tuple[str, float] | Proposal],
    timings: Timings | None = None,
    hidden: Sequence[int] = (),
    linted: BufferLint | None = None,
    append_at: int | None = None,
) -> SuggestResult:
    """Turn model outputs ``(edit text, score)`` into validated, deduplicated suggestions, best first.

    An output may be a ``Proposal`` with later steps: then every step must apply, in order, and leave no pyflakes
    error the buffer lacks; suggestions are deduplicated by the program after their last step.

    ``hidden``: 0-based lines of ``buffer`` the prompt left out (``Prompt.hidden``); the outputs count lines
    without them. Each suggestion's edit text and placements are then given against ``buffer`` itself; an edit
    appending to the shown lines goes before 0-based line ``append_at`` (``Prompt.append_at``; None: at the end).
    ``linted``: the buffer's ``BufferLint`` when the caller already made one (it is made here otherwise).
    """
    linted = linted if linted is not None and linted.buffer == buffer else BufferLint(buffer)
    if linted.error:
        return SuggestResult([], linted.error, timings=timings)
    shown = without_lines(buffer, hidden) if hidden else buffer
    malformed = invalid = duplicates = recounted = 0
    best: dict[tuple[str, ...], Suggestion] = {}
    for output in outputs:
        text, score, later = output if len(output) == 3 else (*output, ())
        try:
            edit, text, miscounted = read_edit(text)
            placements, program = placements_for(shown, edit)
        except (EditFormatError, EditApplyError):
            malformed += 1
            continue
        if hidden:
            placements = unhide(buffer, hidden, placements, append_at)
            program = insert_placements(buffer, placements)
            text = diff_states(buffer, program, trim=True)
            edit = parse_edit(text)
        recounted += miscounted
        if (
            not edit.added_lines
            or linted.adds_errors(program)
            or linted.adds_unreachable_code(program, placements)
        ):
            invalid += 1
            continue
        final = _follow(program, later, linted) if later else program
        if final is None:
            invalid += 1
            continue
        key = tuple(normalise(final))
        if key in best:
            duplicates += 1
            if best[key].score >= score:
                continue
        steps = (text, *later) if later else ()
        best[key] = Suggestion(text, edit, placements, program, score, timings, steps, final if later else "")
    ranked = sorted(best.values(), key=lambda s: s.score, reverse=True)
    return SuggestResult(ranked, None, malformed, invalid, duplicates, timings, recounted)


def _follow(program: str, later: Sequence[str], linted: BufferLint) -> str | None:
    """The program after a plan's later steps, or None when one does not apply or adds an error."""
    for step in later:
        try:
            _, program = placements_for(program, parse_edit(step))
        except (EditFormatError, EditApplyError):
            return None
        if linted.adds_errors(program):
            return None
    return program


def read_edit(text: str) -> tuple[Edit, str, bool]:
    """Parse one generated edit: (edit, its text, whether its headers miscounted their rows).

    Every row must be a ``+`` row under a readable header (else EditFormatError). A header whose line count does
    not match its rows is read by its rows, as the reference resolver reads every hunk (it uses only the start
    line); such an edit's text is rendered again with the right counts, so that logs and training data made from
    it are well-formed.
    """
    try:
        return parse_edit(text), text, False
    except EditFormatError:
        edit = parse_edit(text, counts=False)
        return edit, edit.render(), True


def suggest(
    loaded: LoadedModel,
    buffer: str,
    *,
    line: int | None = None,
    instruction: str | None = None,
    history: Sequence[str] = (),
    k: int = 4,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 128,
    mode: str = "whole",
    cancel: CancelFlag | None = None,
    on_token: Callable[[int, str], None] | None = None,
    seed: int | None = None,
    linter: IncrementalLint | None = None,
    window: int = DEFAULT_WINDOW,
    tree: object = UNPARSED,
    strategy: str | None = None,
    cache_key: Hashable = None,
    symbols: Symbols | None = None,
    module: str | None = None,
) -> SuggestResult:
    """Validated next edits for ``buffer``, best first (see ``validate``); raises generation.Cancelled if cancelled.

    ``strategy``: how the model proposes edits (``model_runtime.strategies``: lintseq, fim, rewrite); None takes
    the model's default. ``linter``: the document's own ``IncrementalLint`` (see ``BufferLint``), reused from call
    to call. ``window``: a longer buffer shows the model only this many lines around ``line``
    (``windows.window_span``; 0: all). ``tree``: the buffer's syntax tree when the caller has parsed it
    (``prompts.UNPARSED``: parse it here). ``cache_key``: the prompt cache this call reuses and refreshes (the
    document's URI: the next call for it prefills only what changed; ``generation.generate``). ``symbols``,
    ``module``: the workspace's symbol index and the buffer's module, for the import quick fix (``auto_import``). Raises ValueError for an unknown strategy or one the model cannot run.
    """
    name = resolve_strategy(strategy, loaded)
    linted = BufferLint(buffer, linter=linter)
    if linted.error:
        return SuggestResult([], linted.error, strategy=name)
    request = Request(
        buffer, line, instruction, history, k, temperature, top_p, max_new_tokens, seed, cancel, on_token,
        window, tree, mode, cache_key,
    )  # fmt: skip
    proposed = STRATEGIES[name](loaded, request)
    validated = validate(
        buffer, proposed.outputs, proposed.timings, proposed.hidden, linted, proposed.append_at
    )
    fixes = _import_fixes(buffer, linted, symbols, module)
    fixed = {fix.program for fix in fixes}
    return dataclasses.replace(
        validated,
        suggestions=[
            *fixes,
            *(s for s in validated.suggestions if (s.final_program or s.program) not in fixed),
        ],
        dropped_malformed=validated.dropped_malformed + proposed.malformed,
        non_insertions=proposed.non_insertions,
        strategy=name,
    )


def _import_fixes(
    buffer: str, linted: BufferLint, symbols: Symbols | None, module: str | None
) -> list[Suggestion]:
    """The quick fix that imports what the buffer's own undefined names need, validated (at most one)."""
    fixed = import_fix(buffer, linted.errors, symbols=symbols, module=module) if linted.errors else None
    if fixed is None:
        return []
    # a mean log-probability of 0: nothing the model proposes ranks above it
    return validate(buffer, [(diff_states(buffer, fixed, trim=True), 0.0)], linted=linted).suggestions


def replay(start: str, sequence_text: str, score: float = 0.0, *, repair: bool = True) -> SequenceCandidate:
    """Resolve generated LintSeq text (the part after the prompt) from ``start``, step by step, keeping validity.

    Lenient like the reference evaluation: malformed hunks are skipped, and so is an edit that cannot apply.
    ``repair``: a step that breaks a buffer that parsed moves to the nearest position where it parses (within
    ``repair.MAX_SHIFT`` lines; ``moved`` counts them), as a small model often misnumbers its hunks.
    """
    current = start
    steps: list[Suggestion] = []
    step_valid: list[bool] = []
    moved = 0
    for chunk in sequence_text.split(SEPARATOR):
        placed = place_step(current, chunk, repair=repair)
        if placed is None:
            continue
        edit, placements, program, was_moved = placed
        moved += was_moved
        step_valid.append(not lint.new_errors(current, program))
        steps.append(Suggestion(edit.render(), edit, placements, program, score))
        current = program
    return SequenceCandidate(current, steps, all(step_valid), score, tuple(step_valid), sequence_text, moved)


def place_step(
    buffer: str, edit_text: str, *, repair: bool = True
) -> tuple[Edit, tuple[Placement, ...], str, bool] | None:
    """One generated edit applied to ``buffer``: (edit, placements, new buffer, whether it was moved), or None for
    text that holds no hunk or cannot apply. ``repair``: an edit that breaks a buffer that parsed moves to the
    nearest position where it parses (``repair.nearest_parsing``)."""
    try:
        edit = parse_edit(edit_text, strict=False)
        if not edit.hunks:
            return None
        placements, program = placements_for(buffer, edit)
    except (EditFormatError, EditApplyError):
        return None
    if repair and not parses(program) and parses(buffer):
        found = nearest_parsing(edit, functools.partial(placements_for, buffer), lambda result: result[1])
        if found is not None:
            edit, (placements, program) = found
            return edit, placements, program, True
    return edit, placements, program, False


def generate_sequences(
    loaded: LoadedModel,
    instruction: str,
    *,
    start: str = "",
    k: int = 4,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 512,
    cancel: CancelFlag | None = None,
    on_token: Callable[[int, str], None] | None = None,
    seed: int | None = None,
    repair: bool = True,
) -> list[SequenceCandidate]:
    """Sample ``k`` whole edit sequences from ``instruction`` (continuing ``start``), deduplicated by final program,
    best first (valid before invalid, then by mean log-probability). ``repair``: see ``replay``."""
    head = head_for(loaded)
    prompt = (
        build_prompt(start, instruction=instruction, head=head).text if start.strip() else head(instruction)
    )
    result = generate(
        loaded,
        prompt,
        k=k,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        stop="sequence",
        cancel=cancel,
        on_token=on_token,
        seed=seed,
    )
    best: dict[tuple[str, ...], SequenceCandidate] = {}
    for candidate in result.candidates:
        replayed = replay(start, candidate.text, candidate.mean_logprob, repair=repair)
        key = tuple(normalise(replayed.program))
        if not replayed.steps or (key in best and best[key].score >= replayed.score):
            continue
        best[key] = replayed
    return sorted(best.values(), key=lambda c: (c.valid, c.score), reverse=True)
