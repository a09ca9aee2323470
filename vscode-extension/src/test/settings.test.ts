import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { serverSettings } from "../settings";

describe("serverSettings", () => {
  it("passes the server's keys and leaves out the client-only pythonPath and unset keys", () => {
    const values: Record<string, unknown> = { pythonPath: "/py", modelPath: "/m", k: 4, temperature: undefined };
    assert.deepEqual(serverSettings((key) => values[key]), { modelPath: "/m", k: 4 });
  });

  it("forwards the strategy setting", () => {
    const values: Record<string, unknown> = { strategy: "rewrite" };
    assert.deepEqual(serverSettings((key) => values[key]), { strategy: "rewrite" });
  });

  it("forwards the quantize setting", () => {
    const values: Record<string, unknown> = { quantize: "int8", device: "cpu" };
    assert.deepEqual(serverSettings((key) => values[key]), { device: "cpu", quantize: "int8" });
  });
});
