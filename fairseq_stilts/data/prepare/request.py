"""What stilts-prepare is asked to do, as one record a family's ``prepare`` receives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.data.prepare.train_languages import TrainLanguages
from fairseq_stilts.registry import TaskSpec

ENGLISH = TrainLanguages()  # zero-shot transfer trains on English only


@dataclass(frozen=True)
class QAOptions:
    """How span QA cuts contexts into windows and treats misplaced training answers."""

    doc_stride: int = 128
    max_query_length: int = 64
    skip_mismatched_answers: bool = False


@dataclass(frozen=True)
class PrepareRequest:
    """One task's raw data (a folder, or local Hugging Face datasets per language) to be made
    into the data folder ``out`` with the pretrained model folder ``model_dir``.

    ``languages`` keeps only those dev/test languages (masked-LM: text files); ``train`` chooses
    the training languages and files; ``max_seq_length`` (0: the task's) is the longest row of
    families that cut examples at preparation time (tagging, span QA); ``quiet`` turns off
    the progress bars (they show only on a terminal anyway).
    """

    spec: TaskSpec
    out: Path
    model_dir: Path
    raw: Path | None = None
    hf: dict[str, Path] | None = None
    languages: list[str] | None = None
    workers: int = 2
    max_seq_length: int = 0
    qa: QAOptions = QAOptions()
    train: TrainLanguages = ENGLISH
    quiet: bool = False  # no progress bars

    @property
    def wanted_languages(self) -> set[str] | None:
        """The dev/test languages to read (English always, to select on), None for all."""
        return set(self.languages) | {"en"} if self.languages else None
