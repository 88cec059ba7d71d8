"""Read a local Hugging Face dataset (a ``save_to_disk`` folder or parquet files); no hub access."""

from __future__ import annotations

import json
from pathlib import Path

from fairseq_stilts.data.readers import Example, as_text
from fairseq_stilts.errors import DataError

# Column names used by the Hub's copies of GLUE, SNLI, ANLI, XNLI and PAWS-X.
COLUMN_CANDIDATES = {
    "sentence1": ("sentence1", "premise", "question1"),
    "sentence2": ("sentence2", "hypothesis", "question2"),
    "sentence": ("sentence",),
}
SPLIT_NAMES = {"train": "train", "validation": "dev", "dev": "dev", "test": "test"}
UNLABELLED = "-1"  # the Hub's datasets mark examples without a gold label with -1


def read_hf_local(path: Path, fields: tuple[str, ...]) -> dict[str, list[Example]]:
    """Examples of each split ("train", "dev", "test") of a local dataset folder."""
    if not path.exists():
        raise DataError(path, "local Hugging Face dataset not found")
    splits = _load_splits(path)
    if not splits:
        raise DataError(path, f"no split named any of {sorted(SPLIT_NAMES)}")
    out = {}
    for split, (rows, names, label_names) in splits.items():
        columns = {}
        for field in fields:
            found = [c for c in COLUMN_CANDIDATES.get(field, (field,)) if c in names]
            if not found:
                raise DataError(
                    path, f"split {split!r} has no column for field {field!r}; columns: {names}"
                )
            columns[field] = found[0]
        if "label" not in names:
            raise DataError(path, f"split {split!r} has no 'label' column; columns: {names}")
        examples = []
        for number, row in enumerate(rows, start=1):
            label = row["label"]
            if label_names is not None and isinstance(label, int) and label >= 0:
                label = label_names[label]
            examples.append(
                Example(
                    tuple(as_text(row[columns[f]]) for f in fields),
                    str(label),
                    f"{path}[{split}]",
                    number,
                )
            )
        out[SPLIT_NAMES[split]] = examples
    return out


def _load_splits(path: Path) -> dict:
    parquet = sorted(path.glob("*.parquet"))
    if parquet:
        import pyarrow.parquet as pq

        out = {}
        for name in SPLIT_NAMES:
            files = [f for f in parquet if f.name.split("-")[0].split(".")[0] == name]
            if files:
                rows = [r for f in files for r in pq.read_table(f).to_pylist()]
                out[name] = (rows, list(rows[0]) if rows else [], _parquet_label_names(files[0]))
        return out
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as err:
        raise DataError(path, f"not a save_to_disk folder nor parquet files ({err})") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = {"train": loaded}
    out = {}
    for name, ds in loaded.items():
        if name in SPLIT_NAMES:
            feature = ds.features.get("label")
            label_names = getattr(feature, "names", None)
            out[name] = (ds.to_list(), list(ds.column_names), label_names)
    return out


def _parquet_label_names(path: Path) -> list[str] | None:
    """ClassLabel names that `datasets` keeps in a parquet file's schema metadata."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    if b"huggingface" not in metadata:
        return None
    features = json.loads(metadata[b"huggingface"]).get("info", {}).get("features", {})
    return features.get("label", {}).get("names")
