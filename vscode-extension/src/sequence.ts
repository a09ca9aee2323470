// Candidates from `editseq.generate` and their steps, read into plain data for the quick pick and the previews.

/** A step's insertion: `lines` go before 0-based line `line` of the program the step applies to. */
export interface Placement {
  line: number;
  lines: string[];
}

export interface Step {
  title: string;
  /** The program after this step, when known; computed from the previous program otherwise. */
  program: string;
}

export interface Candidate {
  index: number;
  program: string;
  steps: Step[];
  valid: boolean;
  /** Steps the server moved from the line the model gave to the nearest one where the file parses. */
  moved: number;
}

/** The next program after inserting each placement into `text` (positions refer to `text`). */
export function applyPlacements(text: string, placements: Placement[]): string {
  const lines = splitLines(text);
  // Insert from the bottom up so that earlier positions still refer to the original text.
  const ordered = [...placements].sort((a, b) => b.line - a.line);
  for (const placement of ordered) {
    const at = Math.max(0, Math.min(placement.line, lines.length));
    lines.splice(at, 0, ...placement.lines);
  }
  return joinLines(lines, text);
}

/** `text` after one LintSeq edit (`@@ -a,b +c,d @@` hunks of `+` lines), inserting each hunk at line c-1 in order. */
export function applyEditText(text: string, edit: string): string {
  const lines = splitLines(text);
  for (const hunk of edit.split(/\n(?=@@)/)) {
    const header = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(hunk.trimStart());
    if (!header) {
      continue; // the server's parser skips malformed hunks too
    }
    const added = hunk
      .trimStart()
      .split("\n")
      .slice(1)
      .filter((row) => row.startsWith("+"))
      .map((row) => row.slice(1));
    const at = Math.max(0, Math.min(Number(header[1]) - 1, lines.length));
    lines.splice(at, 0, ...added);
  }
  return joinLines(lines, text);
}

/** A short title for an insertion: "Insert 2 lines at 14: for item in ...". */
export function placementTitle(placements: Placement[]): string {
  if (placements.length === 0) {
    return "Insert nothing";
  }
  const count = placements.reduce((sum, placement) => sum + placement.lines.length, 0);
  const first = placements[0];
  const firstCode = first.lines.find((line) => line.trim() !== "")?.trim() ?? "";
  const noun = count === 1 ? "line" : "lines";
  return `Insert ${count} ${noun} at ${first.line + 1}: ${truncate(firstCode, 40)}`;
}

/** Candidates from the server's `editseq.generate` reply; entries it cannot read are dropped, never thrown. */
export function parseCandidates(raw: unknown, start: string): Candidate[] {
  if (!Array.isArray(raw)) {
    return [];
  }
  const candidates: Candidate[] = [];
  raw.forEach((entry, position) => {
    if (typeof entry !== "object" || entry === null) {
      return;
    }
    const value = entry as Record<string, unknown>;
    const steps = parseSteps(value.steps, start);
    const program = typeof value.program === "string" ? value.program : steps.at(-1)?.program ?? start;
    candidates.push({
      index: typeof value.index === "number" ? value.index : position,
      program,
      steps,
      valid: value.valid !== false,
      moved: typeof value.moved === "number" && value.moved > 0 ? value.moved : 0,
    });
  });
  return candidates;
}

function parseSteps(raw: unknown, start: string): Step[] {
  if (!Array.isArray(raw)) {
    return [];
  }
  const steps: Step[] = [];
  let previous = start;
  for (const entry of raw) {
    const step = parseStep(entry, previous);
    if (step) {
      steps.push(step);
      previous = step.program;
    }
  }
  return steps;
}

function parseStep(entry: unknown, previous: string): Step | undefined {
  if (typeof entry === "string") {
    return { title: editTitle(entry), program: applyEditText(previous, entry) };
  }
  if (typeof entry !== "object" || entry === null) {
    return undefined;
  }
  const value = entry as Record<string, unknown>;
  const placements = parsePlacements(value.placements);
  const editText = [value.edit_text, value.editText, value.edit].find((v) => typeof v === "string") as
    | string
    | undefined;
  let program: string;
  if (typeof value.program === "string") {
    program = value.program;
  } else if (placements) {
    program = applyPlacements(previous, placements);
  } else if (editText !== undefined) {
    program = applyEditText(previous, editText);
  } else {
    return undefined;
  }
  const title =
    typeof value.title === "string"
      ? value.title
      : placements
        ? placementTitle(placements)
        : editText !== undefined
          ? editTitle(editText)
          : "Next step";
  return { title, program };
}

