# One entry point for a fresh machine: `make demo` runs the main job, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= train,dev,scale

.PHONY: setup demo test lint extension test-e2e
VSIX := vscode-extension/dist/editseq.vsix

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel of torch 2.13.0 lies on the build machines' disk; a looser pin would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

# The main job: the default model (base + LintSeq adapter) suggests the next edit for a bundled example, offline;
# then LintSeq turns example programs into edit sequences.
demo: setup
	$(VENV)/bin/editseq model install
	$(VENV)/bin/editseq suggest examples/running_mean.py --line 3 -k 4 --max-new-tokens 64 --seed 0
	$(VENV)/bin/editseq lintseq examples/sample.jsonl -o runs/sample.lintseq.jsonl -s 2 --show --overwrite

lint: setup
	$(PY) -m ruff check .

test: setup lint extension
	$(PY) -m pytest -q
	bash vscode-extension/e2e/run.sh $(VSIX)

# The VS Code extension: build from the lock file, run its unit tests, package the .vsix (offline).
extension:
	cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run build && npm test && npm run package

# The packaged extension in real VS Code (code-server, headless Chromium) against the server and a tiny model.
test-e2e: setup extension
	bash vscode-extension/e2e/run.sh $(VSIX)
