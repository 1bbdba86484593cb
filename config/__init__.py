"""Settings (``orchestrator.yaml``) and chat credentials: one frozen object, typos fail loudly."""

from config.credentials import Credentials, Secret, load_credentials, write_credentials
from config.errors import ConfigError, CredentialsError
from config.example import dump_default_settings
from config.loader import LoadedSettings, find_config, load_settings
from config.settings import Settings

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
