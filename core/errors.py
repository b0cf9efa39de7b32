"""What a user reads from core: an error or a notice, a catalog key and values a page translates."""

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
        super().__init__(self.text("en"))

    def text(self, language: str) -> str:
        """The message in ``language``."""
        return i18n.translate(self.key, language, **told(self.values, language))


def told(values: dict, language: str) -> dict:
    """Values as they read in ``language``: a message within a message is told in it too."""
    return {
        name: value.text(language) if isinstance(value, UserError | Notice) else value
        for name, value in values.items()
    }


class Notice:
    """Something a user should know that is not an error: data left out, gaps filled.

    Results carry their notices; the page shows ``notice.text(language)``, the command line the
    English text (``str(notice)``).

    Attributes:
        key: the catalog key of the text.
        values: the values named in the text.
    """

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values

    def text(self, language: str) -> str:
        """The notice in ``language``."""
        return i18n.translate(self.key, language, **told(self.values, language))

    def __str__(self) -> str:
        return self.text("en")

    def __repr__(self) -> str:
        return f"Notice({self.key!r}, {self.values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notice) and (self.key, self.values) == (other.key, other.values)

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.values.items()))))
