// The EditSeq extension in real VS Code (code-server), driven through Chromium like a person would.
// Every wait is on a DOM or file condition; run by run.sh, which sets the E2E_* variables.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { after, afterEach, before, test } from "node:test";

import { chromium } from "playwright-core";

const URL = process.env.E2E_URL;
const WORKSPACE = process.env.E2E_WORKSPACE;
const ARTIFACTS = process.env.E2E_ARTIFACTS;
const expected = JSON.parse(readFileSync(process.env.E2E_EXPECTED, "utf8"));
const READY_TIMEOUT = 180_000; // the server imports torch and loads the model on a 2-core machine
const MODEL_TIMEOUT = 90_000;
const RETRAIN_TIMEOUT = 240_000; // `editseq retrain` of the tiny model on the workspace: about 15 s here

let browser;
let page;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(60_000);
  await page.goto(URL);
  await page.locator(".monaco-workbench").waitFor();
});

afterEach(async (t) => {
  // One picture per test, so a failure shows what the editor looked like.
  const name = t.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
  await page?.screenshot({ path: path.join(ARTIFACTS, `test-${name}.png`) }).catch(() => {});
});

after(async () => {
  if (page) {
    await page.screenshot({ path: path.join(ARTIFACTS, "last.png") }).catch(() => {});
  }
  await browser?.close();
});

/** Runs a command from the command palette by its title; `opensInput`: it asks for input in the same widget. */
async function runCommand(title, { opensInput = false } = {}) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
  await page.keyboard.press("Enter");
  if (!opensInput) {
    await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
  }
}

/** Opens a workspace file through Quick Open and waits for its editor to have focus. */
async function openFile(name) {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(name);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(".tab.active", { hasText: name }).waitFor();
  await page.locator(".editor-group-container.active .monaco-editor.focused").waitFor();
}

