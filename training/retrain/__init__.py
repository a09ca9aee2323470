"""``editseq retrain``: teach the model the repository it serves, end to end, in one resumable command.

collect (the repository's Python, .gitignore respected, vendored/generated/huge skipped, deduplicated) -> split by
file into train and held-out -> LintSeq records (the ``editseq lintseq`` job, local or Ray) plus accepted edits from
the suggestions log -> score the starting model on the held-out files (next-edit benchmark and validation loss) ->
LoRA-finetune under a wall-clock budget -> score the new model the same way -> write the model directory (adapter,
tokenizer, ``train_config.json``, ``report.md``, ``report.json``), which the language server loads as ``modelPath``.

Every stage leaves its result under ``OUT/work`` and skips itself when it is there, and training resumes from its
last checkpoint, so a killed run is finished by rerunning the same command. The starting model is the current
default (SmolLM2 + the EditSeq adapter, whose LoRA weights training continues from), a previously retrained model
directory (the same), or any causal LM directory (a fresh LoRA).

The modules: ``options`` (``RetrainOptions``, the default model directory), ``data`` (collect, split by file,
LintSeq records), ``models`` (the starting model, scoring a model, installing the trained one), ``report``
(``report.md``), ``flow`` (``retrain``: the stages, each resumable) and ``cli`` (``editseq retrain``).
"""
