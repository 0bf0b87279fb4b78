"""Storage adapters: ``memory`` (tests), ``local`` (SQLite + files, the embedded default), ``azure``."""
