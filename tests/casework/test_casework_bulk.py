import threading

import pytest
from django.db import connection, connections

from buyers.factories import BuyerFactory
from casework import services
from casework.models import Case, CaseEvent, CaseKind, CaseStatus
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def test_cases_open_many_opens_one_case_and_one_history_event_per_new_subject_and_reuses_active_ones():
    a, b, c = BuyerFactory(), BuyerFactory(), BuyerFactory()
    existing, _ = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=a, reason="earlier")

    result = services.cases_open_many(
        kind=CaseKind.BUYER_CHURN_RISK,
        subject="buyer",
        openings=[(a.pk, "again", {}), (b.pk, "at risk", {"p": 0.8}), (c.pk, "at risk too", {})],
    )

    assert result[a.pk] == (existing, False)
    assert [result[x.pk][1] for x in (b, c)] == [True, True]
    opened = Case.objects.get(buyer=b, kind=CaseKind.BUYER_CHURN_RISK)
    assert (opened.status, opened.reason, opened.evidence, opened.team) == (CaseStatus.OPEN, "at risk", {"p": 0.8}, existing.team)
    assert opened.due_at is not None
    assert list(CaseEvent.objects.filter(case=opened).values_list("action", "to_value", "note")) == [("opened", "open", "at risk")]
    assert Case.objects.filter(kind=CaseKind.BUYER_CHURN_RISK).count() == 3
    # Running it again opens nothing.
    again = services.cases_open_many(kind=CaseKind.BUYER_CHURN_RISK, subject="buyer", openings=[(b.pk, "x", {})])
    assert again[b.pk] == (opened, False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a second connection committing concurrently")
def test_cases_open_many_falls_back_to_one_at_a_time_when_a_concurrent_open_wins(monkeypatch):
    seller = SellerFactory()
    real_bulk_create = Case.objects.bulk_create

    def other_process():
        try:
            services.case_open(kind=CaseKind.INVENTORY_AUDIT, seller=seller, reason="the other process")
        finally:
            connections.close_all()

    def racing_bulk_create(cases, **kwargs):
        # Another process opens and commits the same case between our check and our insert.
        thread = threading.Thread(target=other_process)
        thread.start()
        thread.join()
        return real_bulk_create(cases, **kwargs)

    monkeypatch.setattr(Case.objects, "bulk_create", racing_bulk_create)
    result = services.cases_open_many(kind=CaseKind.INVENTORY_AUDIT, subject="seller", openings=[(seller.pk, "ours", {})])

    case, created = result[seller.pk]
    assert (created, case.reason) == (False, "the other process")
    assert Case.objects.filter(kind=CaseKind.INVENTORY_AUDIT, seller=seller).count() == 1


def test_cases_open_many_rejects_an_unknown_subject():
    with pytest.raises(Exception, match="buyer or a seller"):
        services.cases_open_many(kind=CaseKind.BUYER_CHURN_RISK, subject="listing", openings=[])
