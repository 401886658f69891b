from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Buyer retention and dormant artisans: the analyses of orders, feedback and loyalty.

    The rows they write are models of ``buyers`` (the master data below every app that reads
    it); this app holds only the code, in the intelligence layer beside ``scoring``.
    """

    name = "retention"

    def ready(self):
        from retention.uplift import model_kind_labels_register, queue_orderer_register_all

        queue_orderer_register_all()
        model_kind_labels_register()
