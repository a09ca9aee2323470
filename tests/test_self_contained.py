"""Self-contained functions for training data, and wheels as corpus sources."""

from __future__ import annotations

import ast
import textwrap
import zipfile

from model_runtime import lint
from training import corpus
from training.self_contained import NESTED, PRIVATE, UNDEFINED, module_imports, self_contained_program

MODULE = textwrap.dedent(
    '''
    import math
    import os.path as osp
    from collections import Counter
    from helpers import _hidden

    LIMIT = 10


    def norm(xs):
        """Euclidean norm of xs."""
        total = 0.0
        for x in xs:
            total += x * x
        return math.sqrt(total)


    def commonest(words):
        """The most common word."""
        counts = Counter(words)
        best = counts.most_common(1)
        return best[0][0] if best else None


    def capped(xs):
        """xs, at most LIMIT of them."""
        kept = []
        for x in xs[:LIMIT]:
            kept.append(x)
        return kept


    def secret(x):
        """Uses a private helper."""
        y = _hidden(x)
        z = y + 1
        return z


    class Box:
        def area(self):
            """The area."""
            side = self.side
            squared = side * side
            return squared
    '''
)


def _found():
    imports = module_imports(ast.parse(MODULE))
    return {
        name: self_contained_program(imports, name, program)
        for name, _, program in corpus.functions_from_source(MODULE, min_body=2)
    }


def test_a_function_that_stands_alone_gets_just_the_imports_it_uses():
    found = _found()
    program, reason = found["norm"]
    assert reason == "" and program.startswith("import math\n\n\ndef norm(xs):") and "Counter" not in program
    assert found["commonest"][0].startswith("from collections import Counter\n")
    assert all(not lint.errors(found[name][0]) for name in ("norm", "commonest"))


def test_methods_module_globals_and_private_helpers_are_not_self_contained():
    found = _found()
    assert found["capped"] == (None, UNDEFINED)
    assert found["secret"] == (None, PRIVATE)
    assert found["Box.area"] == (None, NESTED)


def test_a_corpus_from_a_wheel_keeps_only_self_contained_functions_with_the_wheels_licence(tmp_path):
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", MODULE)
        archive.writestr(
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nLicense-Expression: MIT\n",
        )
    root, source, licence = corpus.package_source(str(wheel))
    assert (source, licence) == ("demo 1.0", "MIT") and (root / "demo" / "__init__.py").is_file()
    stats = corpus.CorpusStats()
    programs = corpus.programs_from_tree(
        root, source=source, licence=licence, stats=stats, min_body=2, self_contained=True
    )
    assert sorted(p.name for p in programs) == ["commonest", "norm"]
    assert stats.dropped == {
        "function uses names from its module": 1,
        "function imports a private name": 1,
        "function nested or a method": 1,
    }
    assert corpus.package_source(str(wheel))[0] == root  # unpacked once, found again


def test_a_directory_without_metadata_is_refused_clearly(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="not an unpacked wheel"):
        corpus.package_source(str(tmp_path))