async function goToLine(line) {
  await page.keyboard.press("Control+G");
  await page.locator(".quick-input-widget input").fill(`:${line}`);
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

/** Saves the active editor and waits until the file on disk holds `program` (LintSeq compares stripped text). */
async function expectSaved(file, program) {
  await page.keyboard.press("Control+S");
  await page.locator(".tab.active.dirty").waitFor({ state: "detached" });
  const text = readFileSync(path.join(WORKSPACE, file), "utf8");
  assert.equal(text.trim(), program.trim());
}

test("the status bar says ready once the server has loaded the tiny model", { timeout: READY_TIMEOUT + 60_000 }, async () => {
  await openFile("sum_squares.py");
  const status = page.locator(".statusbar-item", { hasText: "EditSeq:" });
  await status.waitFor();
  await page.locator(".statusbar-item", { hasText: "EditSeq: ready" }).waitFor({ timeout: READY_TIMEOUT });
  assert.match(await status.innerText(), /EditSeq: ready · cpu/);
});

test("ghost text shows the next insertion, and accepting a word takes part of it", { timeout: MODEL_TIMEOUT + 60_000 }, async () => {
  await goToLine(expected.code_action_line - 1);
  await page.keyboard.press("End");
  const ghost = page.locator(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text").first();
  // VS Code drops a pending inline request when focus or cursor events arrive meanwhile, and asks again on the next
  // trigger, as it would on the next keystroke; the server caches the suggestion, so a retry answers at once.
  const deadline = Date.now() + MODEL_TIMEOUT;
  for (;;) {
    await runCommand("Trigger Inline Suggestion");
    try {
      await ghost.waitFor({ timeout: 15_000 });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        throw error;
      }
    }
  }
  await page.screenshot({ path: path.join(ARTIFACTS, "ghost-text.png") });
  // Partial accept is VS Code's own: Ctrl+Right takes the next word of the ghost text into the buffer.
  await page.keyboard.press("Control+ArrowRight");
  await page.locator(".tab.active.dirty").waitFor();
  await ghost.waitFor(); // the rest of the suggestion stays as ghost text
  await page.screenshot({ path: path.join(ARTIFACTS, "ghost-text-partial.png") });
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+Z");
  await page.locator(".tab.active.dirty").waitFor({ state: "detached" });
});

test("the EditSeq code action inserts the model's next edit", { timeout: MODEL_TIMEOUT + 30_000 }, async () => {
  await goToLine(expected.code_action_line);
  const action = page.locator(".action-widget .monaco-list-row", { hasText: expected.code_action_title }).first();
  // The editor's message, not its screen-reader alert (".monaco-alert"), which stays in the page after Escape.
  const none = page.locator("div.message", { hasText: "No code actions for 'refactor.editseq' available" });
  // When VS Code cancels its automatic code-action request for this line, the server cancels the computation that
  // the explicit request shares, and the menu comes up empty; ask again, as a person would.
  const deadline = Date.now() + MODEL_TIMEOUT;
  for (;;) {
    await runCommand("EditSeq: Suggest Next Edit");
    await action.or(none).first().waitFor({ timeout: MODEL_TIMEOUT });
    if (await action.isVisible()) {
      break;
    }
    assert.ok(Date.now() < deadline, "the EditSeq code action never appeared");
    await page.keyboard.press("Escape");
    await none.first().waitFor({ state: "hidden" });
  }
  await page.screenshot({ path: path.join(ARTIFACTS, "suggestion-menu.png") });
  await action.click();
  await page.locator(".tab.active.dirty").waitFor();
  await expectSaved("sum_squares.py", expected.after_code_action);
});

test("generate from instruction, then the keybinding accepts one step", { timeout: MODEL_TIMEOUT + 60_000 }, async () => {
  await openFile("generated.py");
  await runCommand("EditSeq: Generate from Instruction…", { opensInput: true });
  await page.locator(".quick-input-widget", { hasText: "Describe the code to write" }).waitFor();
  await page.locator(".quick-input-widget input").fill(expected.instruction);
  await page.keyboard.press("Enter");
  const candidate = page.locator(".quick-input-list .monaco-list-row", { hasText: "Candidate 1" });
  await candidate.waitFor({ timeout: MODEL_TIMEOUT });
  await page.screenshot({ path: path.join(ARTIFACTS, "candidates.png") });
  await page.keyboard.press("Enter");
  await page.locator(".statusbar-item", { hasText: `EditSeq step 1 of ${expected.steps}` }).waitFor();
  await page.locator(".tab", { hasText: `EditSeq step 1 of ${expected.steps}` }).waitFor(); // the step's diff preview
  await page.screenshot({ path: path.join(ARTIFACTS, "step-preview.png") });
  // The step preview opens beside; the keybinding acts on the file being edited.
  await page.locator(".editor-group-container", { has: page.locator(".tab.active", { hasText: "generated.py" }) })
    .locator(".view-lines").first().click();
  await page.keyboard.press("Control+Alt+Enter");
  await page.locator(".tab.dirty", { hasText: "generated.py" }).waitFor();
  await page.locator(".statusbar-item", { hasText: `EditSeq step 2 of ${expected.steps}` }).waitFor();
  await expectSaved("generated.py", expected.after_first_step);
});

test("clicking the status bar item shows the server's status", async () => {
  await page.locator(".statusbar-item", { hasText: "EditSeq: ready" }).click();
  const dialog = page.locator(".monaco-dialog-box", { hasText: "EditSeq status" });
  await dialog.waitFor();
  const text = await dialog.innerText();
  assert.match(text, /State: ready/);
  assert.match(text, /Device: cpu/);
  assert.match(text, /Python: .*\(from editseq\.pythonPath\)/);
  await page.screenshot({ path: path.join(ARTIFACTS, "status.png") });
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
});

test("Retrain on This Workspace trains on its code, and the server switches to the new model", { timeout: RETRAIN_TIMEOUT + READY_TIMEOUT }, async () => {
  await runCommand("EditSeq: Retrain on This Workspace");
  const offer = page.locator(".notification-toast", { hasText: "retrained on workspace" });
  await offer.waitFor({ timeout: RETRAIN_TIMEOUT });
  await page.screenshot({ path: path.join(ARTIFACTS, "retrained.png") });
  // A tiny model retrained for a few steps rarely beats its start on the held-out edits: the run then advises keeping
  // the model in use and the notification offers the new one against that advice; either button switches.
  await offer.getByRole("button", { name: /^(Use New Model|Use It Anyway)$/ }).click();
  // The choice lands in the workspace's settings, and the server reloads its model from there.
  const settingsFile = path.join(WORKSPACE, ".vscode", "settings.json");
  const modelDir = await until(() => {
    const settings = existsSync(settingsFile) ? JSON.parse(readFileSync(settingsFile, "utf8")) : {};
    return settings["editseq.modelPath"];
  }, 30_000);
  assert.match(modelDir, /\/retrained\/workspace-[0-9a-f]+$/);
  assert.ok(existsSync(path.join(modelDir, "report.md")));
  const report = await until(async () => {
    await page.locator(".statusbar-item", { hasText: "EditSeq: ready" }).click({ timeout: READY_TIMEOUT });
    const dialog = page.locator(".monaco-dialog-box", { hasText: "EditSeq status" });
    const text = await dialog.innerText();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    return text.includes(`Model: ${modelDir}`) ? text : undefined;
  }, READY_TIMEOUT);
  assert.match(report, /State: ready/);
});

/** Polls `probe` (once a second) until it returns something other than undefined; fails after `timeout` ms. */
async function until(probe, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    assert.ok(Date.now() < deadline, `gave up after ${timeout} ms: ${probe}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
