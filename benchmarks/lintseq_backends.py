"""The ``editseq lintseq`` job on its backends, same input, same run: local with 1 and 2 worker processes (the
baseline) against Ray with 2 CPUs, started locally. Checks that every backend writes the same bytes.

    .venv/bin/python benchmarks/lintseq_backends.py                      # 400 standard-library functions, s = 5
    .venv/bin/python benchmarks/lintseq_backends.py --input programs.jsonl --samples 3   # {"id","instruction","response"}

Ray's start-up (``ray.init``, a few seconds) is timed apart from the job: on a real cluster it is paid once.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.datagen import Options, run  # noqa: E402


def stdlib_input(path: Path, count: int) -> Path:
    from tests.support.stdlib_programs import stdlib_functions

    rows = [
        {"id": name, "instruction": name, "response": program} for name, program in stdlib_functions(count)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="Programs JSONL (default: standard-library functions).")
    parser.add_argument(
        "--programs", type=int, default=400, help="Standard-library functions when no --input."
    )
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()

    import ray

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = args.input or stdlib_input(tmp / "programs.jsonl", args.programs)
        options = Options(samples=args.samples, seed=0)
        rows = []
        reference = None
        for backend, workers in (("local", 1), ("local", 2), ("ray", 2)):
            startup = 0.0
            if backend == "ray":
                started = time.perf_counter()
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
                startup = time.perf_counter() - started
            out = tmp / f"{backend}-{workers}.jsonl"
            started = time.perf_counter()
            summary = run(source, out, options, workers=workers, progress=False, backend=backend)
            seconds = time.perf_counter() - started
            if backend == "ray":
                ray.shutdown()
            data = out.read_bytes()
            reference = reference if reference is not None else data
            rows.append(
                (backend, workers, summary.records, summary.written, seconds, startup, data == reference)
            )
        base = rows[0][4]
        print(f"input: {source} ({rows[0][2]} programs, s = {args.samples})")
        print(
            "| backend | workers | sequences | job s | sequences/s | vs local x1 | start-up s | same bytes |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for backend, workers, _, written, seconds, startup, same in rows:
            print(
                f"| {backend} | {workers} | {written} | {seconds:.1f} | {written / seconds:.0f} | "
                f"{base / seconds:.2f}x | {startup:.1f} | {'yes' if same else 'NO'} |"
            )


if __name__ == "__main__":
    main()
