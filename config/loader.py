"""Loading ``orchestrator.yaml`` into one frozen ``Settings`` and the absolute paths it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

from claude_tunnels.config._explain import explain
from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.settings import Settings

CONFIG_NAME = "orchestrator.yaml"


class LoadedSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The settings together with the absolute paths they resolve to.

    ``root`` is relative to the configuration file's folder (or the current folder when there is
    no file, or given by the caller); ``state_dir``, ``archive_dir`` and ``task_log_dir`` are
    relative to ``root``. Only ``root`` must exist.
    """

    settings: Settings
    config_path: Path | None
    root: Path
    state_dir: Path
    archive_dir: Path
    task_log_dir: Path


def find_config(start: Path) -> Path | None:
    """The ``orchestrator.yaml`` in ``start`` (not its parents), or ``None``."""
    candidate = start / CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_settings(path: Path | None = None, *, root: Path | None = None) -> LoadedSettings:
    """Read ``path`` (or use the defaults when ``None``) and resolve its paths.

    ``root``, when given, overrides the file's ``root`` (a relative one is taken from the current
    folder). Raises ``ConfigError`` with a one-line message naming the file, the dotted key, the
    problem and the fix.
    """
    if path is None:
        settings, base = Settings(), Path.cwd()
        config_path = None
    else:
        config_path = path.expanduser().absolute()
        settings = parse_settings(_read(config_path), file=config_path)
        base = config_path.parent
    if root is None:
        root_path = _under(base, settings.root)
        blame = config_path
    else:
        root_path = root.expanduser().absolute()
        blame = None
    if not root_path.is_dir():
        state = "is not a folder" if root_path.exists() else "does not exist"
        raise ConfigError(
            f"the projects root {root_path} {state}",
            file=blame,
            key="root",
            fix="create it or point `root` at the folder that holds your projects",
        )
    root_path = root_path.resolve()
    return LoadedSettings(
        settings=settings,
        config_path=config_path,
        root=root_path,
        state_dir=_under(root_path, settings.state_dir),
        archive_dir=_under(root_path, settings.archive_dir),
        task_log_dir=_under(root_path, settings.task_log.dir),
    )


def parse_settings(text: str, *, file: Path | None = None) -> Settings:
    """Validate the YAML ``text`` of a configuration file (``file`` only names it in errors)."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        problem = " ".join(part for part in (err.context, err.problem) if part)
        duplicate = problem.startswith("duplicate key")
        raise ConfigError(
            problem if duplicate else f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            fix="keep only one of them"
            if duplicate
            else "fix the YAML there (indentation, a missing `:`, an unclosed quote or bracket)",
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"YAML error: {err}", file=file, fix="fix the YAML syntax") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"the top level is {type(document).__name__}, not a mapping of settings",
            file=file,
            fix="write `key: value` lines, e.g. `root: .` (see `tunnels init`)",
        )
    try:
        return msgspec.convert(document, Settings)
    except msgspec.ValidationError as err:
        raise explain(err, Settings, file) from None


def _read(path: Path) -> str:
    if not path.exists():
        raise ConfigError(
            "configuration file not found",
            file=path,
            fix="check the path, or run `tunnels init` to write one",
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=path, fix="save the file as UTF-8") from None
    except OSError as err:
        raise ConfigError(
            f"cannot be read ({err.strerror})", file=path, fix="check it is a readable file"
        ) from None


def _under(base: Path, raw: str) -> Path:
    return (base / Path(raw).expanduser()).resolve()


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (the second one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key `{key}`", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
