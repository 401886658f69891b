from django.db import models


class Buyer(models.Model):
    external_id = models.CharField(max_length=64, unique=True, help_text="The storefront's stable ID.")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    joined_at = models.DateTimeField()
    # Ground truth written only by the synthetic generator (see docs/generator.md).
    synthetic_cadence_days = models.FloatField(null=True, blank=True, editable=False)
    synthetic_churned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["joined_at"])]

    def __str__(self):
        return f"{self.name} ({self.external_id})"
