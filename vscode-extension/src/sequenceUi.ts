// Generate from an instruction, then accept the chosen sequence one previewed step at a time.
import * as vscode from "vscode";

import { PREVIEW_SCHEME, Previews } from "./preview";
import { acceptOutcome, candidateItem, parseCandidates, progressLabel } from "./sequence";
import type { Candidate } from "./sequence";
import { EditSeqServer } from "./server";
import { SECTION } from "./settings";

interface Pending {
  candidate: Candidate;
  next: number;
}

type CandidateItem = vscode.QuickPickItem & { candidate: Candidate };

export class SequenceUi implements vscode.Disposable {
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly stepItem = vscode.window.createStatusBarItem("editseq.step", vscode.StatusBarAlignment.Left, 100);

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
    if ((await this.server.execute("editseq.choose", { uri, index: chosen.index })) === undefined) {
      return;
    }
    this.pending.set(uri, { candidate: chosen, next: 0 });
    await this.previewNext(document);
  }

  /** Applies the next step of the pending sequence (the server's, or the one chosen here). */
  async acceptStep(): Promise<void> {
    const editor = pythonEditor();
    if (!editor) {
      return;
    }
    const uri = editor.document.uri.toString();
    const reply = await this.server.execute("editseq.acceptNextStep", { uri });
    if (reply === undefined) {
      return; // the failure was already shown
    }
    const outcome = acceptOutcome(reply);
    if (!outcome.applied) {
      void vscode.window.showInformationMessage(`EditSeq: ${outcome.reason ?? "nothing to accept"}`);
      return;
    }
    const pending = this.pending.get(uri);
    if (!pending) {
      return;
    }
    pending.next = outcome.step ?? pending.next + 1;
    if (outcome.done ?? pending.next >= pending.candidate.steps.length) {
      this.pending.delete(uri);
      this.stepItem.hide();
      await this.previews.close();
      vscode.window.setStatusBarMessage("EditSeq: sequence complete", 4000);
      return;
    }
    await this.previewNext(editor.document);
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

  private async forget(uri: string | undefined): Promise<void> {
    if (uri) {
      this.pending.delete(uri);
    }
    this.stepItem.hide();
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

  private async previewNext(document: vscode.TextDocument): Promise<void> {
    const pending = this.pending.get(document.uri.toString());
    if (!pending) {
      return;
    }
    const step = pending.candidate.steps[pending.next];
    const label = progressLabel(pending.next, pending.candidate.steps.length);
    await this.previews.show(document, step.program, `EditSeq ${label}: ${step.title}`);
    this.updateStepItem(document.uri);
  }

  /** The pending step of `uri`'s sequence in the status bar (a notification per step would outlive its step). */
  private updateStepItem(uri: vscode.Uri | undefined): void {
    const pending = uri && this.pending.get(uri.toString());
    if (!pending) {
      this.stepItem.hide();
      return;
    }
    const step = pending.candidate.steps[pending.next];
    this.stepItem.text = `$(debug-step-over) EditSeq ${progressLabel(pending.next, pending.candidate.steps.length)}`;
    this.stepItem.tooltip = `${step.title}\nClick or press Ctrl+Alt+Enter to accept; Ctrl+Alt+Backspace rejects.`;
    this.stepItem.show();
  }

  dispose(): void {
    this.pending.clear();
    this.stepItem.dispose();
    this.subscriptions.forEach((subscription) => subscription.dispose());
  }
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
