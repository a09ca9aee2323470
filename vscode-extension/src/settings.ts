// The `editseq` settings section as the server reads it.

export const SECTION = "editseq";

/** Keys the server understands (lsp_server/settings.py); `pythonPath` is the client's alone. */
export const SERVER_KEYS = [
  "modelPath",
  "device",
  "quantize",
  "strategy",
  "k",
  "temperature",
  "greedyFirst",
  "topP",
  "maxNewTokens",
  "prefetch",
  "idleMs",
  "historyLength",
  "promptWindow",
  "logging",
] as const;

export const CLIENT_KEYS = ["pythonPath"] as const;

/** Settings that change which process runs, so changing them restarts the server. */
export const RESTART_KEYS = ["pythonPath"] as const;

/** The server's part of the section, read through `get` (a WorkspaceConfiguration's `get`); unset keys omitted. */
export function serverSettings(get: (key: string) => unknown): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const value = get(key);
    if (value !== undefined && value !== null) {
      settings[key] = value;
    }
  }
  return settings;
}
