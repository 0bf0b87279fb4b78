"""Multi-file job outputs: what a handler may return, how each file is stored, and the ZIP of them all.

A handler returns one ``(data, content_type, filename)`` tuple (a single-file job, as always), a list of such
tuples, or an :class:`Outputs` it filled as it went. ``data`` is bytes, a path, or a binary file object; paths
and file objects are streamed to storage in chunks, so outputs larger than memory are fine.
"""

from praisonai_svc.outputs.collect import MAX_OUTPUTS, Outputs, PendingOutput, coerce_outputs

__all__ = ["MAX_OUTPUTS", "Outputs", "PendingOutput", "coerce_outputs"]
