"""Deployment helpers: the local Kafka launcher and manifests."""

__all__: list[str] = []
