"""Tiny multilingual world used by the tests and the demo."""

from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
