// The language server's process and client: choose the interpreter, check it, start, restart, relay status.
import * as os from "node:os";

import * as vscode from "vscode";
import { ExecuteCommandRequest, LanguageClient, State, TransportKind } from "vscode-languageclient/node";
import type { LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";

import { checkServerImport, chooseInterpreter, importFailureMessage, installCommand, serverArgs } from "./interpreter";
import type { Interpreter } from "./interpreter";
import { activeInterpreter } from "./pythonExtension";
import { SECTION, serverSettings } from "./settings";
import { mergeStatus, parseStatus } from "./status";
import type { ServerStatus } from "./status";

export const STATUS_NOTIFICATION = "editseq/status";
/** A document's pending steps changed (set, advanced or dropped); read by `parsePending`. */
export const PENDING_NOTIFICATION = "editseq/pending";

export class EditSeqServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly statusEmitter = new vscode.EventEmitter<ServerStatus>();
  readonly onStatus = this.statusEmitter.event;
  private readonly pendingEmitter = new vscode.EventEmitter<unknown>();
  readonly onPending = this.pendingEmitter.event;
  private current: ServerStatus = { state: "stopped" };
  interpreter: Interpreter | undefined;

  constructor(private readonly output: vscode.LogOutputChannel) {}

  get status(): ServerStatus {
    return this.current;
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** Starts the server; on a missing interpreter or package, reports it and leaves the server stopped. */
  async start(): Promise<void> {
    this.setStatus({ state: "starting" });
    const folder = vscode.workspace.workspaceFolders?.[0];
    const config = vscode.workspace.getConfiguration(SECTION);
    const fromPython = config.get<string>("pythonPath")?.trim()
      ? undefined
      : await activeInterpreter(folder?.uri, (line) => this.output.appendLine(line));
    const interpreter = chooseInterpreter(config.get<string>("pythonPath"), fromPython, {
      workspaceFolder: folder?.uri.fsPath,
    });
    this.interpreter = interpreter;
    this.output.appendLine(`Using ${interpreter.command} (from ${interpreter.source}).`);
    const cwd = folder?.uri.fsPath ?? os.homedir();
    const check = await checkServerImport(interpreter.command, cwd);
    if (!check.ok) {
      const message = importFailureMessage(interpreter, check.detail);
      this.output.appendLine(message);
      this.setStatus({ state: "error", error: message });
      void this.offerInstallHelp(message, interpreter);
      return;
    }
    const serverOptions: ServerOptions = {
      command: interpreter.command,
      args: serverArgs(),
      transport: TransportKind.stdio,
      options: { cwd, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: "file", language: "python" },
        { scheme: "untitled", language: "python" },
      ],
      synchronize: { configurationSection: SECTION },
      initializationOptions: { [SECTION]: serverSettings((key) => config.get(key)) },
      outputChannel: this.output,
      // The status bar's "last latency" is what the user waits for: the round trip of the last suggestion request.
      middleware: {
        provideCodeActions: (document, range, context, token, next) =>
          this.timed(next(document, range, context, token)),
        provideInlineCompletionItems: (document, position, context, token, next) =>
          this.timed(next(document, position, context, token)),
      },
    };
    const client = new LanguageClient("editseq", "EditSeq", serverOptions, clientOptions);
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client) {
        this.setStatus({ state: "stopped", error: "the language server stopped; see the EditSeq output" });
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.setStatus({ state: "error", error: `the language server failed to start: ${String(error)}` });
      return;
    }
    client.onNotification(STATUS_NOTIFICATION, (raw: unknown) =>
      this.setStatus(mergeStatus(this.current, parseStatus(raw))),
    );
    client.onNotification(PENDING_NOTIFICATION, (raw: unknown) => this.pendingEmitter.fire(raw));
    // The server may have sent its first status before the handler existed; ask once.
    const status = await this.execute("editseq.status", {});
    if (status !== undefined) {
      this.setStatus(mergeStatus(this.current, parseStatus(status)));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.appendLine(`Stopping the server: ${String(error)}`);
      }
    }
    this.setStatus({ state: "stopped" });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Runs a server command with one object argument; failures are shown and return undefined. */
  async execute(command: string, args: object, token?: vscode.CancellationToken): Promise<unknown> {
    if (!this.client || !this.running) {
      void vscode.window.showWarningMessage(`EditSeq: the language server is not running (${this.current.state}).`);
      return undefined;
    }
    try {
      return await this.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] }, token);
    } catch (error) {
      if (token?.isCancellationRequested) {
        return undefined;
      }
      const message = error instanceof Error ? error.message : String(error);
      this.output.appendLine(`${command} failed: ${message}`);
      void vscode.window.showErrorMessage(`EditSeq: ${command} failed: ${message}`);
      return undefined;
    }
  }

  private async timed<T>(request: vscode.ProviderResult<T>): Promise<T | null | undefined> {
    const started = performance.now();
    const result = await request;
    this.setStatus({ ...this.current, latency_ms: performance.now() - started });
    return result;
  }

  private setStatus(status: ServerStatus): void {
    this.current = status;
    this.statusEmitter.fire(status);
  }

  private async offerInstallHelp(message: string, interpreter: Interpreter): Promise<void> {
    const copy = "Copy install command";
    const settings = "Set editseq.pythonPath";
    const choice = await vscode.window.showErrorMessage(message, copy, settings);
    if (choice === copy) {
      await vscode.env.clipboard.writeText(installCommand(interpreter.command));
    } else if (choice === settings) {
      await vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.pythonPath`);
    }
  }

  dispose(): void {
    void this.stop();
    this.statusEmitter.dispose();
    this.pendingEmitter.dispose();
  }
}
