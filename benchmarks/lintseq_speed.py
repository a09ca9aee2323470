"""LintSeq sampling speed: EditSeq against the reference sampler `pylintseq` 0.0.2 (pylint 3.2.6), same run.

    .venv/bin/python benchmarks/lintseq_speed.py                       # creates the reference venv if needed
    .venv/bin/python benchmarks/lintseq_speed.py --reference-venv DIR  # an existing venv with pylintseq + pylint
    .venv/bin/python benchmarks/lintseq_speed.py --no-reference        # EditSeq only

Three tables:

1. The ten functions named in issue 2: seconds per edit sequence, lint calls and edits per sequence, for the
   reference (in a subprocess of its own Python >= 3.12 venv; pylint never enters EditSeq's environment) and for
   EditSeq, both single-process. EditSeq is timed two ways: ``s`` sequences per program after one analysis (as
   ``editseq lintseq`` does), and each sequence from scratch (analysis included, one ``sample_edits`` call each).
2. EditSeq with the linter run after every deletion (the straightforward algorithm) against the default, whose
   def-use analysis skips needless lint calls: same sequences, fewer calls.
3. The larger set (>= 200 standard-library functions): EditSeq alone, and the `editseq lintseq` JSONL job with one
   and two worker processes.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model_runtime.edits import parse_edit, program_states  # noqa: E402
from tests.support.stdlib_programs import BENCHMARK_FUNCTIONS, named_function, stdlib_functions  # noqa: E402
from training import datagen, lintseq  # noqa: E402

REFERENCE_PACKAGES = ("pylintseq==0.0.2", "pylint==3.2.6")
DEFAULT_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "editseq" / "lintseq-reference"
)

# Runs inside the reference venv: the reference's own sampler with the settings of its `generate` command, lint
# calls counted by wrapping its linter. Reads programs as JSON on stdin, prints one JSON line of results.
REFERENCE_SCRIPT = r"""
import json, sys, time
import pylintseq.utils as u

calls = 0
_linter = u.file_linter
def counting_linter(*args, **kwargs):
    global calls
    calls += 1
    return _linter(*args, **kwargs)
u.file_linter = counting_linter

job = json.load(sys.stdin)
u.set_seed_everywhere(job["seed"])
u.file_linter(__file__)  # pylint's first run pays for its imports; not part of any sequence
results = []
for program in job["programs"]:
    times, lint_calls, edits, failures = [], [], [], 0
    for _ in range(job["samples"]):
        calls = 0
        start = time.perf_counter()
        path = u.lintseq_backward_sampling_pythonic(
            program, children_per_round=1, top_k=1, max_population_size=1, max_depth=512,
            indent_bias_sampling_factor=1, ignore_imports=False, ignore_comments=True,
            ignore_global_defs=True, ignore_init_errors=False)
        if path is None:
            failures += 1
            continue
        _, diffs = u.inflate_edit_path(program, path[0][0])
        times.append(time.perf_counter() - start)
        lint_calls.append(calls)
        edits.append(len(diffs))
    results.append({"times": times, "lint_calls": lint_calls, "edits": edits, "failures": failures})
print("RESULT " + json.dumps(results))
"""


def _is_python312(python: str) -> bool:
    check = "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)"
    try:
        return subprocess.run([python, "-c", check], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_python312() -> str | None:
    """A working Python >= 3.12 interpreter for the reference: under pyenv, or on PATH (pyenv shims may not run)."""
    candidates = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.1[2-9]*/bin/python3")))  # 3.12 first
    candidates += [
        found for name in ("python3.12", "python3.13", "python3.14") if (found := shutil.which(name))
    ]
    return next((c for c in candidates if _is_python312(c)), None)


def ensure_reference_venv(venv: Path, python: str | None) -> Path:
    """The reference venv's interpreter, creating the venv and installing the reference (pip, PyPI) if needed."""
    interpreter = venv / "bin" / "python"
    ready = "import pylintseq.utils, pylint"
    if (
        interpreter.exists()
        and subprocess.run([str(interpreter), "-c", ready], capture_output=True).returncode == 0
    ):
        return interpreter
    if not interpreter.exists():
        python = python or find_python312()
        if python is None:
            raise SystemExit("the reference needs Python >= 3.12: pass --reference-python or --no-reference")
        print(f"creating the reference venv in {venv} with {python} ...", file=sys.stderr)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(interpreter), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES], check=True)
    return interpreter


