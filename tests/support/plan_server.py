"""The language server with a scripted model that plans: for ``PLAN_STATES[0]`` it proposes one suggestion of three
insertion steps (the states after each are ``PLAN_STATES[1:]``), validated like any model's output; for any other
buffer it proposes ``MODEL_MARKER``, so that a test sees whether the model was asked.

    python -m tests.support.plan_server
"""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from model_runtime.edits import diff_states, normalise

PLAN_STATES = (
    'def mean(xs):\n    """Return the mean of xs."""\n    total = 0\n    return total / len(xs)\n',
    'def mean(xs):\n    """Return the mean of xs."""\n    total = 0\n    for x in xs:\n        total += x\n'
    "    return total / len(xs)\n",
    'def mean(xs):\n    """Return the mean of xs."""\n    if not xs:\n        return 0.0\n    total = 0\n'
    "    for x in xs:\n        total += x\n    return total / len(xs)\n",
    'def mean(xs):\n    """Return the mean of xs."""\n    if not xs:\n        return 0.0\n    total = 0\n'
    "    for x in xs:\n        total += x\n    total = float(total)\n    return total / len(xs)\n",
)
MODEL_MARKER = "# the model was asked"


def plan_edits() -> list[str]:
    """The plan's steps as LintSeq edit texts, each against the state the ones before it left."""
    return [diff_states(before, after) for before, after in pairwise(PLAN_STATES)]


def scripted_suggest(loaded: Any, buffer: str, **kwargs: Any) -> Any:
    """``model_runtime.suggestions.suggest`` with the model's answers scripted (see the module docstring)."""
    from model_runtime.strategies import Proposal
    from model_runtime.suggestions import validate

    if normalise(buffer) == normalise(PLAN_STATES[0]):
        first, *later = plan_edits()
        return validate(buffer, [Proposal(first, -0.1, tuple(later))])
    return validate(buffer, [(f"@@ -0,0 +1 @@\n+{MODEL_MARKER}", -0.5)])


def plan_suggestion() -> Any:
    """The scripted plan as ``suggest`` returns it for ``PLAN_STATES[0]``."""
    (suggestion,) = scripted_suggest(None, PLAN_STATES[0]).suggestions
    return suggestion


def main() -> None:
    import model_runtime.suggestions
    from lsp_server import __main__
    from lsp_server.server import server

    model_runtime.suggestions.suggest = scripted_suggest
    server.host._loader = lambda settings: SimpleNamespace(device="cpu", quantization="none", name="scripted")
    __main__.main()


if __name__ == "__main__":
    main()