function parsePlacements(raw: unknown): Placement[] | undefined {
  if (!Array.isArray(raw)) {
    return undefined;
  }
  const placements: Placement[] = [];
  for (const entry of raw) {
    if (typeof entry !== "object" || entry === null) {
      return undefined;
    }
    const { line, lines } = entry as Record<string, unknown>;
    if (typeof line !== "number" || !Array.isArray(lines) || !lines.every((l) => typeof l === "string")) {
      return undefined;
    }
    placements.push({ line, lines: lines as string[] });
  }
  return placements;
}

function editTitle(edit: string): string {
  const added = edit.split("\n").filter((row) => row.startsWith("+") && !row.startsWith("+++"));
  const header = /\+(\d+)/.exec(edit);
  const placements = header ? [{ line: Number(header[1]) - 1, lines: added.map((row) => row.slice(1)) }] : [];
  return placementTitle(placements);
}

/** A document's pending steps, as the server's `editseq/pending` notice gives them: the steps left, from the next. */
export interface PendingSteps {
  uri: string;
  /** 0-based index of the next step among all `total`. */
  next: number;
  total: number;
  /** The steps left (none: nothing pending), each with the program it makes from the document's text. */
  steps: Step[];
}

/** The `editseq/pending` notice read into pending steps; `textOf` gives the document's text. Undefined if unreadable. */
export function parsePending(raw: unknown, textOf: (uri: string) => string): PendingSteps | undefined {
  if (typeof raw !== "object" || raw === null) {
    return undefined;
  }
  const value = raw as Record<string, unknown>;
  if (typeof value.uri !== "string") {
    return undefined;
  }
  const steps = parseSteps(value.steps, textOf(value.uri));
  const next = typeof value.next === "number" && value.next >= 0 ? value.next : 0;
  const total = typeof value.total === "number" && value.total >= next + steps.length ? value.total : next + steps.length;
  return { uri: value.uri, next, total, steps };
}

/** The quick pick row for a candidate: what it is, and the first lines of its final program. */
export function candidateItem(candidate: Candidate, start: string): { label: string; description: string; detail: string } {
  const added = countLines(candidate.program) - countLines(start);
  const steps = candidate.steps.length === 1 ? "1 step" : `${candidate.steps.length} steps`;
  const validity = candidate.valid ? "lint-clean" : "adds lint errors";
  const moved = candidate.moved ? ` · ${candidate.moved} moved to parse` : "";
  return {
    label: `Candidate ${candidate.index + 1}`,
    description: `${steps} · ${added >= 0 ? "+" : ""}${added} lines · ${validity}${moved}`,
    detail: previewLines(candidate.program, start, 3),
  };
}

/** Up to `max` of the lines the program adds to `start`, joined with " ⏎ " for one-line previews. */
export function previewLines(program: string, start: string, max: number): string {
  const before = new Set(splitLines(start).map((line) => line.trim()));
  const added = splitLines(program)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !before.has(line));
  const shown = added.slice(0, max).join(" ⏎ ");
  return added.length > max ? `${shown} ⏎ …` : shown || "(no new lines)";
}

/** The step the pending sequence is at, as "step 2 of 5". */
export function progressLabel(next: number, total: number): string {
  return `step ${Math.min(next + 1, total)} of ${total}`;
}

function countLines(text: string): number {
  return text === "" ? 0 : splitLines(text).length;
}

function splitLines(text: string): string[] {
  if (text === "") {
    return [];
  }
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") {
    lines.pop();
  }
  return lines;
}

function joinLines(lines: string[], original: string): string {
  const eol = original.includes("\r\n") ? "\r\n" : "\n";
  return lines.length === 0 ? "" : lines.join(eol) + eol;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** What came of `editseq.acceptNextStep`: applied or why not, and how far the sequence now is. */
export interface AcceptOutcome {
  applied: boolean;
  reason?: string;
  /** Steps applied so far, when the server says. */
  step?: number;
  done?: boolean;
}

/** The server's reply to `editseq.acceptNextStep` read into an outcome; an unreadable reply counts as applied. */
export function acceptOutcome(reply: unknown): AcceptOutcome {
  if (typeof reply !== "object" || reply === null) {
    return { applied: true };
  }
  const value = reply as Record<string, unknown>;
  const outcome: AcceptOutcome = { applied: value.applied !== false };
  if (typeof value.reason === "string") {
    outcome.reason = value.reason;
  }
  if (typeof value.step === "number") {
    outcome.step = value.step;
  }
  if (typeof value.done === "boolean") {
    outcome.done = value.done;
  }
  return outcome;
}
