"""The app's YAML file (``praisonai.yaml``): a generic substituting loader, and the app's own sections."""

from praisonai_svc.appconfig.document import ConfigDocument, load_document, parse_document, substitute
from praisonai_svc.appconfig.locate import CONFIG_FILE_NAME, find_config_file, load_app_config
from praisonai_svc.appconfig.schema import (
    FOREIGN_SECTIONS,
    AppConfig,
    ServiceOptions,
    did_you_mean,
    resolve_app_config,
)

__all__ = [
    "CONFIG_FILE_NAME", "FOREIGN_SECTIONS", "AppConfig", "ConfigDocument", "ServiceOptions", "did_you_mean",
    "find_config_file", "load_app_config", "load_document", "parse_document", "resolve_app_config", "substitute",
]
