"""Built-in document plugins (pypdf; ``pip install 'praisonai-svc[plugins]'``)."""

from praisonai_svc.plugins.document.pdf_to_text import PdfToTextInput, PdfToTextPlugin

__all__ = ["PdfToTextInput", "PdfToTextPlugin"]
