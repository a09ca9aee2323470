import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatLatency, mergeStatus, parseStatus, statusBarView, statusReport } from "../status";

describe("parseStatus", () => {
  it("keeps the known fields of a server status", () => {
    assert.deepEqual(parseStatus({ state: "ready", model: "tiny", device: "cpu", latency_ms: 231.5, extra: 1 }), {
      state: "ready",
      model: "tiny",
      device: "cpu",
      latency_ms: 231.5,
    });
  });

  it("turns an unknown state into an error that says what arrived", () => {
    assert.deepEqual(parseStatus({ state: "dreaming" }), { state: "error", error: 'unknown state "dreaming"' });
  });

  it("keeps the server's latencies per kind of work", () => {
    const status = parseStatus({ state: "ready", device: null, latency_ms: { load: 900, code_action: 41.2, bad: "x" } });
    assert.deepEqual(status, { state: "ready", latencies: { load: 900, code_action: 41.2 } });
    assert.match(statusReport(status), /Latest code action: 41 ms/);
  });

  it("turns a non-object into an error instead of throwing", () => {
    assert.equal(parseStatus(null).state, "error");
    assert.equal(parseStatus("ready").state, "error");
  });
});

describe("statusBarView", () => {
  it("shows state, device and last latency when ready", () => {
    const view = statusBarView({ state: "ready", device: "cuda:0", latency_ms: 1250 });
    assert.equal(view.text, "$(check) EditSeq: ready · cuda:0 · 1.3 s");
    assert.equal(view.isError, false);
  });

  it("names int8 weights after the device, and full precision nowhere", () => {
    const status = parseStatus({ state: "ready", device: "cpu", quantize: "int8", latency_ms: 80 });
    assert.equal(statusBarView(status).text, "$(check) EditSeq: ready · cpu · int8 · 80 ms");
    assert.match(statusBarView(status).tooltip, /Quantization: int8/);
    assert.equal(statusBarView({ state: "ready", device: "cpu", quantize: "none" }).text, "$(check) EditSeq: ready · cpu");
  });

  it("spins while loading", () => {
    assert.equal(statusBarView({ state: "loading" }).text, "$(loading~spin) EditSeq: loading");
  });

  it("marks errors and puts the message in the tooltip", () => {
    const view = statusBarView({ state: "error", error: "no such model: /m" });
    assert.equal(view.isError, true);
    assert.match(view.tooltip, /Error: no such model: \/m/);
  });
});

describe("statusReport", () => {
  it("lists every known field on its own line", () => {
    assert.equal(
      statusReport({ state: "ready", model: "m", device: "cpu", latency_ms: 80 }),
      "State: ready\nModel: m\nDevice: cpu\nLast latency: 80 ms",
    );
  });

  it("formats sub-second latencies in milliseconds", () => {
    assert.equal(formatLatency(12.4), "12 ms");
  });
});

describe("mergeStatus", () => {
  it("keeps the client's measured latency when a new server status has none", () => {
    assert.deepEqual(mergeStatus({ state: "ready", latency_ms: 55 }, { state: "loading" }), {
      state: "loading",
      latency_ms: 55,
    });
  });
});
