"""Find the user's ServiceApp: ``path/to/handlers.py``, ``module:attr``, or handlers.py / app.py in the cwd."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from praisonai_svc.app import ServiceApp
from praisonai_svc.errors import HandlerLoadError

DEFAULT_FILES = ("handlers.py", "app.py")
TARGET_ENV = "PRAISONAI_APP"


def resolve_target(target: str | None) -> str:
    """The explicit target, else $PRAISONAI_APP, else handlers.py or app.py in the current directory."""
    target = target or os.environ.get(TARGET_ENV)
    if target:
        return target
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return str(Path(name).resolve())
    raise HandlerLoadError(
        "No service found: pass a file (praisonai-svc run path/to/handlers.py) or module:attr, "
        "or run this in a directory containing handlers.py or app.py."
    )


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise HandlerLoadError(f"{path} does not exist.")
    directory = str(path.parent.resolve())
    if directory not in sys.path:
        sys.path.insert(0, directory)  # so the handler file can import its neighbours
    module_name = f"praisonai_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"{path} is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise HandlerLoadError(f"Importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _find_app(module: ModuleType, attr: str | None, where: str) -> ServiceApp:
    if attr:
        value = getattr(module, attr, None)
        if not isinstance(value, ServiceApp):
            raise HandlerLoadError(f"{where} has no ServiceApp called {attr!r}.")
        return value
    apps = [v for v in vars(module).values() if isinstance(v, ServiceApp)]
    if len(apps) != 1:
        found = "none" if not apps else f"{len(apps)}"
        raise HandlerLoadError(f"{where} must define exactly one ServiceApp (found {found}); name it as "
                               f"{where}:attr.")
    return apps[0]


def load_app(target: str | None = None) -> ServiceApp:
    """Import the target and return its ServiceApp (remembering the target for worker subprocesses)."""
    resolved = resolve_target(target)
    path_part, _, attr = resolved.partition(":") if not Path(resolved).is_file() else (resolved, "", "")
    if path_part.endswith(".py") or Path(path_part).is_file():
        module = _import_file(Path(path_part))
    else:
        try:
            module = importlib.import_module(path_part)
        except ImportError as exc:
            raise HandlerLoadError(f"Cannot import module {path_part!r}: {exc}") from exc
    app = _find_app(module, attr or None, resolved)
    module_file = getattr(module, "__file__", None)
    if module_file and app.root_dir is None:
        app.root_dir = Path(module_file).resolve().parent  # where praisonai.yaml is looked for
    app.target = str(Path(path_part).resolve()) + (f":{attr}" if attr else "") if Path(path_part).is_file() \
        else resolved
    return app


def preloader(app: ServiceApp) -> Callable[[], object] | None:
    """What the plugin pool's processes run first: load the same service file, so that the functions defined in
    it (``@app.capability`` on a plain ``def``) can be sent to them by name. None for an app not loaded here."""
    return functools.partial(load_app, app.target) if app.target else None
