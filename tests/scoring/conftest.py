import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Category priors are cached per as_of; each test starts from an empty cache.
    cache.clear()
    yield
    cache.clear()
