"""Sharding: which shard a row lives on (Iceberg buckets)."""
