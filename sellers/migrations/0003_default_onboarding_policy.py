from django.db import migrations


def create_default_policy(apps, schema_editor):
    OnboardingPolicy = apps.get_model("sellers", "OnboardingPolicy")
    if not OnboardingPolicy.objects.exists():
        # The defaults from the product brief: >= 70 low, 30-69 mid, < 30 high.
        OnboardingPolicy.objects.create(name="Default bands", is_active=True)


class Migration(migrations.Migration):
    dependencies = [("sellers", "0002_onboarding_and_workshops")]

    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]
