import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

import { CLIENT_KEYS, SECTION, SERVER_KEYS } from "../settings";

const ROOT = path.resolve(__dirname, "..", "..");
const manifest = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
const properties: Record<string, Record<string, unknown>> = manifest.contributes.configuration.properties;

describe("package.json", () => {
  it("has the same version as the Python package", () => {
    const pyproject = readFileSync(path.join(ROOT, "..", "pyproject.toml"), "utf8");
    const version = /^version\s*=\s*"([^"]+)"/m.exec(pyproject)?.[1];
    assert.equal(manifest.version, version);
  });

  it("contributes every server setting and the client's pythonPath, each with a description and a default", () => {
    const expected = [...SERVER_KEYS, ...CLIENT_KEYS].map((key) => `${SECTION}.${key}`).sort();
    assert.deepEqual(Object.keys(properties).sort(), expected);
    for (const [key, schema] of Object.entries(properties)) {
      assert.ok(schema.markdownDescription || schema.description, `${key} has no description`);
      assert.ok("default" in schema, `${key} has no default`);
    }
  });

  it("supports untrusted workspaces only in part, ignoring their interpreter and model settings", () => {
    const untrusted = manifest.capabilities.untrustedWorkspaces;
    assert.equal(untrusted.supported, "limited");
    assert.deepEqual([...untrusted.restrictedConfigurations].sort(), ["editseq.modelPath", "editseq.pythonPath"]);
  });

  it("binds a key to accepting the next step in Python editors", () => {
    const binding = manifest.contributes.keybindings.find((b: { command: string }) => b.command === "editseq.acceptStep");
    assert.equal(binding.key, "ctrl+alt+enter");
    assert.match(binding.when, /editorLangId == python/);
  });

  it("registers exactly the commands it contributes, none named like a server command", () => {
    const source = readFileSync(path.join(ROOT, "src", "extension.ts"), "utf8");
    const registered = [...source.matchAll(/registerCommand\("([^"]+)"/g)].map((m) => m[1]).sort();
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(registered, contributed);
    // vscode-languageclient registers the server's executeCommand ids itself; a clash would fail activation.
    const serverCommands = ["acceptNextStep", "acceptAll", "generate", "choose", "reject", "cancel", "status", "reloadModel", "accepted"];
    for (const name of serverCommands) {
      assert.ok(!contributed.includes(`editseq.${name}`), `editseq.${name} clashes with the server's command`);
    }
  });

  it("puts Accept Next Step and Accept All Steps in the editor title bar while steps are pending", () => {
    const titleBar = manifest.contributes.menus["editor/title"];
    const when = (command: string) => titleBar.find((m: { command: string }) => m.command === command)?.when;
    assert.match(when("editseq.acceptStep"), /^editseq\.stepPending /);
    assert.match(when("editseq.acceptAllSteps"), /^editseq\.stepsPending /);
    for (const command of ["editseq.acceptStep", "editseq.acceptAllSteps"]) {
      const contributed = manifest.contributes.commands.find((c: { command: string }) => c.command === command);
      assert.match(contributed.icon, /^\$\(check/, `${command} needs an icon in the title bar`);
    }
  });

  it("offers the server's strategies, each described, the model's own by default", () => {
    const strategy = properties["editseq.strategy"];
    assert.deepEqual(strategy.enum, ["default", "lintseq", "fim", "rewrite", "continue"]);
    assert.equal(strategy.default, "default");
    assert.equal((strategy.enumDescriptions as string[]).length, strategy.enum.length);
  });

  it("contributes retraining on the open workspace to the command palette", () => {
    const retrain = manifest.contributes.commands.find(
      (c: { command: string }) => c.command === "editseq.retrainOnWorkspace",
    );
    assert.equal(retrain?.title, "Retrain on This Workspace");
  });

  it("starts on Python files and runs the bundled entry point", () => {
    assert.deepEqual(manifest.activationEvents, ["onLanguage:python"]);
    assert.equal(manifest.main, "./dist/extension.js");
  });
});
