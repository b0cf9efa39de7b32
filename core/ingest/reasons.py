"""Why a value was rejected: reason codes with their values, put into words in a language.

A rejection is stored as a code and its values (JSON) beside the English words, so it can be
shown in the reader's language; the words live in the ingest catalog (``ingest.reason.<code>``).
The ``column`` value is the file's own header, the words the user wrote.
"""

import json

from core import i18n

EMPTY = "empty"
NOT_NUMBER = "not_number"
NOT_INTEGER = "not_integer"
NOT_DATE = "not_date"
NOT_BOOLEAN = "not_boolean"
TOO_LONG = "too_long"
UNKNOWN_CUSTOMER = "unknown_customer"
UNRESOLVED = "unresolved"
AMBIGUOUS = "ambiguous"
OUT_OF_SCOPE = "out_of_scope"
BAD_PERIOD = "bad_period"
DUPLICATE = "duplicate"
# The duplicates of a file counted together, without the row each repeats.
DUPLICATES = "duplicates"
MALFORMED = "malformed"

# The intervals readings come in, with a name in the ingest catalog.
INTERVAL_MINUTES = (15, 30, 60, 1440)


def values_json(column: str | None, **values: object) -> str:
    """A reason's values as the JSON stored with it, keys sorted so equal reasons store alike.

    Args:
        column: the file header the reason is about; None for a whole row.
        **values: the reason's other values (limits, the row repeated, ...).

    Returns:
        A JSON object of texts.
    """
    named = {"column": column} if column is not None else {}
    named.update({name: str(value) for name, value in values.items()})
    return json.dumps(named, ensure_ascii=False, sort_keys=True)


def text(code: str, values: str | None, language: str = "en") -> str:
    """The words of a rejection reason in a language.

    Args:
        code: the reason's code (``negative``, ``unknown_customer``, ...).
        values: its values as stored (JSON), or None.
        language: ``en`` or ``zh``.

    Returns:
        The reason as a sentence for the reader.
    """
    filled = json.loads(values) if values else {}
    return i18n.translate(f"ingest.reason.{code}", language, **filled)


def interval_name(minutes: int, language: str = "en") -> str:
    """A reading interval in words (``hourly``, ``15-minute``)."""
    if minutes in INTERVAL_MINUTES:
        return i18n.translate(f"ingest.interval.minutes_{minutes}", language)
    return i18n.translate("ingest.interval.other", language, minutes=minutes)
