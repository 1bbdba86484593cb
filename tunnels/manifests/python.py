"""Python manifests: `pyproject.toml` (PEP 621, Poetry, uv) and `requirements*.txt`.

- `[project] name` / `[tool.poetry] name`: the distribution name the workspace provides.
- `[project] dependencies`, `optional-dependencies`, `[dependency-groups]`: by name, or by path
  for `name @ file:...`.
- `[tool.poetry.*dependencies]` (groups included): `{path = "../x"}` by path, else by name.
- `[tool.uv.sources]`: `{path = "../x"}` by path, `{workspace = true}` by name;
  `[tool.uv.workspace] members`: folder globs.
- requirements files: `-e ../x`, `file:../x`, `./x`, `name @ file:...` by path; `name==1.0` by name.

Names are compared normalized (PEP 503: case and runs of `-_.` do not matter).
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from claude_tunnels.tunnels.manifests.model import Declared, ManifestError, Ref, local_path

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:@\s*(\S+))?")
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pyproject(text: str) -> Declared:
    """What a `pyproject.toml` declares; ManifestError when it is not valid TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"not valid TOML ({err})") from None
    found = Declared()
    project = _table(data, "project")
    poetry = _table(_table(data, "tool"), "poetry")
    uv = _table(_table(data, "tool"), "uv")
    for name in (project.get("name"), poetry.get("name")):
        if isinstance(name, str) and name.strip():
            found.names.append(("python", normalized(name)))
    requirements = _strings(project.get("dependencies"))
    for extra in _table(project, "optional-dependencies").values():
        requirements += _strings(extra)
    for group in _table(data, "dependency-groups").values():
        requirements += _strings(group)
    for requirement in requirements:
        if (ref := _requirement(requirement, "pyproject")) is not None:
            found.refs.append(ref)
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values() if isinstance(group, dict)]
    for table in tables:
        for name, spec in table.items():
            if name.lower() == "python":
                continue
            path = spec.get("path") if isinstance(spec, dict) else None
            found.refs.append(_ref(name, path if isinstance(path, str) else None, "pyproject name"))
    for name, source in _table(uv, "sources").items():
        for entry in source if isinstance(source, list) else [source]:
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("path"), str):
                found.refs.append(_ref(name, entry["path"], "pyproject name"))
            elif entry.get("workspace") is True:
                found.refs.append(_ref(name, None, "uv workspace source"))
    for member in _strings(_table(uv, "workspace").get("members")):
        found.refs.append(Ref(ecosystem="python", glob=member, why_path="uv workspace member"))
    return found


def parse_requirements(text: str) -> Declared:
    """What a requirements file declares (lines it cannot read are not references: skipped)."""
    found = Declared()
    for line in _logical_lines(text):
        ref = _requirements_line(line)
        if ref is not None:
            found.refs.append(ref)
    return found


def _requirements_line(line: str) -> Ref | None:
    editable = re.match(r"^(?:-e|--editable)(?:\s+|=)(\S+)", line)
    if editable:
        target = editable.group(1)
        egg = _EGG.search(target)
        if re.match(r"^[a-z+]+://", target) and not target.startswith("file:"):
            return _ref(egg.group(1), None, "requirements name", why_path="requirements path dep") if egg else None
        path = local_path(target) or target
        return _ref(egg.group(1) if egg else None, _strip_fragment(path), "requirements name", why_path="requirements path dep")
    if line.startswith("-"):
        return None  # -r, -c, --index-url and other options: not a reference to a workspace
    path = local_path(line.split(";")[0].strip())
    if path is not None:
        return Ref(ecosystem="python", path=_strip_fragment(path), why_path="requirements path dep")
    if re.match(r"^[a-z+]+://", line):
        return None
    return _requirement(line, "requirements")


def _requirement(text: str, kind: str) -> Ref | None:
    """A PEP 508 requirement as a reference: by name, and by path for `name @ file:...`."""
    match = _REQUIREMENT.match(text)
    if match is None:
        return None
    url = match.group(2)
    path = local_path(url) if url and url.startswith("file:") else None
    return _ref(match.group(1), path, f"{kind} name", why_path=f"{kind} path dep")


def _ref(name: str | None, path: str | None, why_name: str, *, why_path: str = "pyproject path dep") -> Ref:
    return Ref(
        ecosystem="python", name=normalized(name) if name else None, path=path, why_name=why_name, why_path=why_path,
    )


def _strip_fragment(path: str) -> str:
    path = path.split("#", 1)[0]
    return re.sub(r"\[[^\]]*\]$", "", path)  # `../x[extra]`


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            lines.append(line)
    return lines


def _table(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
