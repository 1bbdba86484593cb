"""The example written by `tunnels init` stays in step with the schema."""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml

from claude_tunnels.config import Settings, dump_default_settings, load_settings


def leaf_keys(value: object, prefix: str = "") -> set[str]:
    """Dotted keys of every leaf of a struct or a mapping (a None struct counts as a leaf)."""
    if isinstance(value, msgspec.Struct):
        value = msgspec.structs.asdict(value)
    if isinstance(value, dict) and (value or not prefix):  # an empty mapping is a leaf value
        keys: set[str] = set()
        for name, item in value.items():
            keys |= leaf_keys(item, f"{prefix}.{name}" if prefix else name)
        return keys
    return {prefix}


def test_example_loads_back_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.yaml"
    path.write_text(dump_default_settings(), encoding="utf-8")
    assert load_settings(path).settings == Settings()


def test_example_spells_out_every_key() -> None:
    document = yaml.safe_load(dump_default_settings())
    assert leaf_keys(document) == leaf_keys(Settings())
