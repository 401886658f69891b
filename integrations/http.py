"""The one HTTP client every provider connector uses: timeouts, retries with backoff, and
Retry-After honoured on 429, so a flaky or rate-limiting provider is retried and then reported
as failed with its last error, never silently skipped."""

import time
from collections.abc import Callable

import httpx
from django.conf import settings

# A provider that has not answered in this long is treated as down for this attempt.
TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


class ProviderError(Exception):
    """The provider could not be reached or kept failing; ``status`` is its last HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers["Retry-After"]), MAX_RETRY_AFTER)
    except (KeyError, ValueError):
        return None


class ProviderClient:
    """``client.get_json(url, params=...)`` with up to ``attempts`` tries.

    Backoff doubles from ``PROVIDER_BACKOFF_SECONDS`` (a setting, so tests can make it zero);
    a 429's Retry-After wins when present. Other 4xx answers are not retried: they will not change.
    """

    def __init__(self, *, base_url: str, headers: dict[str, str], attempts: int | None = None,
                 sleep: Callable[[float], None] | None = None):
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT, follow_redirects=False)
        self.attempts = attempts or getattr(settings, "PROVIDER_HTTP_ATTEMPTS", 4)
        self.backoff = float(getattr(settings, "PROVIDER_BACKOFF_SECONDS", 1.0))
        self.sleep = sleep or time.sleep
        self.requests_made = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.http.close()

    def get_json(self, url: str, *, params: dict | None = None):
        last_error = ""
        status = None
        for attempt in range(1, self.attempts + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                self.requests_made += 1
                response = self.http.get(url, params=params)
            except httpx.HTTPError as exc:
                last_error, status = f"{type(exc).__name__}: {exc}", None
            else:
                status = response.status_code
                if status < 400:
                    try:
                        return response.json()
                    except ValueError:
                        # Garbage from a provider under strain is usually transient, like a 5xx.
                        last_error = f"GET {url} answered {status} with a body that is not JSON: {response.text[:80]!r}"
                else:
                    last_error = f"GET {url} answered {status}: {response.text[:200]}"
                    if status not in RETRIED_STATUSES:
                        raise ProviderError(last_error, status=status)
                    if status == 429 and _retry_after(response) is not None:
                        wait = _retry_after(response)
            if attempt < self.attempts:
                self.sleep(wait)
        raise ProviderError(f"{last_error} (after {self.attempts} attempts)", status=status)
