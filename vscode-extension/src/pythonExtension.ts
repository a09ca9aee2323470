// The active interpreter of the Python extension (ms-python.python), through its public API, when installed.
import * as vscode from "vscode";

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath?(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment?(env: { path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } | undefined;
  };
}

/** The Python extension's active interpreter for `resource`, or undefined when it is absent or has none. */
export async function activeInterpreter(resource: vscode.Uri | undefined, log: (line: string) => void): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const active = api.environments?.getActiveEnvironmentPath?.(resource);
    if (active) {
      const resolved = await api.environments?.resolveEnvironment?.(active);
      return resolved?.executable?.uri?.fsPath ?? active.path;
    }
    // Older releases of the extension expose only the settings API.
    return api.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
  } catch (error) {
    log(`Python extension did not report an interpreter: ${String(error)}`);
    return undefined;
  }
}
