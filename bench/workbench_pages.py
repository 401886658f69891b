"""Time and count the queries of the pages each role uses, against a built demo database.

    DATABASE_URL=sqlite:///var/kiln.sqlite3 .venv/bin/python bench/workbench_pages.py

Prints one line per page: role, status, milliseconds (median of three loads), queries.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from buyers.models import Buyer  # noqa: E402
from casework.models import Case, CaseKind  # noqa: E402
from sellers.models import Seller  # noqa: E402


def pages():
    churn = Case.objects.filter(kind=CaseKind.BUYER_CHURN_RISK).first() or Case.objects.filter(buyer__isnull=False).first()
    workshop = Case.objects.filter(kind=CaseKind.WORKSHOP_ASSIGNMENT).first()
    buyer = churn.buyer if churn else Buyer.objects.first()
    seller = Seller.objects.order_by("pk").first()
    common = ["/admin/", "/admin/casework/case/", "/admin/casework/case/?queue=active", "/admin/search/?q=studio"]
    yield "cs", [*common, f"/admin/casework/case/{churn.pk}/change/" if churn else None,
                 f"/admin/buyers/buyer/{buyer.pk}/360/", "/admin/buyers/buyer/", "/admin/sellers/onboardingqueuecase/"]
    yield "support", [*common, "/admin/sellers/onboardingqueuecase/", "/admin/sellers/inventoryauditcase/",
                      f"/admin/sellers/onboardingqueuecase/{workshop.pk}/change/" if workshop else None,
                      "/admin/sellers/workshopsession/", "/admin/sellers/workshopassignment/",
                      "/admin/sellers/workshopassignment/add/", f"/admin/sellers/seller/{seller.pk}/360/"]
    yield "admin", [*common, "/admin/dashboard/", "/admin/loyalty/tier/", "/admin/loyalty/badge/",
                    "/admin/buyers/interventionassignment/", "/admin/feedback/responsetheme/", f"/admin/sellers/seller/{seller.pk}/change/"]


def main():
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False
    worst = 0.0
    for username, urls in pages():
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        for url in filter(None, urls):
            client.get(url)  # warm caches and templates
            timings = []
            for _ in range(3):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(url)
                    timings.append((time.perf_counter() - started) * 1000)
            ms = statistics.median(timings)
            worst = max(worst, ms)
            print(f"{username:<8} {response.status_code} {ms:7.1f} ms {len(queries.captured_queries):4d} queries  {url}")
    print(f"slowest page: {worst:.1f} ms")


if __name__ == "__main__":
    main()
