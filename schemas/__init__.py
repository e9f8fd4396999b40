"""The event contract: Avro schemas with their annotations, the codec, the SDK models."""
