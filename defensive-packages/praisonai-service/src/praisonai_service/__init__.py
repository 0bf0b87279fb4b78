"""Defensive placeholder: the real package is praisonai-svc (import praisonai_svc)."""

import warnings

warnings.warn("'praisonai-service' is a placeholder; install and import praisonai-svc (praisonai_svc) instead.",
              stacklevel=2)
