// What the "Retrain on this workspace" command runs and how it reads the run's output.
// Pure functions: the command line of `editseq retrain`, and its stage, model and error lines.

export interface RetrainStage {
  index: number;
  total: number;
  name: string;
}

/**
 * Interpreter arguments for `editseq retrain` on `folder` (the same Python as the server, so no PATH lookup).
 * `base`: the model to continue from (the `editseq.modelPath` in use); blank means the default model.
 */
export function retrainArgs(
  folder: string,
  options: { base?: string; out?: string; suggestionsLog?: string } = {},
): string[] {
  const args = ["-m", "training.cli", "retrain", folder];
  if (options.base?.trim()) {
    args.push("--base", options.base.trim());
  }
  if (options.out) {
    args.push("--out", options.out);
  }
  if (options.suggestionsLog) {
    args.push("--suggestions-log", options.suggestionsLog);
  }
  return args;
}

/** The stage a progress line announces (`[3/6] evaluate before`), or undefined for any other line. */
export function parseStage(line: string): RetrainStage | undefined {
  const match = /^\[(\d+)\/(\d+)\] (\S.*)$/.exec(line.trimEnd());
  if (!match) {
    return undefined;
  }
  return { index: Number(match[1]), total: Number(match[2]), name: match[3] };
}

/** The model directory of the finished run's last line (`model: DIR`), or undefined. */
export function parseModelDir(line: string): string | undefined {
  const match = /^model: (.+)$/.exec(line.trimEnd());
  return match ? match[1] : undefined;
}

/**
 * The retrained model's directory when the run advises against it (`candidate: DIR`, printed just before `kept:`),
 * or undefined: the editor offers it only as a choice against that advice.
 */
export function parseCandidate(line: string): string | undefined {
  const match = /^candidate: (.+)$/.exec(line.trimEnd());
  return match ? match[1] : undefined;
}

/**
 * The finished run's last line when the new model did not beat the one in use on the repository's held-out next
 * edits (`kept: ...`, the figures said), or undefined: the editor then keeps its model unless the user insists.
 */
export function parseKept(line: string): string | undefined {
  const match = /^kept: (.+)$/.exec(line.trimEnd());
  return match ? match[1] : undefined;
}

/** The run's error (`error: ...` on stderr), or undefined. */
export function parseError(line: string): string | undefined {
  const match = /^error: (.+)$/.exec(line.trimEnd());
  return match ? match[1] : undefined;
}

/** Percent of the progress bar a stage moves: every stage is an equal share (the server-side timings vary). */
export function stageIncrement(stage: RetrainStage): number {
  return stage.total > 0 ? 100 / stage.total : 0;
}

/** Splits streamed text into complete lines, keeping a partial last line for the next chunk. */
export class LineSplitter {
  private rest = "";

  push(chunk: string): string[] {
    const lines = (this.rest + chunk).split(/\r?\n/);
    this.rest = lines.pop() ?? "";
    return lines;
  }

  flush(): string[] {
    const last = this.rest;
    this.rest = "";
    return last ? [last] : [];
  }
}
