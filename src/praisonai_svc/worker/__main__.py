"""``python -m praisonai_svc.worker [TARGET]``: the same as ``praisonai-svc worker [TARGET]``."""

import sys

from praisonai_svc.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["worker", *sys.argv[1:]]))
