"""`go.mod`: the `module` path, `require` of other modules, `replace ... => ../x`.

A required module matches a workspace whose own `go.mod` declares that module path; a `replace`
to a local folder (`./x`, `../x`, `/x`) matches the workspace at that folder.
"""

from __future__ import annotations

import re

from claude_tunnels.tunnels.manifests.model import Declared, ManifestError, Ref

_DIRECTIVES = ("module", "require", "replace", "exclude", "retract", "go", "toolchain", "godebug", "tool", "ignore")


def parse_go_mod(text: str) -> Declared:
    """What a `go.mod` declares; ManifestError for an unclosed block or a `module` without a path."""
    found = Declared()
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block is not None:
            if line == ")":
                block = None
            else:
                _entry(found, block, line)
            continue
        directive, _, rest = line.partition(" ")
        rest = rest.strip()
        if directive not in _DIRECTIVES:
            continue  # a directive of a later Go: not ours to judge
        if rest == "(":
            block = directive
        elif directive == "module":
            if not rest:
                raise ManifestError(f"line {number}: `module` without a module path")
            found.names.append(("go", _unquote(rest.split()[0])))
        else:
            _entry(found, directive, rest)
    if block is not None:
        raise ManifestError(f"the `{block} (` block is never closed")
    return found


def _entry(found: Declared, directive: str, line: str) -> None:
    if directive == "require":
        module = _unquote(line.split()[0])
        found.refs.append(Ref(ecosystem="go", name=module, why_name="go.mod require"))
    elif directive == "replace" and "=>" in line:
        old, new = (part.split() for part in line.split("=>", 1))
        if not old or not new:
            return
        target = _unquote(new[0])
        if re.match(r"^(\./|\.\./|/|\.$|\.\.$)", target):
            found.refs.append(Ref(ecosystem="go", path=target, why_path="go.mod replace"))
        else:
            found.refs.append(Ref(ecosystem="go", name=target, why_name="go.mod replace"))


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"`" else text
