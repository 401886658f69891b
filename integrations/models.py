"""API keys, idempotency records and pending reactions shared by every ingestion API."""

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

# Scopes that "*" does not imply: they let a machine act with an administrator's role, so a key
# gets them only by naming them.
EXPLICIT_ONLY_SCOPES = frozenset({"loyalty:admin"})


class ApiKey(AbstractAPIKey):
    """A machine client's key. Only its hash is stored; the key itself is shown once."""

    scopes = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            'Scopes this key may use, e.g. ["storefront:write", "feedback:write"]. "*" allows every scope '
            'except loyalty:admin, which must be named.'
        ),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="api_keys"
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def has_scopes(self, required) -> bool:
        granted = set(self.scopes or [])
        wildcard = "*" in granted
        return all(scope in granted or (wildcard and scope not in EXPLICIT_ONLY_SCOPES) for scope in required)


class IdempotencyRecord(models.Model):
    """The stored answer to a request sent with an ``Idempotency-Key`` header, per API key."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and raw body.")
    status_code = models.PositiveSmallIntegerField()
    # ASCII-escaped JSON text: a body that echoes a NUL or a lone surrogate from the input still
    # stores (PostgreSQL's jsonb refuses \u0000).
    response_json = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_unique_key_per_api_key"),
        ]

    def __str__(self):
        return f"{self.key} → {self.status_code}"

    @property
    def response_body(self):
        return json.loads(self.response_json) if self.response_json else None


class PendingReaction(models.Model):
    """One queued follow-up task per (task, subject); a burst on the same subject collapses into this row.

    The row is inserted after commit when nothing is pending yet, and deleted (claimed) by the
    worker right before it runs the task, so an event committed after the claim queues a new run.
    """

    task_path = models.CharField(max_length=200)
    subject_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task_path", "subject_id"], name="pending_reaction_unique_subject"),
            models.CheckConstraint(condition=~Q(task_path=""), name="pending_reaction_has_task"),
        ]

    def __str__(self):
        return f"{self.task_path}({self.subject_id})"
