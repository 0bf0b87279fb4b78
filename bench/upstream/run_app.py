"""Run upstream praisonai-svc 1.2.0 the way its README says (``python app.py`` → ``app.run(host, port)``).

One process: the worker runs in a daemon thread, uvicorn serves the API in the main thread. Usage:
``python run_app.py PORT`` (the bench passes a free port; upstream hard-codes 8080 in its template).
"""

import sys

from handlers import app

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
