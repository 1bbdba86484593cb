"""`Cargo.toml`: the package `name`, path dependencies, and `[workspace] members`.

Dependency tables (`dependencies`, `dev-dependencies`, `build-dependencies`, their `target.*`
forms and `[workspace.dependencies]`): `{ path = "../x" }` by path, other entries by the crate's
name (`package = "..."` when renamed); `{ workspace = true }` inherits from the workspace root
and names nothing by itself.
"""

from __future__ import annotations

import tomllib
from typing import Any

from claude_tunnels.tunnels.manifests.model import Declared, ManifestError, Ref

_TABLES = ("dependencies", "dev-dependencies", "build-dependencies", "dev_dependencies", "build_dependencies")


def parse_cargo_toml(text: str) -> Declared:
    """What a `Cargo.toml` declares; ManifestError when it is not valid TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"not valid TOML ({err})") from None
    found = Declared()
    name = _table(data, "package").get("name")
    if isinstance(name, str) and name.strip():
        found.names.append(("cargo", name.strip()))
    tables = [_table(data, key) for key in _TABLES]
    for target in _table(data, "target").values():
        tables += [_table(target, key) for key in _TABLES]
    workspace = _table(data, "workspace")
    tables.append(_table(workspace, "dependencies"))
    for table in tables:
        for crate, spec in table.items():
            if isinstance(spec, str):
                found.refs.append(Ref(ecosystem="cargo", name=crate, why_name="Cargo.toml name"))
            elif isinstance(spec, dict) and spec.get("workspace") is not True:
                path = spec.get("path")
                real = spec.get("package")
                found.refs.append(Ref(
                    ecosystem="cargo", name=real if isinstance(real, str) else crate, path=path if isinstance(path, str) else None,
                    why_name="Cargo.toml name", why_path="Cargo.toml path dep",
                ))
    members = workspace.get("members")
    for glob in members if isinstance(members, list) else []:
        if isinstance(glob, str) and glob:
            found.refs.append(Ref(ecosystem="cargo", glob=glob, why_path="Cargo workspace member"))
    return found


def _table(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}
