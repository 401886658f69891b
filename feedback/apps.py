from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Feedback"

    def ready(self):
        from core import roles

        operational = {
            "feedback.response": roles.WORK,
            "feedback.answer": roles.VIEW,
            "feedback.responsetheme": roles.CONFIGURE,
            "feedback.survey": roles.VIEW,
            "feedback.question": roles.VIEW,
            "feedback.theme": roles.VIEW,
            "feedback.themeclassifier": roles.VIEW,
            "feedback.surveyinvitation": roles.VIEW,
        }
        roles.extend_role_permissions(roles.CUSTOMER_SUCCESS, operational)
        roles.extend_role_permissions(roles.SELLER_SUPPORT, {k: roles.VIEW for k in operational})
        # Surveys, sources (with their secrets), question maps and themes are policy: admins only.
        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            {
                **operational,
                "feedback.survey": roles.CONFIGURE,
                "feedback.question": roles.CONFIGURE,
                "feedback.feedbacksource": roles.CONFIGURE,
                "feedback.externalquestion": roles.CONFIGURE,
                "feedback.theme": roles.CONFIGURE,
                "feedback.themeclassifier": roles.WORK,
            },
        )
