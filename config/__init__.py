"""Settings (``orchestrator.yaml``) and chat credentials: one frozen object, typos fail loudly."""

from claude_tunnels.config.credentials import Credentials, Secret, load_credentials, write_credentials
from claude_tunnels.config.errors import ConfigError, CredentialsError
from claude_tunnels.config.example import dump_default_settings
from claude_tunnels.config.loader import LoadedSettings, find_config, load_settings
from claude_tunnels.config.settings import Settings

__all__ = [
    "ConfigError",
    "Credentials",
    "CredentialsError",
    "LoadedSettings",
    "Secret",
    "Settings",
    "dump_default_settings",
    "find_config",
    "load_credentials",
    "load_settings",
    "write_credentials",
]
