// Which Python runs the language server, and how to tell the user when it cannot.
// Pure functions here; the only I/O is `checkServerImport`, which runs the interpreter once.
import { execFile } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

export type InterpreterSource = "editseq.pythonPath" | "Python extension" | "default";

export interface Interpreter {
  command: string;
  source: InterpreterSource;
}

/** The interpreter to use: the setting, else the Python extension's active environment, else python3. */
export function chooseInterpreter(
  setting: string | undefined,
  fromPythonExtension: string | undefined,
  options: { platform?: NodeJS.Platform; workspaceFolder?: string } = {},
): Interpreter {
  const configured = expandPath(setting ?? "", options.workspaceFolder);
  if (configured) {
    return { command: configured, source: "editseq.pythonPath" };
  }
  const active = (fromPythonExtension ?? "").trim();
  if (active) {
    return { command: active, source: "Python extension" };
  }
  // Windows installs `python` (and the `py` launcher); `python3` there is often the Store stub.
  return { command: (options.platform ?? process.platform) === "win32" ? "python" : "python3", source: "default" };
}

/** `value` with a leading `~` and `${workspaceFolder}` expanded; "" when unset. */
export function expandPath(value: string, workspaceFolder?: string): string {
  let result = value.trim();
  if (result === "") {
    return "";
  }
  if (result === "~" || result.startsWith("~/")) {
    result = path.join(os.homedir(), result.slice(1));
  }
  if (result.includes("${workspaceFolder}")) {
    if (!workspaceFolder) {
      return "";
    }
    result = result.split("${workspaceFolder}").join(workspaceFolder);
  }
  return result;
}

/** The arguments that start the language server over stdio. */
export function serverArgs(): string[] {
  return ["-m", "lsp_server"];
}

/** A shell command that installs the server into `python` (quoted when the path has spaces). */
export function installCommand(python: string): string {
  const quoted = /[\s"'$`]/.test(python) ? JSON.stringify(python) : python;
  return `${quoted} -m pip install editseq`;
}

/** The message shown when the chosen interpreter cannot import the server. */
export function importFailureMessage(interpreter: Interpreter, detail: string): string {
  const reason = lastLine(detail) || "import failed";
  return (
    `EditSeq: the Python at "${interpreter.command}" (from ${interpreter.source}) cannot run the language server ` +
    `(${reason}). Install it with: ${installCommand(interpreter.command)} ` +
    `(or \`pip install -e .\` in an EditSeq checkout), or set editseq.pythonPath to an environment that has it.`
  );
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  return lines.length ? lines[lines.length - 1] : "";
}

export type ImportCheck = { ok: true } | { ok: false; detail: string };

/**
 * Whether `python -c "import lsp_server"` succeeds in `cwd`, the directory the server will run in (Python puts it
 * first on sys.path, so a check elsewhere can pass or fail where the server would not). Never throws.
 */
export function checkServerImport(python: string, cwd?: string, timeoutMs = 20_000): Promise<ImportCheck> {
  return new Promise((resolve) => {
    execFile(python, ["-c", "import lsp_server"], { cwd, timeout: timeoutMs }, (error, _stdout, stderr) => {
      if (!error) {
        resolve({ ok: true });
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        resolve({ ok: false, detail: `no such interpreter: ${python}` });
      } else if (error.killed) {
        resolve({ ok: false, detail: `import timed out after ${timeoutMs} ms` });
      } else {
        resolve({ ok: false, detail: String(stderr || error.message) });
      }
    });
  });
}
