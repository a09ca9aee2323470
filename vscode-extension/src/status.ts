// What the status bar and the status report say about the server, from `editseq/status` objects.

export type ServerState = "starting" | "idle" | "loading" | "ready" | "error" | "stopped";

/** The server's status object (`editseq.status` / `editseq/status`), plus client-side states. */
export interface ServerStatus {
  state: ServerState;
  model?: string;
  device?: string;
  /** The weights' quantization as loaded ("none", "int8"). */
  quantize?: string;
  error?: string;
  /** The last request's latency: measured by the client, or a number the server sent. */
  latency_ms?: number;
  /** The server's latest latency per kind of work ("load", "code_action", "generate", ...). */
  latencies?: Record<string, number>;
}

export interface StatusBarView {
  text: string;
  tooltip: string;
  isError: boolean;
}

const ICONS: Record<ServerState, string> = {
  starting: "$(loading~spin)",
  idle: "$(circle-outline)",
  loading: "$(loading~spin)",
  ready: "$(check)",
  error: "$(error)",
  stopped: "$(debug-stop)",
};

const KNOWN_STATES = new Set<string>(Object.keys(ICONS));

/** `raw` read as a status; unknown shapes become an error status rather than a crash. */
export function parseStatus(raw: unknown): ServerStatus {
  if (typeof raw !== "object" || raw === null) {
    return { state: "error", error: `unreadable status: ${JSON.stringify(raw)}` };
  }
  const value = raw as Record<string, unknown>;
  const state = typeof value.state === "string" && KNOWN_STATES.has(value.state) ? value.state : "error";
  const status: ServerStatus = { state: state as ServerState };
  for (const key of ["model", "device", "quantize", "error"] as const) {
    if (typeof value[key] === "string" && value[key] !== "") {
      status[key] = value[key] as string;
    }
  }
  if (typeof value.latency_ms === "number" && Number.isFinite(value.latency_ms)) {
    status.latency_ms = value.latency_ms;
  } else if (typeof value.latency_ms === "object" && value.latency_ms !== null) {
    const latencies = Object.entries(value.latency_ms).filter(
      (entry): entry is [string, number] => typeof entry[1] === "number" && Number.isFinite(entry[1]),
    );
    if (latencies.length) {
      status.latencies = Object.fromEntries(latencies);
    }
  }
  if (state === "error" && status.error === undefined && value.state !== "error") {
    status.error = `unknown state ${JSON.stringify(value.state)}`;
  }
  return status;
}

/** A latency for people: "850 ms", "1.3 s". */
export function formatLatency(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The status bar item's text and tooltip: state, then device (and int8 weights) and last latency when known. */
export function statusBarView(status: ServerStatus): StatusBarView {
  const parts = [`EditSeq: ${status.state}`];
  if (status.device) {
    parts.push(status.device);
  }
  if (status.quantize && status.quantize !== "none") {
    parts.push(status.quantize);
  }
  if (status.latency_ms !== undefined) {
    parts.push(formatLatency(status.latency_ms));
  }
  return {
    text: `${ICONS[status.state]} ${parts.join(" · ")}`,
    tooltip: statusReport(status) + "\nClick for details.",
    isError: status.state === "error" || status.state === "stopped",
  };
}

/** A multi-line report of every known field, for tooltips and the status command. */
export function statusReport(status: ServerStatus): string {
  const lines = [`State: ${status.state}`];
  lines.push(`Model: ${status.model ?? "(not loaded)"}`);
  if (status.device) {
    lines.push(`Device: ${status.device}`);
  }
  if (status.quantize) {
    lines.push(`Quantization: ${status.quantize}`);
  }
  if (status.latency_ms !== undefined) {
    lines.push(`Last latency: ${formatLatency(status.latency_ms)}`);
  }
  for (const [kind, ms] of Object.entries(status.latencies ?? {})) {
    lines.push(`Latest ${kind.replace(/_/g, " ")}: ${formatLatency(ms)}`);
  }
  if (status.error) {
    lines.push(`Error: ${status.error}`);
  }
  return lines.join("\n");
}

/** `next` from the server, keeping the client's last measured latency when the server sends none. */
export function mergeStatus(previous: ServerStatus, next: ServerStatus): ServerStatus {
  if (next.latency_ms === undefined && previous.latency_ms !== undefined) {
    return { ...next, latency_ms: previous.latency_ms };
  }
  return next;
}
