import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";

import {
  checkServerImport,
  chooseInterpreter,
  expandPath,
  importFailureMessage,
  installCommand,
  serverArgs,
} from "../interpreter";

const REPO = path.resolve(__dirname, "..", "..", "..");
const VENV_PYTHON = path.join(REPO, ".venv", "bin", "python");

describe("chooseInterpreter", () => {
  it("prefers the editseq.pythonPath setting over the Python extension", () => {
    assert.deepEqual(chooseInterpreter("/opt/py/bin/python", "/env/bin/python"), {
      command: "/opt/py/bin/python",
      source: "editseq.pythonPath",
    });
  });

  it("uses the Python extension's active environment when the setting is empty", () => {
    assert.deepEqual(chooseInterpreter("  ", "/env/bin/python"), {
      command: "/env/bin/python",
      source: "Python extension",
    });
  });

  it("falls back to python3, or python on Windows", () => {
    assert.deepEqual(chooseInterpreter(undefined, undefined, { platform: "linux" }), {
      command: "python3",
      source: "default",
    });
    assert.equal(chooseInterpreter("", "", { platform: "win32" }).command, "python");
  });

  it("expands ${workspaceFolder} in the setting", () => {
    const chosen = chooseInterpreter("${workspaceFolder}/.venv/bin/python", undefined, { workspaceFolder: "/w" });
    assert.equal(chosen.command, "/w/.venv/bin/python");
  });
});

describe("expandPath", () => {
  it("expands a leading ~ to the home directory", () => {
    assert.equal(expandPath("~/venv/bin/python"), path.join(os.homedir(), "venv/bin/python"));
  });

  it("treats ${workspaceFolder} without a folder as unset rather than a relative path", () => {
    assert.equal(expandPath("${workspaceFolder}/python"), "");
  });
});

describe("messages", () => {
  it("starts the server as a module", () => {
    assert.deepEqual(serverArgs(), ["-m", "lsp_server"]);
  });

  it("quotes an interpreter path with spaces in the install command", () => {
    assert.equal(installCommand("/usr/bin/python3"), "/usr/bin/python3 -m pip install editseq");
    assert.equal(installCommand("/My Envs/python"), '"/My Envs/python" -m pip install editseq');
  });

  it("names the interpreter, its source, the reason and the install command", () => {
    const message = importFailureMessage(
      { command: "/x/python", source: "default" },
      "Traceback (most recent call last):\nModuleNotFoundError: No module named 'lsp_server'\n",
    );
    assert.match(message, /"\/x\/python" \(from default\)/);
    assert.match(message, /ModuleNotFoundError: No module named 'lsp_server'/);
    assert.match(message, /\/x\/python -m pip install editseq/);
  });
});

describe("checkServerImport (real interpreters)", () => {
  it("succeeds with the project's virtualenv, which has lsp_server installed", { skip: !existsSync(VENV_PYTHON) }, async () => {
    assert.deepEqual(await checkServerImport(VENV_PYTHON, os.tmpdir(), 60_000), { ok: true });
  });

  it("checks in the server's directory: a source checkout there is importable, elsewhere it is not", async () => {
    // python3 here has no editseq installed; run from the checkout, `import lsp_server` finds the sources.
    assert.deepEqual(await checkServerImport("python3", REPO, 60_000), { ok: true });
    assert.equal((await checkServerImport("python3", os.tmpdir(), 60_000)).ok, false);
  });

  it("reports the ModuleNotFoundError of an interpreter without the package", async () => {
    const result = await checkServerImport("python3", os.tmpdir(), 60_000);
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.detail, /No module named 'lsp_server'/);
  });

  it("reports a missing interpreter instead of throwing", async () => {
    const result = await checkServerImport("/nonexistent/bin/python");
    assert.deepEqual(result, { ok: false, detail: "no such interpreter: /nonexistent/bin/python" });
  });
});
