// A document's pending steps, previewed one at a time and accepted one by one or all at once: the steps of a sequence
// generated from an instruction, or the later steps of a suggestion planned as several (after its first is taken).
import * as vscode from "vscode";

import { PREVIEW_SCHEME, Previews } from "./preview";
import { acceptOutcome, candidateItem, parseCandidates, parsePending, progressLabel } from "./sequence";
import type { Candidate, PendingSteps } from "./sequence";
import { EditSeqServer } from "./server";
import { SECTION } from "./settings";

type CandidateItem = vscode.QuickPickItem & { candidate: Candidate };

export class SequenceUi implements vscode.Disposable {
  /** The server's pending steps per document (its `editseq/pending` notices are the source of truth). */
  private readonly pending = new Map<string, PendingSteps>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly stepItem = vscode.window.createStatusBarItem("editseq.step", vscode.StatusBarAlignment.Left, 100);
  /** While candidates are generated and picked, their previews own the diff editor. */
  private choosing = false;

  constructor(
    private readonly server: EditSeqServer,
    private readonly previews: Previews,
  ) {
    this.stepItem.name = "EditSeq pending step";
    this.stepItem.command = "editseq.acceptStep";
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor?.document.uri.scheme !== PREVIEW_SCHEME) {
          this.updateStepItem(editor?.document.uri);
        }
      }),
      server.onPending((raw) => void this.onPending(raw)),
    );
  }

  /** Input box -> k candidates in a quick pick (each previewed) -> the chosen one becomes pending. */
  async generate(): Promise<void> {
    const editor = pythonEditor();
    if (!editor) {
      return;
    }
    const instruction = await vscode.window.showInputBox({
      title: "EditSeq: generate from instruction",
      prompt: "Describe the code to write; EditSeq proposes it as a sequence of insertions.",
      placeHolder: "e.g. Write a function that returns the n-th Fibonacci number",
      ignoreFocusOut: true,
    });
    if (!instruction?.trim()) {
      return;
    }
    const document = editor.document;
    const uri = document.uri.toString();
    const start = document.getText();
    const k = vscode.workspace.getConfiguration(SECTION).get<number>("k");
    this.choosing = true;
    try {
      const raw = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: "EditSeq: generating candidates…", cancellable: true },
        (_progress, token) => {
          token.onCancellationRequested(() => void this.server.execute("editseq.cancel", { uri }));
          return this.server.execute("editseq.generate", { uri, instruction, k }, token);
        },
      );
      const candidates = parseCandidates(raw, start);
      if (candidates.length === 0) {
        if (raw !== undefined) {
          void vscode.window.showInformationMessage("EditSeq: the model proposed no usable sequence; try rewording.");
        }
        return;
      }
      const chosen = await this.pick(document, candidates, start);
      await this.previews.close();
      if (!chosen) {
        return;
      }
      // The server's notice makes the chosen candidate's steps pending here.
      await this.server.execute("editseq.choose", { uri, index: chosen.index });
    } finally {
      this.choosing = false;
    }
    await this.previewNext(document);
  }

  /** Applies the next pending step (the server's `editseq.acceptNextStep`). */
  acceptStep(): Promise<void> {
    return this.accept("editseq.acceptNextStep");
  }

  /** Applies every pending step left, as one edit (the server's `editseq.acceptAll`). */
  acceptAll(): Promise<void> {
    return this.accept("editseq.acceptAll");
  }

  private async accept(command: string): Promise<void> {
    const editor = pythonEditor();
    if (!editor) {
      return;
    }
    const reply = await this.server.execute(command, { uri: editor.document.uri.toString() });
    if (reply === undefined) {
      return; // the failure was already shown
    }
    const outcome = acceptOutcome(reply);
    if (!outcome.applied) {
      void vscode.window.showInformationMessage(`EditSeq: ${outcome.reason ?? "nothing to accept"}`);
    } else if (outcome.done) {
      vscode.window.setStatusBarMessage("EditSeq: all steps accepted", 4000);
    }
  }

  async reject(): Promise<void> {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    await this.server.execute("editseq.reject", uri ? { uri } : {});
    await this.forget(uri);
    await vscode.commands.executeCommand("editor.action.inlineSuggest.hide");
  }

  async cancel(): Promise<void> {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    await this.server.execute("editseq.cancel", uri ? { uri } : {});
    await this.forget(uri);
  }

  /** The server's `editseq/pending` notice: keep the document's steps, and preview the next if it is in front. */
  private async onPending(raw: unknown): Promise<void> {
    const notice = parsePending(raw, (uri) => documentFor(uri)?.getText() ?? "");
    if (!notice) {
      return;
    }
    if (notice.steps.length === 0) {
      this.pending.delete(notice.uri);
    } else {
      this.pending.set(notice.uri, notice);
    }
    const document = documentFor(notice.uri);
    if (this.choosing || !document || activeDocument()?.uri.toString() !== notice.uri) {
      return;
    }
    await this.previewNext(document);
  }

  private async forget(uri: string | undefined): Promise<void> {
    if (uri) {
      this.pending.delete(uri);
    }
    this.updateStepItem(undefined);
    await this.previews.close();
  }

  private pick(document: vscode.TextDocument, candidates: Candidate[], start: string): Promise<Candidate | undefined> {
    return new Promise((resolve) => {
      const quickPick = vscode.window.createQuickPick<CandidateItem>();
      quickPick.title = "EditSeq: choose a candidate (the final program is previewed beside)";
      quickPick.ignoreFocusOut = true;
      quickPick.matchOnDetail = true;
      quickPick.items = candidates.map((candidate) => ({ ...candidateItem(candidate, start), candidate }));
      let chosen: Candidate | undefined;
      quickPick.onDidChangeActive(([item]) => {
        if (item) {
          void this.previews.show(document, item.candidate.program, `EditSeq: ${item.label} (final program)`);
        }
      });
      quickPick.onDidAccept(() => {
        chosen = quickPick.selectedItems[0]?.candidate ?? quickPick.activeItems[0]?.candidate;
        quickPick.hide();
      });
      quickPick.onDidHide(() => {
        quickPick.dispose();
        resolve(chosen);
      });
      quickPick.show();
    });
  }

  /** The next pending step of `document` as a diff beside it; with none pending, the previews close. */
  private async previewNext(document: vscode.TextDocument): Promise<void> {
    const pending = this.pending.get(document.uri.toString());
    this.updateStepItem(document.uri);
    if (!pending) {
      await this.previews.close();
      return;
    }
    const step = pending.steps[0];
    await this.previews.show(document, step.program, `EditSeq ${progressLabel(pending.next, pending.total)}: ${step.title}`);
  }

  /** The pending step of `uri` in the status bar (a notification per step would outlive its step), and the context
   * keys that show Accept Next Step / Accept All Steps in the editor's title bar. */
  private updateStepItem(uri: vscode.Uri | undefined): void {
    const pending = uri && this.pending.get(uri.toString());
    void vscode.commands.executeCommand("setContext", "editseq.stepPending", Boolean(pending));
    void vscode.commands.executeCommand("setContext", "editseq.stepsPending", Boolean(pending && pending.steps.length > 1));
    if (!pending) {
      this.stepItem.hide();
      return;
    }
    const steps = pending.steps.map((step, i) => `${pending.next + i + 1}. ${step.title}`).join("\n");
    this.stepItem.text = `$(debug-step-over) EditSeq ${progressLabel(pending.next, pending.total)}`;
    this.stepItem.tooltip =
      `${steps}\nClick or press Ctrl+Alt+Enter to accept the next step; ` +
      `"EditSeq: Accept All Steps" takes them all; Ctrl+Alt+Backspace rejects.`;
    this.stepItem.show();
  }

  dispose(): void {
    this.pending.clear();
    this.stepItem.dispose();
    this.subscriptions.forEach((subscription) => subscription.dispose());
  }
}

function documentFor(uri: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri);
}

/** The document being edited: the active editor's, or the file a focused preview shows. */
function activeDocument(): vscode.TextDocument | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor?.document.uri.scheme !== PREVIEW_SCHEME) {
    return editor?.document;
  }
  return vscode.window.visibleTextEditors.find(
    (visible) => visible.document.languageId === "python" && visible.document.uri.scheme !== PREVIEW_SCHEME,
  )?.document;
}

function pythonEditor(): vscode.TextEditor | undefined {
  let editor = vscode.window.activeTextEditor;
  if (editor?.document.uri.scheme === PREVIEW_SCHEME) {
    // Focus is in a preview: act on the real file it previews.
    editor = vscode.window.visibleTextEditors.find(
      (visible) => visible.document.languageId === "python" && visible.document.uri.scheme !== PREVIEW_SCHEME,
    );
  }
  if (!editor || editor.document.languageId !== "python") {
    void vscode.window.showWarningMessage("EditSeq: open a Python file first.");
    return undefined;
  }
  return editor;
}
