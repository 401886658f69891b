from django.contrib import admin
from django.template.response import TemplateResponse

from dashboard.did_it_work import did_it_work
from dashboard.views import _csv_download


def _include_open(request) -> bool:
    return request.GET.get("include_open") == "1"


def did_it_work_view(request):
    include_open = _include_open(request)
    context = {
        **admin.site.each_context(request),
        "title": "Did it work?",
        "report": did_it_work(include_open=include_open),
        "include_open": include_open,
        "is_nav_sidebar_enabled": False,
    }
    return TemplateResponse(request, "dashboard/did_it_work.html", context)


def did_it_work_export_view(request):
    report = did_it_work(include_open=_include_open(request))
    return _csv_download(report["table"], filename="kiln-did-it-work.csv")
