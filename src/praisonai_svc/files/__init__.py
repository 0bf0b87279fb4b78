"""Files: upload, content extraction (PDF, DOCX, XLSX, CSV, TXT), on every backend (docs/files.md).

* :mod:`~praisonai_svc.files.service` — the use cases behind ``/files`` (upload streamed into the blob store);
* :mod:`~praisonai_svc.files.processing` — the ``extract`` built-in job service the worker runs;
* :mod:`~praisonai_svc.files.outbox` — file events kept in the file record until every subscriber handled them;
* :mod:`~praisonai_svc.files.extractors` — one module per format behind one small interface;
* :mod:`~praisonai_svc.files.sandbox` — each extraction in a child process with time and memory limits.
"""

from praisonai_svc.files.models import FileStatus, StoredFile

__all__ = ["FileStatus", "StoredFile"]
