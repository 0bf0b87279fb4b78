"""``document-pdf-to-text`` (seed 004, phase 2): the text of a PDF from a URL or an upload."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from praisonai_svc.errors import PayloadError, PayloadTooLarge
from praisonai_svc.plugins.base import BasePlugin, Category, PluginConfig, Upload
from praisonai_svc.plugins.document.extract_pdf import extract_text

INLINE_TEXT_LIMIT = 1_000_000  # longer texts are only in the stored file


class PdfToTextConfig(PluginConfig):
    max_pages: int = Field(1000, ge=1, description="Pages read at most.")


class PdfOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_pages: int | None = Field(None, ge=1, description="Read at most this many pages (capped by the config)")


class PdfToTextInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_url: str = Field(min_length=1, max_length=4096, description="http(s) URL of the PDF")
    options: PdfOptions = Field(default_factory=lambda: PdfOptions.model_validate({}))


class PdfToTextPlugin(BasePlugin):
    """Extract the text of a PDF, page by page (pypdf)."""

    name: ClassVar[str] = "document-pdf-to-text"
    display_name: ClassVar[str] = "PDF to text"
    category: ClassVar[Category] = "document"
    description: ClassVar[str] = "The text of a PDF from document_url or an uploaded file, with page markers."
    config_model: ClassVar[type[PluginConfig]] = PdfToTextConfig
    input_model: ClassVar[type[BaseModel] | None] = PdfToTextInput

    def validate_input(self, input: dict[str, Any]) -> tuple[bool, str | None]:
        if isinstance(input.get("file"), Upload):
            input = {k: v for k, v in input.items() if k != "file"} | {"document_url": "upload"}
        if not input.get("document_url"):
            return False, "Missing required parameter: document_url"
        return super().validate_input(input)

    async def process(self, input: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        assert isinstance(config, PdfToTextConfig)
        options = PdfOptions.model_validate(input.get("options") or {})
        data = await self._document(input, config.max_file_size)
        pages = min(options.max_pages or config.max_pages, config.max_pages)
        result = await self.runtime.run_cpu(extract_text, data, pages)
        encoded = result.text.encode("utf-8")
        stored = await self.runtime.store_output(encoded, "text.txt", "text/plain; charset=utf-8")
        return {
            "output_url": stored.url,
            "text": result.text if len(encoded) <= INLINE_TEXT_LIMIT else None,
            "metadata": {"pages": result.pages, "pages_read": result.pages_read, "title": result.title,
                         "author": result.author, "characters": len(result.text), "original_size": len(data)},
        }

    async def _document(self, input: dict[str, Any], limit: int) -> bytes:
        upload = input.get("file")
        if isinstance(upload, Upload):
            if len(upload.data) > limit:
                raise PayloadTooLarge(f"File size exceeds maximum of {limit} bytes")
            return upload.data
        fetched = await self.runtime.download(str(input["document_url"]), max_bytes=limit, what="document")
        if not fetched.data:
            raise PayloadError("The document is empty.")
        return fetched.data
