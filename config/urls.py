from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dashboard.search import search_view
from integrations.errors import api_path_not_found

api_v1 = [
    path("", include("integrations.messaging_api_urls")),
    path("integrations/", include("integrations.api_urls")),
    path("sellers/", include("sellers.api_urls")),
    path("buyers/", include("retention.api_urls")),
    path("marketplace/", include("marketplace.api_urls")),
    path("scoring/", include("scoring.api_urls")),
    path("loyalty/", include("loyalty.api_urls")),
    path("feedback/", include("feedback.api_urls")),
]

admin.site.site_header = "Kiln back-office"
admin.site.site_title = "Kiln"
admin.site.index_title = "Today's work"

urlpatterns = [
    path("", include("core.urls")),
    path("admin/dashboard/", include("dashboard.urls")),
    path("admin/search/", admin.site.admin_view(search_view), name="kiln_search"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Where an integrator starts: routed, so the demo (DEBUG) answers in the API's shape too, not Django's debug page.
    re_path(r"^api/(?:v1/)?$", api_path_not_found),
]

# Paths under /api/ answer unmatched routes and server errors in the shared error shape.
handler404 = "integrations.errors.api_path_not_found"
handler500 = "integrations.errors.api_server_error"
