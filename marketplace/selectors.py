"""Reads for the storefront sync API: resolving the storefront's external IDs to Kiln rows."""

from collections.abc import Iterable

from buyers.models import Buyer
from marketplace.models import Order
from sellers.models import Listing, Seller


class ExternalRefs:
    """External ID → row, prefetched for a whole bulk request (one query per model) and falling
    back to single lookups for anything not prefetched. Misses are cached too."""

    MODELS = {"seller": Seller, "buyer": Buyer, "listing": Listing, "order": Order}

    def __init__(self):
        self._rows: dict[str, dict[str, object | None]] = {name: {} for name in self.MODELS}

    def prefetch(self, name: str, external_ids: Iterable[str]) -> None:
        wanted = {e for e in external_ids if isinstance(e, str) and e} - self._rows[name].keys()
        if not wanted:
            return
        model = self.MODELS[name]
        found = {row.external_id: row for row in model.objects.filter(external_id__in=wanted)}
        for external_id in wanted:
            self._rows[name][external_id] = found.get(external_id)

    def get(self, name: str, external_id: str):
        cache = self._rows[name]
        if external_id not in cache:
            cache[external_id] = self.MODELS[name].objects.filter(external_id=external_id).first()
        return cache[external_id]

    def remember(self, name: str, row) -> None:
        self._rows[name][row.external_id] = row

    def forget(self, name: str, external_id: str) -> None:
        self._rows[name].pop(external_id, None)


def external_refs_for_items(*, items: list[dict], fields: dict[str, str]) -> ExternalRefs:
    """Prefetches every external ID the items mention. ``fields`` maps item key → ref name;
    ``"lines.listing"`` reaches into order lines."""
    refs = ExternalRefs()
    for key, name in fields.items():
        if key == "lines.listing":
            ids = (
                line.get("listing")
                for item in items
                if isinstance(item.get("lines"), list)
                for line in item["lines"]
                if isinstance(line, dict)
            )
        else:
            ids = (item.get(key) for item in items)
        refs.prefetch(name, ids)
    return refs
