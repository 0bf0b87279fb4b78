"""Security and abuse controls: API keys, tenants, bearer tokens, client addresses, rate limits, headers.

One concern per module (``keys``, ``tenants``, ``jwt_tokens``, ``client_ip``, ``rate_limit``, ``headers``,
``origins``), tied together by ``guard``; :mod:`praisonai_svc.api.auth` wires the guard into the routes.
SECURITY.md (repository root) documents the model for operators. Nothing is imported here, so that the
settings validators can use the small pure modules without loading the web stack.
"""
