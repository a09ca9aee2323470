// "Retrain on this workspace": `editseq retrain` as a background process with progress and cancel, while the
// language server keeps serving; afterwards an offer to switch `editseq.modelPath` to the new model. Training
// continues from the model in use: `editseq.modelPath` when set (a retrained model, your own), else the default.
import { spawn } from "node:child_process";

import * as vscode from "vscode";

import {
  LineSplitter,
  parseCandidate,
  parseError,
  parseKept,
  parseModelDir,
  parseStage,
  retrainArgs,
  stageIncrement,
} from "./retrainProgress";
import { SECTION } from "./settings";

// The buttons of the notification that ends a run: switch to the new model (advised, or against the advice) or
// read its report.
const USE_NEW = "Use New Model";
const USE_ANYWAY = "Use It Anyway";
const OPEN_REPORT = "Open Report";

/** The configured model (what the server loads); VS Code leaves out a workspace's value when it is untrusted. */
function modelPath(): string | undefined {
  return vscode.workspace.getConfiguration(SECTION).get<string>("modelPath");
}

export class Retrainer implements vscode.Disposable {
  private running: { kill: () => void } | undefined;

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly interpreter: () => string | undefined,
  ) {}

  async run(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      void vscode.window.showWarningMessage("EditSeq: open a folder to retrain on its code.");
      return;
    }
    if (this.running) {
      void vscode.window.showInformationMessage("EditSeq: retraining is already running (see its progress).");
      return;
    }
    const python = this.interpreter();
    if (!python) {
      void vscode.window.showErrorMessage("EditSeq: the language server has not found its Python yet.");
      return;
    }
    const finished = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "EditSeq: retraining", cancellable: true },
      (progress, token) => {
        const args = retrainArgs(folder.uri.fsPath, { base: modelPath() });
        return this.spawnRun(python, folder.uri.fsPath, args, progress, token);
      },
    );
    if (finished?.kept) {
      // The new model did not predict this repository's held-out next edits better: the server keeps its model,
      // and the user may still switch to it against the advice.
      const candidate = finished.candidate;
      const choices = candidate ? [USE_ANYWAY, OPEN_REPORT] : [];
      const choice = await vscode.window.showInformationMessage(
        `EditSeq: retrained on ${folder.name}; ${finished.kept}`,
        ...choices,
      );
      if (candidate && choice) {
        await this.follow(choice, candidate);
      }
      return;
    }
    const modelDir = finished?.modelDir;
    if (!modelDir) {
      return;
    }
    const choice = await vscode.window.showInformationMessage(
      `EditSeq: retrained on ${folder.name}. Use the new model? (report: ${modelDir}/report.md)`,
      USE_NEW,
      OPEN_REPORT,
    );
    if (choice) {
      await this.follow(choice, modelDir);
    }
  }

  /** Acts on the user's answer to a finished run: switch the workspace to `modelDir`, or open its report. */
  private async follow(choice: string, modelDir: string): Promise<void> {
    if (choice === USE_NEW || choice === USE_ANYWAY) {
      // The server reloads on the configuration change; it keeps serving the old model until the new one loads.
      await vscode.workspace
        .getConfiguration(SECTION)
        .update("modelPath", modelDir, vscode.ConfigurationTarget.Workspace);
    } else if (choice === OPEN_REPORT) {
      await vscode.window.showTextDocument(vscode.Uri.file(`${modelDir}/report.md`));
    }
  }

  private spawnRun(
    python: string,
    folder: string,
    args: string[],
    progress: vscode.Progress<{ message?: string; increment?: number }>,
    token: vscode.CancellationToken,
  ): Promise<{ modelDir?: string; kept?: string; candidate?: string } | undefined> {
    return new Promise((resolve) => {
      this.output.appendLine(`Retraining: ${python} ${args.join(" ")}`);
      const child = spawn(python, args, {
        cwd: folder,
        env: { ...process.env, PYTHONUNBUFFERED: "1" },
      });
      this.running = { kill: () => child.kill("SIGTERM") };
      const cancelled = token.onCancellationRequested(() => {
        // Killing loses at most the work since the last checkpoint: running the command again resumes.
        this.output.appendLine("Retraining cancelled; run the command again to resume.");
        child.kill("SIGTERM");
      });
      let modelDir: string | undefined;
      let kept: string | undefined;
      let candidate: string | undefined;
      let error: string | undefined;
      const onLine = (line: string) => {
        this.output.appendLine(`retrain: ${line}`);
        const stage = parseStage(line);
        if (stage) {
          progress.report({ message: `${stage.index}/${stage.total} ${stage.name}`, increment: stageIncrement(stage) });
        }
        modelDir = parseModelDir(line) ?? modelDir;
        kept = parseKept(line) ?? kept;
        candidate = parseCandidate(line) ?? candidate;
        error = parseError(line) ?? error;
      };
      const stdout = new LineSplitter();
      const stderr = new LineSplitter();
      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk.toString()).forEach(onLine));
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()).forEach(onLine));
      const finish = (code: number | null, spawnError?: Error) => {
        [...stdout.flush(), ...stderr.flush()].forEach(onLine);
        cancelled.dispose();
        this.running = undefined;
        if (token.isCancellationRequested) {
          resolve(undefined);
        } else if (code === 0 && (modelDir || kept)) {
          resolve({ modelDir, kept, candidate });
        } else {
          const reason = spawnError?.message ?? error ?? `exit code ${code}; see the EditSeq log`;
          void vscode.window.showErrorMessage(`EditSeq: retraining failed: ${reason}`);
          resolve(undefined);
        }
      };
      child.on("error", (spawnError) => finish(null, spawnError));
      child.on("close", (code) => finish(code));
    });
  }

  dispose(): void {
    this.running?.kill();
  }
}
