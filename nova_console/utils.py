"""Small helpers used by several services."""
import hashlib
import secrets

# 24 random bytes = 192 bits, URL-safe base64 without padding (32 characters).
TOKEN_BYTES = 24


def generate_token():
    """TOKEN_BYTES random bytes, URL-safe base64; never starting with '-', which a
    command line would take for an option (`openstack console connection show
    TOKEN`). Redrawing those (1 in 64) keeps every other token equally likely."""
    while True:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if not token.startswith("-"):
            return token


def hash_token(token):
    """The only form of a token that is ever stored: its sha256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mask_token(token):
    """A token as it may appear in a log: a prefix of its hash, which finds the
    database row but tells nothing about the token itself."""
    if not token:
        return "<none>"
    return "sha256:" + hash_token(token)[:12]
