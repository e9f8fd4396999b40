"""Errors of the training-set export, the Feast repository and the shareable package."""

from __future__ import annotations

from pathlib import Path

from shopstream.processors.errors import ProcessorError


class FeaturesError(ProcessorError):
    """Root of :mod:`shopstream.processors.features`' errors."""


class DatasetError(FeaturesError):
    """The Parquet dataset is missing, or a file of it cannot be read; names the path."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class ExportError(FeaturesError):
    """A training set cannot be made (bad as-of time, output format, RFM input)."""


class PackageError(FeaturesError):
    """A shareable package cannot be made (output folder taken, k out of range)."""


__all__ = ["DatasetError", "ExportError", "FeaturesError", "PackageError"]