def run_reference(interpreter: Path, programs: list[str], samples: int, seed: int) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(REFERENCE_SCRIPT)
        script = f.name
    try:
        job = json.dumps({"programs": programs, "samples": samples, "seed": seed})
        result = subprocess.run(
            [str(interpreter), script],
            input=job,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    finally:
        os.unlink(script)
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def time_editseq(program: str, samples: int, *, always_lint: bool = False) -> dict:
    """``samples`` sequences after one analysis, edit texts rendered; checks each one writes the program."""
    start = time.perf_counter()
    prepared = lintseq.prepare(program)
    walks = lintseq.sample(prepared, samples=samples, seed=0, always_lint=always_lint)
    texts = [w.edits() for w in walks]
    elapsed = time.perf_counter() - start
    expected = "\n".join(prepared.lines)
    assert all(program_states(parse_edit(e) for e in t)[-1] == expected for t in texts)
    return {
        "seconds": elapsed / samples,
        "lint_calls": statistics.mean(w.lint_calls for w in walks),
        "edits": statistics.mean(len(t) for t in texts),
        "steps": [w.steps for w in walks],
    }


def time_editseq_fresh(program: str, samples: int) -> float:
    """Seconds per sequence when every sequence is one ``sample_edits`` call, analysis included."""
    start = time.perf_counter()
    for k in range(samples):
        lintseq.sample_edits(program, samples=1, seed=k)
    return (time.perf_counter() - start) / samples


def time_job(
    programs: list[tuple[str, str]], samples: int, workers: int, directory: Path
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its workers) of one ``editseq lintseq`` job."""
    source = directory / "programs.jsonl"
    with source.open("w") as f:
        for name, program in programs:
            f.write(json.dumps({"id": name, "instruction": "", "response": program}) + "\n")
    output = directory / f"out-{workers}.jsonl"
    output.unlink(missing_ok=True)
    before = os.times()
    start = time.perf_counter()
    datagen.run(source, output, datagen.Options(samples=samples), workers=workers, progress=False)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = sum(
        getattr(after, f) - getattr(before, f) for f in ("user", "system", "children_user", "children_system")
    )
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--reference-python", help="Python >= 3.12 to create the reference venv with")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--reference-samples", type=int, default=3, help="sequences per function, reference")
    parser.add_argument("--samples", type=int, default=100, help="sequences per function, EditSeq")
    parser.add_argument("--functions", type=int, default=1000, help="size of the larger set (>= 200)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each worker count in the scaling test"
    )
    parser.add_argument("--job-samples", type=int, default=5, help="sequences per program in the worker test")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    print(
        f"# machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; Python {sys.version.split()[0]}"
    )
    names = list(BENCHMARK_FUNCTIONS)
    programs = [named_function(n) for n in names]
    results: dict = {"functions": names}

    reference = None
    if not args.no_reference:
        interpreter = ensure_reference_venv(args.reference_venv, args.reference_python)
        print(
            f"# reference: {' '.join(REFERENCE_PACKAGES)} via {interpreter}, {args.reference_samples} seq/function"
        )
        reference = run_reference(interpreter, programs, args.reference_samples, seed=1)
        results["reference"] = reference

    editseq = [time_editseq(p, args.samples) for p in programs]
    fresh = [time_editseq_fresh(p, max(args.samples // 5, 5)) for p in programs]
    slow = [time_editseq(p, args.samples, always_lint=True) for p in programs]
    results["editseq"] = [{k: v for k, v in e.items() if k != "steps"} for e in editseq]
    results["editseq_fresh_seconds"] = fresh

    print(f"\n## 1. Ten functions: seconds per edit sequence (EditSeq: {args.samples} seq/function)\n")
    header = f"{'function':34} {'lines':>5} {'ref s/seq':>10} {'ref lints':>9} {'ref edits':>9} "
    header += (
        f"{'ES ms/seq':>9} {'ES fresh':>9} {'ES lints':>8} {'ES edits':>8} {'speedup':>8} {'fresh x':>8}"
    )
    print(header)
    print("-" * len(header))
    speedups, fresh_speedups = [], []
    for k, name in enumerate(names):
        e = editseq[k]
        row = f"{name:34} {programs[k].count(chr(10)):>5} "
        if reference:
            r = reference[k]
            ref_s = statistics.mean(r["times"])
            speedups.append(ref_s / e["seconds"])
            fresh_speedups.append(ref_s / fresh[k])
            row += f"{ref_s:>10.3f} {statistics.mean(r['lint_calls']):>9.1f} {statistics.mean(r['edits']):>9.1f} "
        else:
            row += f"{'-':>10} {'-':>9} {'-':>9} "
        row += (
            f"{e['seconds'] * 1e3:>9.2f} {fresh[k] * 1e3:>9.2f} {e['lint_calls']:>8.2f} {e['edits']:>8.2f} "
        )
        row += f"{speedups[-1]:>7.0f}x {fresh_speedups[-1]:>7.0f}x" if reference else f"{'-':>8} {'-':>8}"
        print(row)
    mean_es = statistics.mean(e["seconds"] for e in editseq)
    mean_fresh = statistics.mean(fresh)
    row = f"{'mean':34} {'':>5} "
    if reference:
        mean_ref = statistics.mean(statistics.mean(r["times"]) for r in reference)
        ref_lints = statistics.mean(statistics.mean(r["lint_calls"]) for r in reference)
        ref_edits = statistics.mean(statistics.mean(r["edits"]) for r in reference)
        row += f"{mean_ref:>10.3f} {ref_lints:>9.1f} {ref_edits:>9.1f} "
    else:
        row += f"{'-':>10} {'-':>9} {'-':>9} "
    row += f"{mean_es * 1e3:>9.2f} {mean_fresh * 1e3:>9.2f} "
    row += f"{statistics.mean(e['lint_calls'] for e in editseq):>8.2f} {statistics.mean(e['edits'] for e in editseq):>8.2f} "
    if reference:
        row += f"{mean_ref / mean_es:>7.0f}x {mean_ref / mean_fresh:>7.0f}x"
        results["speedup_of_means"] = mean_ref / mean_es
        results["speedup_of_means_fresh"] = mean_ref / mean_fresh
    print(row)
    if reference:
        print(
            f"geometric mean of per-function speedups: {statistics.geometric_mean(speedups):.0f}x "
            f"({statistics.geometric_mean(fresh_speedups):.0f}x from scratch); "
            f"reference failures: {sum(r['failures'] for r in reference)}"
        )

    print(
        "\n## 2. EditSeq: lint after every deletion (baseline) vs def-use analysis (default), ten functions\n"
    )
    same = all(a["steps"] == b["steps"] for a, b in zip(editseq, slow, strict=True))
    print(f"{'variant':34} {'ms/seq':>8} {'lints/seq':>10}")
    for label, rows in (("lint after every deletion", slow), ("def-use analysis (default)", editseq)):
        print(
            f"{label:34} {statistics.mean(r['seconds'] for r in rows) * 1e3:>8.2f} "
            f"{statistics.mean(r['lint_calls'] for r in rows):>10.2f}"
        )
    print(f"identical sequences: {same}")

    larger = stdlib_functions(args.functions)
    print(f"\n## 3. Larger set: {len(larger)} standard-library functions\n")
    start = time.perf_counter()
    big = [time_editseq(p, args.job_samples) for _, p in larger]
    alone = time.perf_counter() - start
    print(
        f"EditSeq alone, one process: {alone / (len(larger) * args.job_samples) * 1e3:.2f} ms/seq, "
        f"{statistics.mean(b['lint_calls'] for b in big):.2f} lint calls/seq, "
        f"{statistics.mean(b['edits'] for b in big):.2f} edits/seq"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            w: [time_job(larger, args.job_samples, w, Path(tmp)) for _ in range(args.repeats)] for w in (1, 2)
        }
        identical = (Path(tmp) / "out-1.jsonl").read_bytes() == (Path(tmp) / "out-2.jsonl").read_bytes()
    one, two = (min(wall for wall, _ in runs[w]) for w in (1, 2))  # the least disturbed of the repeats
    sequences = len(larger) * args.job_samples
    print(
        f"\n{'editseq lintseq job':20} {'seconds':>8} {'seq/s':>8} {'speedup':>8} {'CPU s':>7} {'cores used':>10}"
    )
    for w, wall in ((1, one), (2, two)):
        cpu = next(c for t, c in runs[w] if t == wall)
        label = f"{w} worker{'s' if w > 1 else ''}"
        print(
            f"{label:20} {wall:>8.2f} {sequences / wall:>8.0f} {one / wall:>7.2f}x {cpu:>7.2f} {cpu / wall:>10.2f}"
        )
    print(
        f"best of {args.repeats} runs each; identical output: {identical}; load average at end {os.getloadavg()[0]:.1f}"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("note: the machine is oversubscribed; 'cores used' shows how much CPU the job actually got")
    results.update(
        {
            "job_runs": {str(w): r for w, r in runs.items()},
            "scaling": one / two,
            "job_outputs_identical": identical,
        }
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
