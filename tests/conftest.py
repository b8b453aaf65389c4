"""Fixtures shared by the test files."""

from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The small real sample the repository commits (2,000 train, 500 test images)."""
    return SAMPLE_DIR
