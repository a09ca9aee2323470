// Activation: wires the server, the status bar, the previews and the commands together.
import * as vscode from "vscode";

import { PREVIEW_SCHEME, Previews } from "./preview";
import { Retrainer } from "./retrain";
import { SequenceUi } from "./sequenceUi";
import { EditSeqServer } from "./server";
import { RESTART_KEYS, SECTION } from "./settings";
import { parseStatus, statusBarView, statusReport } from "./status";
import type { ServerStatus } from "./status";

let server: EditSeqServer | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("EditSeq", { log: true });
  server = new EditSeqServer(output);
  const previews = new Previews();
  const ui = new SequenceUi(server, previews);
  const statusItem = vscode.window.createStatusBarItem("editseq.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "EditSeq";
  statusItem.command = "editseq.showStatus";
  const showStatus = (status: ServerStatus) => {
    const view = statusBarView(status);
    statusItem.text = view.text;
    statusItem.tooltip = view.tooltip;
    statusItem.backgroundColor = view.isError ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    statusItem.show();
  };
  showStatus(server.status);
  const running = server;
  const retrainer = new Retrainer(output, () => running.interpreter?.command);

  context.subscriptions.push(
    output,
    statusItem,
    previews,
    ui,
    running,
    retrainer,
    running.onStatus(showStatus),
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, previews),
    vscode.commands.registerCommand("editseq.suggestNextEdit", () =>
      vscode.commands.executeCommand("editor.action.codeAction", { kind: "refactor.editseq", apply: "never" }),
    ),
    vscode.commands.registerCommand("editseq.acceptStep", () => ui.acceptStep()),
    vscode.commands.registerCommand("editseq.acceptAllSteps", () => ui.acceptAll()),
    vscode.commands.registerCommand("editseq.generateFromInstruction", () => ui.generate()),
    vscode.commands.registerCommand("editseq.rejectSuggestion", () => ui.reject()),
    vscode.commands.registerCommand("editseq.cancelWork", () => ui.cancel()),
    vscode.commands.registerCommand("editseq.restartServer", () => running.restart()),
    vscode.commands.registerCommand("editseq.showLog", () => output.show(true)),
    vscode.commands.registerCommand("editseq.retrainOnWorkspace", () => retrainer.run()),
    vscode.commands.registerCommand("editseq.showStatus", async () => {
      const reply = running.running ? await running.execute("editseq.status", {}) : undefined;
      const status = reply === undefined ? running.status : parseStatus(reply);
      const interpreter = running.interpreter
        ? `\nPython: ${running.interpreter.command} (from ${running.interpreter.source})`
        : "";
      const choice = await vscode.window.showInformationMessage(
        "EditSeq status",
        { modal: true, detail: statusReport(status) + interpreter },
        "Show Log",
        "Restart Server",
        "Reload Model",
      );
      if (choice === "Show Log") {
        output.show(true);
      } else if (choice === "Restart Server") {
        await running.restart();
      } else if (choice === "Reload Model") {
        await running.execute("editseq.reloadModel", {});
      }
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (RESTART_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
        void running.restart();
      }
    }),
  );
  // Not awaited: the import check and the server start take seconds, and activation should not wait on them.
  void running.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
