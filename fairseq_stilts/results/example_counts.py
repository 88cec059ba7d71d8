"""Per-example counts of one evaluation, kept beside its results JSON for the report's bootstrap.

``stilts-eval`` and ``stilts-retrieve`` write ``<results>.examples.npz`` next to the results JSON
(in a grid: ``runs/<run>/results.examples.npz``): for every scored language and every sum its
metrics derive from (:mod:`fairseq_stilts.metrics.sums`), one array with each example's count,
in the examples' order, under the key ``<lang>/<sum>``. Summed, an array gives what the task
logged; resampled, the report's intervals.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.writes import write_atomic

Counts = dict[str, np.ndarray]  # sum name -> one count per example


def counts_path(results: Path) -> Path:
    """Where the per-example counts of the results JSON ``results`` are kept."""
    return Path(results).with_suffix(".examples.npz")


def columns(examples: Sequence[Mapping[str, float]]) -> dict[str, list[float]]:
    """Per-example counts (a dict per example) as one list per sum."""
    return {name: [e[name] for e in examples] for name in (examples[0] if examples else ())}


def write_counts(path: Path, by_language: Mapping[str, Mapping[str, Sequence[float]]]) -> None:
    """Write each language's counts (sum name -> one value per example) atomically."""
    arrays = {
        f"{lang}/{name}": np.asarray(values, dtype=np.float64)
        for lang, counts in by_language.items()
        for name, values in counts.items()
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def read_counts(path: Path) -> dict[str, Counts]:
    """Language -> its per-example counts, from a file :func:`write_counts` made."""
    try:
        if not zipfile.is_zipfile(path):
            raise ValueError("not an .npz archive")
        found = np.load(path, allow_pickle=False)
        with found:
            arrays = {key: found[key] for key in found.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise StiltsError(f"{path}: not a readable per-example counts file ({err})") from None
    by_language: dict[str, Counts] = {}
    for key, values in arrays.items():
        lang, _, name = key.partition("/")
        numeric = np.issubdtype(values.dtype, np.number) and values.dtype != np.complex128
        if not name or values.ndim != 1 or not numeric or not np.isfinite(values).all():
            raise StiltsError(f"{path}: entry {key!r} is not a <lang>/<sum> array of counts")
        by_language.setdefault(lang, {})[name] = values
    for lang, counts in by_language.items():
        if len({len(v) for v in counts.values()}) != 1:
            raise StiltsError(f"{path}: the counts of {lang!r} differ in length")
    return by_language
