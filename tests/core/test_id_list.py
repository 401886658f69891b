"""core.bulk.id_list: thousands of ids as one query parameter select what an ``__in`` list selects,
on PostgreSQL (an array) and SQLite (a JSON array)."""

import pytest
from buyers.factories import BuyerFactory
from buyers.models import Buyer
from core.bulk import id_list

pytestmark = pytest.mark.django_db


def test_id_list_selects_what_an_in_list_selects():
    buyers = BuyerFactory.create_batch(6)
    wanted = {buyers[0].pk, buyers[2].pk, buyers[5].pk, 10**12}
    ids = sorted(wanted) + [buyers[0].pk]  # unknown ids and repeats are harmless

    got = set(Buyer.objects.filter(pk__in=id_list(ids)).values_list("pk", flat=True))

    assert got == set(Buyer.objects.filter(pk__in=ids).values_list("pk", flat=True)) == wanted - {10**12}
    assert not Buyer.objects.filter(pk__in=id_list([])).exists()
    assert set(Buyer.objects.exclude(pk__in=id_list(ids)).values_list("pk", flat=True)) == {b.pk for b in buyers} - wanted


def test_id_list_is_one_parameter_however_many_ids():
    ids = list(range(1, 5001))
    _, params = Buyer.objects.filter(pk__in=id_list(ids)).query.sql_with_params()
    _, listed = Buyer.objects.filter(pk__in=ids).query.sql_with_params()
    assert len(params) == 1 and len(listed) == len(ids)
