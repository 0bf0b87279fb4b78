"""The service bench_plugins.py runs: the built-in image-compress plugin, nothing else."""

from praisonai_svc import ServiceApp
from praisonai_svc.plugins.image import ImageCompressPlugin

app = ServiceApp("Capability bench")
app.register_plugin(ImageCompressPlugin())
