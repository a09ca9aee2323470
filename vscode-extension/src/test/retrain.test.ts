import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  LineSplitter,
  parseCandidate,
  parseError,
  parseKept,
  parseModelDir,
  parseStage,
  retrainArgs,
  stageIncrement,
} from "../retrainProgress";

describe("retrainArgs", () => {
  it("runs editseq retrain on the folder through the interpreter", () => {
    assert.deepEqual(retrainArgs("/work/repo"), ["-m", "training.cli", "retrain", "/work/repo"]);
  });

  it("continues from the configured model, and from the default one when the setting is blank", () => {
    assert.deepEqual(retrainArgs("/r", { base: " /models/mine " }), ["-m", "training.cli", "retrain", "/r", "--base", "/models/mine"]);
    assert.deepEqual(retrainArgs("/r", { base: "  " }), ["-m", "training.cli", "retrain", "/r"]);
  });

  it("passes an output directory and the suggestions log when given", () => {
    assert.deepEqual(retrainArgs("/r", { out: "/m", suggestionsLog: "/log.jsonl" }), [
      "-m", "training.cli", "retrain", "/r", "--out", "/m", "--suggestions-log", "/log.jsonl",
    ]);
  });
});

describe("retrain output", () => {
  it("reads a stage line as its number, the count and the name", () => {
    assert.deepEqual(parseStage("[3/6] evaluate before"), { index: 3, total: 6, name: "evaluate before" });
  });

  it("ignores the benchmark's indented case lines", () => {
    assert.equal(parseStage("  [1/10] click/formatting.py::wrap_text#1"), undefined);
  });

  it("finds the model directory and the error", () => {
    assert.equal(parseModelDir("model: /home/u/.cache/editseq/retrained/repo-1a2b"), "/home/u/.cache/editseq/retrained/repo-1a2b");
    assert.equal(parseModelDir("  model loaded"), undefined);
    assert.equal(parseError("error: /r has Python code in a single file"), "/r has Python code in a single file");
  });

  it("tells a kept starting model from a new one", () => {
    const kept = "kept: the starting model (default); the new one did not beat it on the history (line F1 0.100 against 0.200, 24 cases). It stays in /m for a look.";
    assert.equal(parseKept(kept), kept.slice("kept: ".length));
    assert.equal(parseModelDir(kept), undefined);
    assert.equal(parseKept("model: /m"), undefined);
  });

  it("finds the advised-against model's directory, printed before the kept line", () => {
    assert.equal(parseCandidate("candidate: /home/u/.cache/editseq/retrained/repo-1a2b"), "/home/u/.cache/editseq/retrained/repo-1a2b");
    assert.equal(parseCandidate("model: /m"), undefined);
    assert.equal(parseModelDir("candidate: /m"), undefined);
  });

  it("moves the bar an equal share per stage", () => {
    assert.equal(stageIncrement({ index: 1, total: 4, name: "collect" }), 25);
  });

  it("splits streamed chunks into whole lines", () => {
    const splitter = new LineSplitter();
    assert.deepEqual(splitter.push("[1/6] coll"), []);
    assert.deepEqual(splitter.push("ect\r\n[2/6] records\nmodel: /m"), ["[1/6] collect", "[2/6] records"]);
    assert.deepEqual(splitter.flush(), ["model: /m"]);
  });
});
