"""Global search: one box in the header finds buyers and artisans by name, email or external ID."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse

from buyers.models import Buyer
from sellers.models import Seller

LIMIT = 20


def people_search(*, query: str, limit: int = LIMIT) -> dict:
    """Buyers and artisans whose external ID matches exactly, or whose name or email contains the query."""
    query = query.strip()
    if len(query) < 2:
        return {"buyers": [], "sellers": []}
    match = Q(external_id__iexact=query) | Q(email__icontains=query) | Q(name__icontains=query)
    if query.isdigit():
        match |= Q(pk=int(query))
    return {
        "buyers": list(Buyer.objects.filter(match).order_by("name")[:limit]),
        "sellers": list(Seller.objects.filter(match).order_by("name")[:limit]),
    }


def search_view(request):
    user = request.user
    can_buyers = user.has_perm("buyers.view_buyer")
    can_sellers = user.has_perm("sellers.view_seller")
    if not (can_buyers or can_sellers):
        raise PermissionDenied("Your role does not look up buyers or artisans.")
    query = request.GET.get("q", "")
    found = people_search(query=query)
    context = {
        **admin.site.each_context(request),
        "title": f"Search: {query}" if query else "Search",
        "kiln_query": query,
        "buyers": found["buyers"] if can_buyers else [],
        "sellers": found["sellers"] if can_sellers else [],
        "limit": LIMIT,
    }
    return TemplateResponse(request, "admin/kiln/search_results.html", context)
