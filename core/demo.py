"""Builds the demo marketplace: data, derived scores and queues, and one login per role."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from core import roles

DEMO_USERS = (
    ("cs", "Casey", "Success", roles.CUSTOMER_SUCCESS),
    ("support", "Sam", "Support", roles.SELLER_SUPPORT),
    ("admin", "Alex", "Admin", roles.MARKETPLACE_ADMIN),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


@transaction.atomic
def demo_users_create(*, password: str | None = None) -> list[DemoLogin]:
    """Create (or reset) one staff user per role. Passwords are fresh each run unless given."""
    User = get_user_model()
    logins = []
    for username, first, last, role in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
        user.email = f"{username}@kiln.demo"
        user.is_staff = True
        user.is_superuser = False
        chosen = password or secrets.token_urlsafe(9)
        user.set_password(chosen)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        logins.append(DemoLogin(username=username, password=chosen, role=role))
    return logins


def demo_models_train(*, seed: int) -> list[str]:
    """Train the models the nightly run scores with; each is activated only if it passes validation."""
    from buyers.churn import churn_model_train
    from scoring.training import seller_score_train

    trained = []
    seller = seller_score_train(seed=seed, activate=True)
    trained.append(f"seller score: {seller}")
    churn = churn_model_train(seed=seed, activate=True)
    trained.append(f"buyer churn: {churn}")
    return trained
