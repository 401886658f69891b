from django.urls import path

from feedback import apis

urlpatterns = [
    path("responses/", apis.ResponseCreateApi.as_view(), name="feedback-response-create"),
    path("responses/bulk/", apis.ResponseBulkApi.as_view(), name="feedback-response-bulk"),
    path("uploads/", apis.UploadApi.as_view(), name="feedback-upload"),
    path("webhooks/<slug:slug>/", apis.WebhookApi.as_view(), name="feedback-webhook"),
    path("reports/nps/", apis.NpsReportApi.as_view(), name="feedback-nps-report"),
]
