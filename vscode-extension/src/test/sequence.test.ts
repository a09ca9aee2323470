import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import {
  acceptOutcome,
  applyEditText,
  applyPlacements,
  candidateItem,
  parseCandidates,
  parsePending,
  placementTitle,
  previewLines,
  progressLabel,
} from "../sequence";

describe("applyPlacements", () => {
  it("inserts lines before the given 0-based line", () => {
    assert.equal(applyPlacements("a\nc\n", [{ line: 1, lines: ["b"] }]), "a\nb\nc\n");
  });

  it("reads every position against the original text", () => {
    const result = applyPlacements("a\nc\ne\n", [
      { line: 1, lines: ["b"] },
      { line: 2, lines: ["d"] },
    ]);
    assert.equal(result, "a\nb\nc\nd\ne\n");
  });

  it("appends when the line equals the number of lines", () => {
    assert.equal(applyPlacements("a\n", [{ line: 1, lines: ["b", "c"] }]), "a\nb\nc\n");
  });

  it("only ever adds lines: the original lines survive, in order", () => {
    const line = fc.string({ unit: fc.constantFrom("a", "b", " ", "("), maxLength: 5 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), fc.array(fc.tuple(fc.nat(8), fc.array(line, { maxLength: 3 }))), (lines, raw) => {
        const text = lines.length ? lines.join("\n") + "\n" : "";
        const placements = raw.map(([at, inserted]) => ({ line: at, lines: inserted }));
        const out = applyPlacements(text, placements).split("\n").slice(0, -1);
        const added = placements.reduce((n, p) => n + p.lines.length, 0);
        assert.equal(out.length, lines.length + added);
        let i = 0;
        for (const row of out) {
          if (i < lines.length && row === lines[i]) {
            i += 1;
          }
        }
        assert.equal(i, lines.length);
      }),
    );
  });
});

describe("applyEditText (LintSeq edit format)", () => {
  it("inserts each hunk's + lines at its new start line minus one, hunk by hunk", () => {
    const edit = "@@ -0,0 +1,2 @@\n+def f(x):\n+    return x\n@@ -2,0 +3 @@\n+print(f(1))";
    assert.equal(applyEditText("", edit), "def f(x):\n    return x\nprint(f(1))\n");
  });

  it("skips a malformed hunk and keeps the others", () => {
    assert.equal(applyEditText("a\n", "@@ garbage\n+x\n@@ -1,0 +2 @@\n+b"), "a\nb\n");
  });
});

describe("parseCandidates", () => {
  const start = "import math\n";

  it("reads steps given as placements and computes each step's program from the previous one", () => {
    const [candidate] = parseCandidates(
      [
        {
          index: 0,
          valid: true,
          program: "import math\nx = 1\ny = x\n",
          steps: [
            { placements: [{ line: 1, lines: ["x = 1"] }] },
            { placements: [{ line: 2, lines: ["y = x"] }], program: "import math\nx = 1\ny = x\n" },
          ],
        },
      ],
      start,
    );
    assert.deepEqual(
      candidate.steps.map((step) => step.program),
      ["import math\nx = 1\n", "import math\nx = 1\ny = x\n"],
    );
    assert.equal(candidate.steps[0].title, "Insert 1 line at 2: x = 1");
  });

  it("reads steps given as LintSeq edit strings", () => {
    const [candidate] = parseCandidates([{ index: 2, steps: ["@@ -1,0 +2 @@\n+x = 1"], valid: false }], start);
    assert.equal(candidate.index, 2);
    assert.equal(candidate.valid, false);
    assert.equal(candidate.program, "import math\nx = 1\n");
  });

  it("drops entries it cannot read instead of throwing", () => {
    assert.deepEqual(parseCandidates([null, 3, "x"], start), []);
    assert.deepEqual(parseCandidates({ not: "a list" }, start), []);
  });
});

describe("quick pick and preview text", () => {
  it("describes a candidate by steps, added lines and validity, with its new lines as detail", () => {
    const item = candidateItem(
      { index: 0, program: "a\nb\nc\n", valid: true, moved: 0, steps: [{ title: "t", program: "a\nb\n" }, { title: "u", program: "a\nb\nc\n" }] },
      "a\n",
    );
    assert.deepEqual(item, { label: "Candidate 1", description: "2 steps · +2 lines · lint-clean", detail: "b ⏎ c" });
  });

  it("says how many steps the server moved to a line where the file parses", () => {
    const [candidate] = parseCandidates([{ program: "a\nb\n", valid: true, moved: 1, steps: [] }], "a\n");
    assert.equal(candidate.moved, 1);
    assert.match(candidateItem(candidate, "a\n").description, / · 1 moved to parse$/);
    assert.equal(parseCandidates([{ program: "a", moved: "x" }], "")[0].moved, 0);
  });

  it("elides preview lines past the maximum", () => {
    assert.equal(previewLines("1\n2\n3\n4\n", "", 2), "1 ⏎ 2 ⏎ …");
  });

  it("titles an insertion with its count, 1-based line and first code line", () => {
    assert.equal(placementTitle([{ line: 13, lines: ["", "for item in items:", "    pass"] }]), "Insert 3 lines at 14: for item in items:");
  });

  it("labels progress through a sequence", () => {
    assert.equal(progressLabel(1, 5), "step 2 of 5");
  });
});

describe("acceptOutcome", () => {
  it("reads a refusal with its reason", () => {
    assert.deepEqual(acceptOutcome({ applied: false, reason: "no pending sequence" }), {
      applied: false,
      reason: "no pending sequence",
    });
  });

  it("reads how far an applied sequence is", () => {
    assert.deepEqual(acceptOutcome({ applied: true, step: 2, steps: 3, done: false }), {
      applied: true,
      step: 2,
      done: false,
    });
  });
});

describe("parsePending (the server's editseq/pending notice)", () => {
  const text = "def mean(xs):\n    total = 0\n    return total\n";
  const textOf = (uri: string) => (uri === "file:///m.py" ? text : "");

  it("computes each step's program from the document's text and the steps before it", () => {
    const pending = parsePending(
      {
        uri: "file:///m.py",
        next: 1,
        total: 3,
        steps: [
          { title: "Insert 1 line at 2: if not xs:", placements: [{ line: 1, lines: ["    if not xs: return 0"] }] },
          { title: "Insert 1 line at 4: total = 1", placements: [{ line: 3, lines: ["    total = 1"] }] },
        ],
      },
      textOf,
    );
    assert.deepEqual(
      pending?.steps.map((step) => step.program),
      [
        "def mean(xs):\n    if not xs: return 0\n    total = 0\n    return total\n",
        "def mean(xs):\n    if not xs: return 0\n    total = 0\n    total = 1\n    return total\n",
      ],
    );
    assert.equal(pending?.steps[0].title, "Insert 1 line at 2: if not xs:");
    assert.equal(progressLabel(pending!.next, pending!.total), "step 2 of 3");
  });

  it("reads a notice without steps as nothing pending", () => {
    assert.deepEqual(parsePending({ uri: "file:///m.py", next: 0, total: 0, steps: [] }, textOf), {
      uri: "file:///m.py",
      next: 0,
      total: 0,
      steps: [],
    });
  });

  it("drops what it cannot read instead of throwing", () => {
    assert.equal(parsePending(null, textOf), undefined);
    assert.equal(parsePending({ next: 1 }, textOf), undefined);
    assert.deepEqual(parsePending({ uri: "file:///m.py", next: -2, total: "x", steps: "y" }, textOf)?.steps, []);
  });
});
