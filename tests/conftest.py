import pytest
from rest_framework.test import APIClient

from core import roles
from core.factories import UserFactory


@pytest.fixture
def cs_user(db):
    return UserFactory(username="cs", roles=[roles.CUSTOMER_SUCCESS])


@pytest.fixture
def support_user(db):
    return UserFactory(username="support", roles=[roles.SELLER_SUPPORT])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="marketadmin", roles=[roles.MARKETPLACE_ADMIN])


@pytest.fixture
def cs_client(cs_user):
    client = APIClient()
    client.force_authenticate(cs_user)
    return client


@pytest.fixture
def admin_client(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client
