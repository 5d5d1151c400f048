"""Small helpers used by several services."""
import hashlib
import secrets

# 24 random bytes = 192 bits, URL-safe base64 without padding (32 characters).
TOKEN_BYTES = 24


def generate_token():
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token):
    """The only form of a token that is ever stored: its sha256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mask_token(token):
    """A token as it may appear in a log: a prefix of its hash, which finds the
    database row but tells nothing about the token itself."""
    if not token:
        return "<none>"
    return "sha256:" + hash_token(token)[:12]
