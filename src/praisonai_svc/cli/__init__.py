"""The ``praisonai-svc`` command line (click)."""
