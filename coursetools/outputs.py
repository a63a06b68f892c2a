"""Outputs capped as they arrive: no submission can fill the grader's memory, the graded notebook or the
feedback page with what its code prints or displays.

``CappedExecute`` is nbgrader's Execute preprocessor with every output counted while the kernel runs,
before it is stored: at most ``max_cell_outputs`` outputs and ``max_cell_bytes`` bytes per cell and
``max_notebook_bytes`` per notebook, whatever their type (printed text, images, HTML, display data). What
does not fit is dropped and the cell says so (``CUT``), which grades.csv reports.
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbgrader.preprocessors import Execute
from traitlets import Int

CUT = "output cut while grading"


def message_bytes(msg: dict[str, Any]) -> int:
    """The size of an output message's payload (text, data of every MIME type)."""
    content = msg.get("content", {})
    parts = [content.get("text", ""), *content.get("data", {}).values(), content.get("evalue", ""),
             *content.get("traceback", [])]
    return sum(len(part) if isinstance(part, str) else len(str(part)) for part in parts)


class CappedExecute(Execute):
    """nbgrader's Execute with outputs capped per cell and per notebook as they arrive."""

    max_cell_outputs = Int(500, help="outputs kept per cell").tag(config=True)
    max_cell_bytes = Int(8 * 2**20, help="bytes of output kept per cell").tag(config=True)
    max_notebook_bytes = Int(32 * 2**20, help="bytes of output kept per notebook").tag(config=True)

    def preprocess(self, nb: Any, resources: Any, *args: Any, **kwargs: Any) -> Any:
        self._kept: dict[int, list[int]] = {}
        self._total = 0
        self._cut: set[int] = set()
        return super().preprocess(nb, resources, *args, **kwargs)

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        count, size = self._kept.setdefault(cell_index, [0, 0])
        extra = message_bytes(msg)
        why = ("too many outputs" if count >= self.max_cell_outputs else
               "too much output in one cell" if size + extra > self.max_cell_bytes else
               "too much output in the notebook" if self._total + extra > self.max_notebook_bytes else "")
        if why:
            if cell_index not in self._cut:
                self._cut.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=f"\n... {CUT}: {why} ...\n"))
            return None
        self._kept[cell_index] = [count + 1, size + extra]
        self._total += extra
        return super().output(outs, msg, display_id, cell_index)
