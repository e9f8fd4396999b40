"""Features for model training and sharing, from the Parquet sink's dataset.

- :func:`point_in_time` / :func:`training_set` / :func:`export_training_set`: the
  point-in-time-correct training set with RFM scores and grades
  (``shopstream features export``).
- :func:`build_package`: the shareable data set with dates instead of times and a
  k-anonymity report (``shopstream features package``); :func:`plan_suppression` is its
  pure core.
- :mod:`.feast_repo` (needs the ``feast`` extra): the Feast objects of ``deploy/feast/``.
"""

from __future__ import annotations

from shopstream.processors.features.dataset import ParquetDataset
from shopstream.processors.features.errors import (
    DatasetError,
    ExportError,
    FeaturesError,
    PackageError,
)
from shopstream.processors.features.export import export_training_set, training_set
from shopstream.processors.features.kanon import SuppressionPlan, plan_suppression
from shopstream.processors.features.package import build_package
from shopstream.processors.features.pit import point_in_time

__all__ = [
    "DatasetError",
    "ExportError",
    "FeaturesError",
    "PackageError",
    "ParquetDataset",
    "SuppressionPlan",
    "build_package",
    "export_training_set",
    "plan_suppression",
    "point_in_time",
    "training_set",
]
