"""`make bench`: seconds and peak memory of every chapter and solution notebook, against a floor.

The floor is a notebook that only imports helpers and torch (kernel start-up plus imports), so the
ratio shows what each notebook costs beyond the unavoidable. A benchmark, not a test: it prints and
never fails on a slow number. Further benchmarks live in bench/*.py (each with a ``main()``)
and run after the notebook table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 20.0

_RUN_ONE = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
seconds = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))
"""


def run_notebook(path: Path, cwd: Path) -> dict[str, float]:
    """Execute one notebook in a fresh process; its wall seconds and its kernel's peak RSS in MiB."""
    done = subprocess.run([sys.executable, "-c", _RUN_ONE, str(path), str(cwd)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        return {"seconds": float("nan"), "peak_mib": float("nan"), "error": done.stderr.strip()[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def floor_notebook(folder: Path) -> Path:
    """A notebook that only imports helpers and torch: the cost every notebook pays."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import helpers\nimport torch")]
    path = folder / "floor.ipynb"
    nbformat.write(nb, path)
    return path


def notebook_table() -> None:
    """Print seconds, peak memory and ratio to the floor for every chapter and solution notebook."""
    notebooks = sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*/*.ipynb"))
    with tempfile.TemporaryDirectory() as scratch:
        floor = run_notebook(floor_notebook(Path(scratch)), Path(scratch))
    print(f"{'notebook':54s} {'seconds':>8s} {'peak MiB':>9s} {'× floor':>8s}")
    print(f"{'(floor: import helpers, torch)':54s} {floor['seconds']:8.1f} {floor['peak_mib']:9.0f} {1:8.1f}")
    for path in notebooks:
        result = run_notebook(path, path.parent)
        flag = "  over the 20 s target" if result["seconds"] > TARGET_SECONDS else ""
        if "error" in result:
            flag = f"  FAILED: {result['error']}"
        print(f"{str(path.relative_to(ROOT)):54s} {result['seconds']:8.1f} {result['peak_mib']:9.0f} "
              f"{result['seconds'] / floor['seconds']:8.1f}{flag}", flush=True)


def further_benchmarks() -> None:
    """Run ``main()`` of every other bench/*.py, in name order."""
    for path in sorted(p for p in Path(__file__).parent.glob("*.py") if p.name != "run.py"):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"\n== {path.stem} ==", flush=True)
        module.main()


if __name__ == "__main__":
    notebook_table()
    further_benchmarks()
