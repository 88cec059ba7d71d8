"""One row of the results store: its fields, and the check every row passes before it is
written or after it is read."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from fairseq_stilts.errors import StiltsError


@dataclass(frozen=True)
class Row:
    """One metric value of one language, from one evaluation of one grid run."""

    run: str
    setting: str  # intermediate setting: "none", "mnli", "mnli-multilingual", "multitask", ...
    intermediate_languages: tuple[str, ...]
    target: str
    language: str
    split: str
    metric: str
    value: float
    seed: int
    checkpoint: str
    data_manifest_sha256: str | None  # None where nothing was prepared (retrieval reads raw files)


FIELDS = tuple(f.name for f in fields(Row))
_TEXT = ("run", "setting", "target", "language", "split", "metric", "checkpoint")


def to_row(data: Row | Mapping[str, Any]) -> Row:
    """Check one row's fields and return it as a Row; a StiltsError names the bad field."""
    if isinstance(data, Row):
        data = asdict(data)
    if not isinstance(data, Mapping):
        raise StiltsError(f"a results row must be a JSON object, not {type(data).__name__}")
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise StiltsError(f"results row lacks field(s) {', '.join(missing)}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise StiltsError(
            f"results row has unknown field(s) {', '.join(unknown)}; valid: {', '.join(FIELDS)}"
        )
    for name in _TEXT:
        if not isinstance(data[name], str) or not data[name]:
            raise StiltsError(
                f"results row field {name!r} must be a non-empty string, got {data[name]!r}"
            )
    languages = data["intermediate_languages"]
    if not isinstance(languages, list | tuple) or not all(
        isinstance(x, str) and x for x in languages
    ):
        raise StiltsError(
            f"results row field 'intermediate_languages' must be a list of language codes, got {languages!r}"
        )
    value = data["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StiltsError(f"results row field 'value' must be a finite number, got {value!r}")
    if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
        raise StiltsError(f"results row field 'seed' must be an integer, got {data['seed']!r}")
    sha = data["data_manifest_sha256"]
    if sha is not None and (not isinstance(sha, str) or not sha):
        raise StiltsError(
            f"results row field 'data_manifest_sha256' must be a string or null, got {sha!r}"
        )
    return Row(**{**data, "intermediate_languages": tuple(languages), "value": float(value)})
