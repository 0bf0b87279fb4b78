"""``python -m praisonai_svc`` is the CLI."""

import sys

from praisonai_svc.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
