"""Defaults that data migrations seed (alert thresholds, onboarding bands) must survive a flush.

``manage.py flush`` and transactional tests empty every table but do not re-run data
migrations; they do send post_migrate, so the same seed function runs again then, but only
into an empty table: a default an admin deleted on purpose is not brought back by a deploy.
"""

from importlib import import_module

from django.db.models.signals import post_migrate


def reseed_when_empty(*, app_config, model: str, migration: str, function: str, later: tuple[str, ...] = ()) -> None:
    """``later``: further migrations whose function of the same name seeds more defaults of the model."""

    def handler(sender, using="default", **kwargs):
        from django.apps import apps

        if apps.get_model(model).objects.using(using).exists():
            return
        for name in (migration, *later):
            getattr(import_module(name), function)(apps, None)

    post_migrate.connect(handler, sender=app_config, weak=False, dispatch_uid=f"kiln-reseed:{model}")
