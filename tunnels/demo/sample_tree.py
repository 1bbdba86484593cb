"""The demo's project tree: a shared library and two projects that use it (five workspaces)."""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    "shared-lib/CLAUDE.md": "# shared-lib\nThe shared Python library used by web-app and api-service.\n",
    "shared-lib/core/CLAUDE.md": "# core\nThe library code. Version in VERSION. Tests: python3 -m unittest\n",
    "shared-lib/core/VERSION": "1.4.0\n",
    # Its distribution name: the requirements of web-app/backend and api-service name it, so the
    # dependency graph has them use shared-lib/core.
    "shared-lib/core/pyproject.toml": '[project]\nname = "shared-lib"\ndynamic = ["version"]\n',

    "shared-lib/core/shared_core.py": "VERSION = '1.4.0'\n\n\ndef greet(name):\n    return 'hello ' + name\n",
    "shared-lib/core/test_shared_core.py": (
        "import unittest\n\nimport shared_core\n\n\nclass T(unittest.TestCase):\n"
        "    def test_greet(self):\n        self.assertTrue(shared_core.greet('x').endswith('x'))\n\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n"
    ),
    "shared-lib/docs/CLAUDE.md": "# docs\nThe library's documentation and CHANGELOG.md.\n",
    "shared-lib/docs/CHANGELOG.md": "# Changelog\n\n## 1.4.0\n- greet()\n",
    "web-app/CLAUDE.md": "# web-app\nA web application using shared-lib.\n",
    "web-app/backend/CLAUDE.md": "# backend\nThe API server. Depends on shared-lib (requirements.txt).\n",
    "web-app/backend/requirements.txt": "shared-lib==1.4.0\n",
    "web-app/frontend/.claude/settings.json": "{}\n",
    "web-app/frontend/package.json": '{\n  "name": "frontend",\n  "apiVersion": "1"\n}\n',
    "api-service/CLAUDE.md": "# api-service\nA small service using shared-lib (requirements.txt). No sub-workspaces.\n",
    "api-service/requirements.txt": "shared-lib==1.4.0\n",
}


def lay_out(root: Path) -> Path:
    """Write the sample tree under `root` (created if missing); return `root`."""
    for relative, content in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file's text under `root`, by relative path (to show what changed); hidden folders and
    Python's bytecode caches (written by the tests the agents run) are left out."""
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(root.rglob("*"))
        if path.is_file() and not any(
            (part.startswith(".") and part != ".claude") or part == "__pycache__" for part in path.relative_to(root).parts
        )
    }
