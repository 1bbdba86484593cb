"""`package.json`: the package `name`, its dependencies and its `workspaces`.

- `dependencies`, `devDependencies`, `peerDependencies`, `optionalDependencies`: `file:`/`link:`
  (or a bare `./x`, `../x`) by path, `workspace:` and versions by the package name (an `npm:`
  alias by the name it stands for).
- `workspaces` (npm, Yarn; a list or Yarn's `{"packages": [...]}`): folder globs.
"""

from __future__ import annotations

import json
from typing import Any

from claude_tunnels.tunnels.manifests.model import Declared, ManifestError, Ref, local_path

_SECTIONS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")


def parse_package_json(text: str) -> Declared:
    """What a `package.json` declares; ManifestError when it is not a JSON object."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ManifestError(f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ManifestError("not a JSON object")
    found = Declared()
    name = data.get("name")
    if isinstance(name, str) and name.strip():
        found.names.append(("node", name.strip()))
    for section in _SECTIONS:
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for package, spec in entries.items():
            if isinstance(spec, str):
                found.refs.append(_dependency(package, spec))
    members: Any = data.get("workspaces")
    if isinstance(members, dict):
        members = members.get("packages")
    for glob in members if isinstance(members, list) else []:
        if isinstance(glob, str) and glob and not glob.startswith("!"):
            found.refs.append(Ref(ecosystem="node", glob=glob, why_path="package.json workspaces"))
    return found


def _dependency(package: str, spec: str) -> Ref:
    spec = spec.strip()
    if spec.startswith("npm:"):  # "npm:real-name@^1": an alias of another package
        real = spec[4:].rsplit("@", 1)[0] if spec[4:].rfind("@") > 0 else spec[4:]
        return Ref(ecosystem="node", name=real, why_name="package.json name")
    if spec.startswith("workspace:"):
        return Ref(ecosystem="node", name=package, why_name="package.json workspace:")
    return Ref(
        ecosystem="node", name=package, path=local_path(spec), why_name="package.json name", why_path="package.json path dep",
    )
