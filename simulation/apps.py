from django.apps import AppConfig


class SimulationConfig(AppConfig):
    """The marketplace simulator. The top layer: it may import any app; no app imports it."""

    name = "simulation"
