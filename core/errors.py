"""The one error type a user reads: a catalog key and its values, translated by the page."""

from core import i18n


class UserError(ValueError):
    """A problem the user can act on, carrying the i18n key of its message.

    Every core module raises this (or a subclass) for input a person gave: a bad file, a form
    value, a refusal. The page shows ``error.text(language)``; the English text is the exception's
    message, so logs and the command line read it too.

    Attributes:
        key: the catalog key of the message (``ingest.unreadable``).
        values: the values named in the message text.
    """

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(i18n.translate(key, "en", **values))

    def text(self, language: str) -> str:
        """The message in ``language``."""
        return i18n.translate(self.key, language, **self.values)
