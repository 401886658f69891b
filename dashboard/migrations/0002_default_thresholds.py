"""The KPI alert defaults from the domain brief; admins change them afterwards."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    # kpi, condition, value, min_volume, team
    ("cancellation_rate", "above", Decimal("4"), 50, "seller_support"),
    ("return_rate", "above", Decimal("5"), 50, "seller_support"),
    ("time_to_first_sale", "above", Decimal("7"), 5, "seller_support"),
    ("average_order_value", "drops_by", Decimal("10"), 50, "marketplace_admin"),
    ("seller_retention_rate", "drops_by", Decimal("10"), 20, "seller_support"),
    ("repeat_purchase_rate", "drops_by", Decimal("10"), 50, "customer_success"),
    ("onboarding_throughput", "drops_by", Decimal("50"), 0, "seller_support"),
    ("average_onboarding_time", "above", Decimal("14"), 5, "seller_support"),
    ("lifetime_value", "drops_by", Decimal("10"), 50, "customer_success"),
    ("nps", "below", Decimal("0"), 30, "customer_success"),
    ("engagement_rate", "drops_by", Decimal("15"), 50, "customer_success"),
]


def seed(apps, schema_editor):
    AlertThreshold = apps.get_model("dashboard", "AlertThreshold")
    for kpi, condition, value, min_volume, team in DEFAULTS:
        AlertThreshold.objects.get_or_create(
            kpi=kpi, condition=condition, defaults={"value": value, "min_volume": min_volume, "team": team}
        )


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
