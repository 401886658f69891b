"""The pipeline runs in the admin. The run records are core models (their tables predate this
app); the retry action starts the pipeline, which lives here."""

from django.contrib import admin

from core import formatting
from core.models import PipelineRun, PipelineStageRun, RunStatus
from workflows.pipeline import pipeline_retry


class PipelineStageInline(admin.TabularInline):
    model = PipelineStageRun
    extra = 0
    can_delete = False
    fields = ("level", "name", "status", "chunks_total", "rows", "duration", "peak_rss", "error")
    readonly_fields = fields

    @admin.display(description="seconds")
    def duration(self, stage):
        seconds = stage.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f}"

    @admin.display(description="peak RSS MB")
    def peak_rss(self, stage):
        return formatting.decimal(stage.peak_rss_mb, 1)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PipelineRun)
class PipelineRunAdmin(admin.ModelAdmin):
    list_display = ("id", "trigger", "status", "as_of", "started_at", "duration", "chunk_size", "error")
    list_filter = ("status", "trigger")
    inlines = [PipelineStageInline]
    actions = ["retry_failed_runs"]
    readonly_fields = [f.name for f in PipelineRun._meta.fields]

    @admin.display(description="seconds")
    def duration(self, run):
        seconds = run.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f}"

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry failed runs from their failed stage", permissions=["change"])
    def retry_failed_runs(self, request, queryset):
        retried = sum(pipeline_retry(run=run) for run in queryset.filter(status=RunStatus.FAILED))
        self.message_user(request, f"Retrying {retried} run(s); stages that succeeded are kept.")
