"""Installs the design's top-level folders as subpackages of one package, ``claude_tunnels``."""

from setuptools import find_packages, setup

FOLDERS = ("actors", "events", "projections", "channels", "remote_agent", "config", "tunnels")

setup(
    packages=[f"claude_tunnels.{name}" for name in find_packages(include=[f"{f}*" for f in FOLDERS])],
    package_dir={"claude_tunnels": "."},
)
