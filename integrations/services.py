import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.models import ApiKey, IdempotencyRecord

SCOPE_PATTERN = re.compile(r"\*|[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*")
# One DELETE of this many rows takes well under a second on PostgreSQL; the task re-enqueues itself.
PURGE_BATCH_SIZE = 5000


def idempotency_retention() -> timedelta:
    return timedelta(hours=getattr(settings, "IDEMPOTENCY_RETENTION_HOURS", 48))


def api_key_create(*, name: str, scopes: list[str], owner=None) -> tuple[ApiKey, str]:
    """Creates a key and returns it with the plain key, which is never stored and never shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A key needs a name saying which client uses it."})
    cleaned = sorted({scope.strip() for scope in scopes if scope and scope.strip()})
    if not cleaned:
        raise ValidationError({"scopes": "Give at least one scope, e.g. storefront:write (or * for all)."})
    bad = [scope for scope in cleaned if not SCOPE_PATTERN.fullmatch(scope)]
    if bad:
        raise ValidationError({"scopes": f"Not a scope: {', '.join(bad)}. Scopes look like area:action, or *."})
    return ApiKey.objects.create_key(name=name, scopes=cleaned, owner=owner)


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)


def idempotency_records_purge(*, now=None, batch_size: int = PURGE_BATCH_SIZE) -> tuple[int, bool]:
    """Deletes one batch of records past retention. Returns (deleted, more_remain)."""
    cutoff = (now or timezone.now()) - idempotency_retention()
    ids = list(IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:batch_size])
    if not ids:
        return 0, False
    deleted, _ = IdempotencyRecord.objects.filter(id__in=ids).delete()
    return deleted, len(ids) == batch_size
