"""How Django itself shows dates and times on Kiln's pages: as core.formatting writes them.

Django prefers a locale's formats to the DATE_FORMAT settings, so Kiln's own formats sit in a
format module (FORMAT_MODULE_PATH) that Django reads before its "en" locale. Input formats are
not set here: Django's "en" ones (ISO first) still parse what staff and the date widgets type.
"""

from core.formatting import DAY_AND_TIME_FORMAT, DAY_FORMAT, TIME_OF_DAY_FORMAT

DATE_FORMAT = DAY_FORMAT  # "3 Dec 2026"
SHORT_DATE_FORMAT = DAY_FORMAT
DATETIME_FORMAT = DAY_AND_TIME_FORMAT  # "3 Dec 2026 14:07"
SHORT_DATETIME_FORMAT = DAY_AND_TIME_FORMAT
TIME_FORMAT = TIME_OF_DAY_FORMAT  # "14:07"
