"""GitHub App authentication: the app's JWT and installation access tokens.

A JWT must be RS256-signed with the app's private key, name the app in `iss`, and expire
no more than 10 minutes ahead:
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
Installation tokens last an hour:
https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shadowbot.simulator.errors import BadCredentials
from shadowbot.simulator.models import Token
from shadowbot.simulator.state import State

MAX_JWT_LIFETIME = 600
# GitHub tolerates some clock drift; the docs advise backdating `iat` by 60 seconds.
CLOCK_DRIFT = 60
UNDECODABLE = "A JSON web token could not be decoded"


def generate_private_key() -> tuple[rsa.RSAPrivateKey, str]:
    """A new RSA key and its PEM, in the PKCS#1 form GitHub hands out for apps."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key, pem.decode()


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a GitHub App key is an RSA key")
    return key


def credential(header: str | None) -> str:
    """The token of an `Authorization: token X` or `Bearer X` header (any case)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() not in ("token", "bearer") or not value.strip():
        raise BadCredentials("Requires authentication")
    return value.strip()


def verify_app_jwt(token: str, public_key: rsa.RSAPublicKey, app_id: int, now: float) -> None:
    """Raise :class:`BadCredentials` unless `token` is a valid JWT of this app at `now`."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={"require": ["exp", "iat", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as error:
        raise BadCredentials(UNDECODABLE) from error
    if str(claims["iss"]) != str(app_id):
        raise BadCredentials("Integration not found")
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int | float) or exp <= now:
        raise BadCredentials(
            "'Expiration time' claim ('exp') must be a numeric value representing the future"
            " time at which the assertion expires"
        )
    if exp > now + MAX_JWT_LIFETIME + CLOCK_DRIFT:
        raise BadCredentials("'Expiration time' claim ('exp') is too far in the future")
    if not isinstance(iat, int | float) or iat > now + CLOCK_DRIFT:
        raise BadCredentials(
            "'Issued at' claim ('iat') must be an Integer representing the time that the"
            " assertion was issued"
        )


def issue_token(state: State, installation_id: int, ttl: float, now: float) -> Token:
    state.installation(installation_id)
    token = Token(f"ghs_{secrets.token_urlsafe(27)}", installation_id, now + ttl)
    state.tokens[token.value] = token
    return token


def installation_of_token(state: State, value: str, now: float) -> int:
    """The installation a live token belongs to; unknown or expired tokens are refused."""
    token = state.tokens.get(value)
    if token is None or token.expires_at <= now:
        raise BadCredentials()
    return token.installation_id
