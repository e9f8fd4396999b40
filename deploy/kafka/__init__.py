"""A real local Apache Kafka (KRaft, one combined node) run from Maven Central jars."""
