"""Password hashing with argon2id at OWASP / ASVS 5.0 strength (parameters from config)."""
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# ASVS 5.0 V11.4.2 points at OWASP's password storage guidance: argon2id with at
# least 19 MiB of memory, 2 iterations and 1 degree of parallelism.
ASVS_MIN_MEMORY_KIB = 19 * 1024
ASVS_MIN_TIME_COST = 2
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


def hasher():
    """The configured argon2id hasher."""
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_KIB"],
        parallelism=cfg["ARGON2_PARALLELISM"],
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def hash_password(password):
    """Hash a password for storage."""
    return hasher().hash(password)


def verify_password(stored_hash, password):
    """True when ``password`` matches ``stored_hash``."""
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash):
    """True when the stored hash was made with weaker parameters than configured."""
    try:
        return hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# A hash of a random string, verified against when the e-mail is unknown, so an
# attacker cannot tell unknown e-mails from wrong passwords by timing.
_DUMMY = {}


def dummy_verify(password):
    """Spend the same time as a real verification."""
    key = (current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("dummy-password-for-timing")
    verify_password(_DUMMY[key], password)
