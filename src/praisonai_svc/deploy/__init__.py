"""Deployment: ``deploy azure`` (Azure Container Apps) and the readable templates it applies (``templates/``)."""
