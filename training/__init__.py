"""Corpora -> LintSeq edit sequences -> finetuning -> evaluation. Imports model_runtime, never lsp_server."""
