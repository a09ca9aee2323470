// Read-only virtual documents holding proposed programs, shown against the real file in a diff editor.
import * as vscode from "vscode";

export const PREVIEW_SCHEME = "editseq-preview";

export class Previews implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private readonly changes = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changes.event;
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? "";
  }

  /** Opens a diff of `document` against `program` beside it, keeping the focus in the document. */
  async show(document: vscode.TextDocument, program: string, title: string): Promise<void> {
    // A fresh name each time: VS Code caches virtual documents by URI.
    const name = document.uri.path.split("/").pop() || "untitled.py";
    const uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${name}`, query: String(++this.counter) });
    await this.close();
    this.contents.set(uri.toString(), program);
    await vscode.commands.executeCommand("vscode.diff", document.uri, uri, title, {
      preview: true,
      preserveFocus: true,
      viewColumn: vscode.ViewColumn.Beside,
    });
  }

  /** Closes every preview tab and forgets their contents. */
  async close(): Promise<void> {
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === PREVIEW_SCHEME);
    if (tabs.length) {
      await vscode.window.tabGroups.close(tabs, true);
    }
    this.contents.clear();
  }

  dispose(): void {
    this.contents.clear();
    this.changes.dispose();
  }
}
