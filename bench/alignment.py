"""InfoNCE on a 4096 × 256 batch: the vectorised helper against Python loops over anchors.

``helpers.alignment.info_nce`` computes the whole cosine-similarity matrix with one matrix product
and one cross-entropy. Two loops compute the same loss anchor by anchor:

* *row loop* — for each anchor, its row of similarities (one matrix-vector product) and its
  log-softmax term: 4096 Python iterations of identical work, timed on the first 1024 anchors and
  scaled to the batch (keeps the benchmark short on a busy machine);
* *definition loop* — the formula as written (as ``helpers.alignment.info_nce_loop`` does), one cosine
  per (anchor, candidate): 4096² scalar steps, timed on the first anchors and scaled to the batch.

Run by ``make bench`` (``bench/run.py``) or alone: ``python bench/alignment.py``.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from helpers import alignment

N, D, TAU = 4096, 256, 0.1
ROW_ANCHORS = 1024  # the row loop is timed on this many anchors and scaled to N
DEFINITION_ANCHORS = 4  # the definition loop is timed on this many anchors and scaled to N


def info_nce_row_loop(za: torch.Tensor, zb: torch.Tensor, temperature: float, anchors: int) -> torch.Tensor:
    """The mean InfoNCE term of the first ``anchors`` anchors, one anchor at a time: its row of
    similarities, then its log-softmax term."""
    na, nb = F.normalize(za, dim=1), F.normalize(zb, dim=1)
    total = za.new_zeros(())
    for i in range(anchors):
        row = nb @ na[i] / temperature
        total = total + torch.logsumexp(row, dim=0) - row[i]
    return total / anchors


def info_nce_definition_terms(za: torch.Tensor, zb: torch.Tensor, temperature: float,
                              anchors: int) -> torch.Tensor:
    """The mean InfoNCE term of the first ``anchors`` anchors, one cosine per (anchor, candidate)."""
    total = za.new_zeros(())
    for i in range(anchors):
        anchor = za[i] / za[i].norm()
        scores = torch.stack([anchor @ (zb[j] / zb[j].norm()) / temperature for j in range(len(zb))])
        total = total - (scores[i] - torch.logsumexp(scores, dim=0))
    return total / anchors


def best_of(repeats: int, run) -> tuple[float, torch.Tensor]:  # type: ignore[no-untyped-def]
    """The fastest of ``repeats`` wall-clock timings of ``run()`` and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


@torch.no_grad()
def main() -> None:
    generator = torch.Generator().manual_seed(0)
    za, zb = torch.randn(N, D, generator=generator), torch.randn(N, D, generator=generator)
    vectorised, loss = best_of(5, lambda: alignment.info_nce(za, zb, TAU))
    logits = F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T / TAU
    terms = logits.logsumexp(dim=1) - logits.diagonal()
    row_seconds, row_part = best_of(1, lambda: info_nce_row_loop(za, zb, TAU, ROW_ANCHORS))
    row_loop = row_seconds / ROW_ANCHORS * N
    k = DEFINITION_ANCHORS
    per_anchor, part = best_of(1, lambda: info_nce_definition_terms(za, zb, TAU, k))
    definition = per_anchor / k * N
    torch.testing.assert_close(terms.mean(), loss, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(row_part, terms[:ROW_ANCHORS].mean(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(part, terms[:k].mean(), rtol=1e-4, atol=1e-4)
    print(f"InfoNCE, batch {N} x {D}, tau = {TAU}, torch threads = {torch.get_num_threads()}")
    print(f"{'implementation':44s} {'seconds':>10s} {'speed-up':>10s}")
    print(f"{'vectorised (helpers.alignment.info_nce)':44s} {vectorised:10.3f} {1.0:10.1f}")
    print(f"{f'loop over anchors, one row each (x{N // ROW_ANCHORS})':44s} {row_loop:10.2f} "
          f"{row_loop / vectorised:10.1f}")
    print(f"{f'loop over anchors and candidates (x{N // k})':44s} {definition:10.1f} "
          f"{definition / vectorised:10.0f}")
    print(f"(xK: timed on N/K anchors and scaled; every loop's terms agree with the vectorised loss "
          f"{float(loss):.5f})")


if __name__ == "__main__":
    main()
