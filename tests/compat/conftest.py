"""The compat tests use the Redis fixtures of the adapter tests."""

from adapters.conftest import redis_url

__all__ = ["redis_url"]
