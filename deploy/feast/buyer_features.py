"""Feast definitions: the shop and buyer entities, the features history, the feature view.

``feast apply`` in this folder registers them. The FileSource reads
``$SHOPSTREAM_FEAST_DATA/features/history`` (the Parquet sink's --out folder; a relative
path counts from this folder). The objects themselves are built by
:mod:`shopstream.processors.features.feast_repo`, from the features schema.
"""

from __future__ import annotations

import os

from shopstream.processors.features.feast_repo import buyer_feature_objects, history_path

shop, buyer, buyer_features_history, buyer_features = buyer_feature_objects(
    history_path(os.environ)
)
