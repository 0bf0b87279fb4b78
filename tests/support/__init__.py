"""Test support: subprocess services, the Azurite emulator."""
