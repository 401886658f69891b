import os
import subprocess
import sys
from pathlib import Path

import dj_database_url
import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool

ROOT = Path(__file__).resolve().parents[2]


def _run_manage(*args, env_overrides, unset=()):
    hidden = {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", *unset}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x7$kq!2pLm#9vR@wZ4tY6uB8nC0eD3fG5hJ1kL^mN&pQ*rS(tU)vW_xY+zA",
    "ALLOWED_HOSTS": "kiln.example.com",
    "DATABASE_URL": "sqlite:////tmp/kiln-deploy-check.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
}


@pytest.mark.parametrize("variable", ["DATABASE_URL", "CELERY_BROKER_URL"])
def test_production_settings_refuse_to_start_without_a_database_or_a_broker(variable):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != variable}
    result = _run_manage("check", env_overrides=env, unset=[variable])
    assert result.returncode != 0
    assert f"The environment variable {variable} is required." in result.stderr


@pytest.mark.parametrize("entry_point", ["config.wsgi", "config.asgi", "config.celery"])
def test_served_processes_default_to_production_settings_and_refuse_to_start_unconfigured(entry_point):
    hidden = {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    code = f"import {entry_point}; from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "The environment variable DATABASE_URL is required." in result.stderr


def test_manage_py_stays_on_the_development_settings():
    result = _run_manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env_overrides={})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("True")


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = _run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_env_bool_rejects_values_it_does_not_understand(monkeypatch):
    monkeypatch.setenv("KILN_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="KILN_FLAG must be true or false"):
        env_bool("KILN_FLAG")
    monkeypatch.setenv("KILN_FLAG", "yes")
    assert env_bool("KILN_FLAG") is True


def test_postgres_database_url_selects_the_postgresql_backend():
    parsed = dj_database_url.parse("postgres://kiln:pw@db.internal:5432/kiln")
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert parsed["NAME"] == "kiln"
    assert parsed["HOST"] == "db.internal"


@pytest.mark.parametrize(
    "task,queue",
    [
        ("core.pipeline.chunk", "recompute"),
        ("scoring.train_seller_score", "recompute"),
        ("scoring.rescore_seller", "ingest"),
        ("loyalty.order_points_sync", "ingest"),
        ("loyalty.recompute_tiers", "recompute"),
        ("core.outbox.deliver", "notify"),
        ("core.outbox.deliver_batch", "notify"),
        ("core.outbox.sweep", "notify"),
        ("core.pipeline.level_done", "default"),
    ],
)
def test_tasks_are_routed_to_their_named_queue(task, queue):
    from config.celery import app

    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_worker_reliability_settings_are_explicit():
    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0
