"""Password rules and argon2id hashing."""

import re

import argon2

from core.access.roles import AccessError

# Eight characters mixing letters and digits: the floor common enterprise password policies set,
# short enough that people do not write it down at the counter.
MIN_PASSWORD_LENGTH = 8
# Long pass phrases are welcome; past this a password is a paste gone wrong (or an attempt to
# make hashing cost the server).
MAX_PASSWORD_LENGTH = 128


_hasher = argon2.PasswordHasher()
# Verified against when the user name is unknown, so a wrong name takes as long as a wrong
# password and response times do not reveal which accounts exist.
_UNKNOWN_USER_HASH = _hasher.hash("no such account")


def check_password_rules(password: str) -> None:
    """Checks a new password against the house rules.

    Raises:
        AccessError: the password is too short or lacks letters or digits.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError("access.password_too_short", length=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccessError("access.password_too_long", length=MAX_PASSWORD_LENGTH)
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise AccessError("access.password_letters_digits")


def hash_password(password: str) -> str:
    """The argon2id hash of a password, salted, in the encoded form the store keeps."""
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from."""
    try:
        return _hasher.verify(password_hash or _UNKNOWN_USER_HASH, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)
