"""Salted password hashes, as ``crates/model/src/password.rs`` checks them.

Format: ``pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`` (PBKDF2-HMAC-SHA256,
16-byte salt, 32-byte hash), as the seeding tool writes it. The standard
library has everything: ``hashlib.pbkdf2_hmac`` is OpenSSL's PBKDF2 (C code,
so it releases the GIL while it works) and ``hmac.compare_digest`` compares
in constant time, so the time a wrong password takes says nothing about how
many bytes of it were right.

Why the seeded work factor is only 64 rounds is explained in the Rust module:
the scheme is the real one, the cost is turned down so that 100,000 users
can be seeded in seconds.
"""

import os

__all__ = ["DUMMY_HASH", "hash_with_salt", "hash_password", "verify",
           "seeded_password"]

#: Work factor for passwords set at run time (there is no sign-up page yet).
DEFAULT_ITERATIONS = 64

#: A hash to verify against when the user does not exist, so that "no such
#: user" costs the same time as "wrong password" (no user enumeration by
#: timing). The same string as the Rust ``DUMMY_HASH``.
DUMMY_HASH = ("pbkdf2-sha256$64$" + "00" * 16 + "$" + "00" * 32)

_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_U32_MAX = 2**32 - 1


def seeded_password(username: str) -> str:
    """The password of a seeded user: ``user42`` logs in with ``pw-user42``."""
    return f"pw-{username}"


def hash_with_salt(password: str, salt: bytes, iterations: int) -> str:
    """Hashes ``password`` with the given salt and work factor."""
    iterations = max(iterations, 1)
    import hashlib
    out = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations,
                              32)
    return f"pbkdf2-sha256${iterations}${salt.hex()}${out.hex()}"


def hash_password(password: str) -> str:
    """Hashes ``password`` with a fresh random salt."""
    return hash_with_salt(password, os.urandom(16), DEFAULT_ITERATIONS)


def _parse_u32(s: str) -> int | None:
    """Rust's ``str::parse::<u32>``: ASCII digits, an optional ``+``."""
    digits = s[1:] if s.startswith("+") else s
    if not digits or not set(digits) <= _DIGITS:
        return None
    n = int(digits)
    return n if n <= _U32_MAX else None


def _unhex(s: str) -> bytes | None:
    """Hex pairs to bytes, refusing what the Rust ``unhex`` refuses.

    (``u8::from_str_radix`` also takes a ``+`` sign, so ``+f`` is a valid
    pair there; it is here too, so that both accept the same stored hashes.)
    """
    if len(s) % 2:
        return None
    out = bytearray()
    for i in range(0, len(s), 2):
        a, b = s[i], s[i + 1]
        if not ((a in _HEX or a == "+") and b in _HEX):
            return None
        out.append(int(a + b, 16))
    return bytes(out)


def verify(password: str, stored: str) -> bool:
    """Checks ``password`` against a stored hash in constant time.

    A malformed stored hash never matches.
    """
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2-sha256":
        return False
    iters = _parse_u32(parts[1])
    salt, want = _unhex(parts[2]), _unhex(parts[3])
    if iters is None or salt is None or want is None:
        return False
    if iters == 0 or iters > 10_000_000 or len(want) != 32:
        return False
    # Imported here, on first use: loading OpenSSL costs the CGI program
    # milliseconds per request, and only a login needs it.
    import hashlib
    import hmac
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters, 32)
    return hmac.compare_digest(got, want)
