from django.contrib import admin
from django.urls import path

from dashboard import views, views_impact

app_name = "dashboard"

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard_view), name="index"),
    path("export/<slug:table>.csv", admin.site.admin_view(views.export_view), name="export"),
    path("churn-review/", admin.site.admin_view(views.churn_review_view), name="churn-review"),
    path("churn-review/<slug:table>.csv", admin.site.admin_view(views.churn_review_export_view), name="churn-review-export"),
    path("did-it-work/", admin.site.admin_view(views_impact.did_it_work_view), name="did-it-work"),
    path("did-it-work.csv", admin.site.admin_view(views_impact.did_it_work_export_view), name="did-it-work-export"),
]
