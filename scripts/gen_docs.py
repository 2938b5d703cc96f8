"""The generated parts of the documentation site, from the code, so they cannot drift.

    .venv/bin/python scripts/gen_docs.py            # rewrite the generated parts under docs/
    .venv/bin/python scripts/gen_docs.py --check    # exit 1 when a page differs from the code (tests/packaging)

Generated, each between ``<!-- generated:NAME:start ... -->`` and ``<!-- generated:NAME:end -->`` markers (the text
around the markers is written by hand):

* ``docs/settings.md``: the project settings (the fields of ``labelsieve.settings.ProjectSettings``: type, default,
  the service-wide ``LABELSIEVE_*`` variable, meaning) and the service settings (the fields of ``Settings``);
* ``docs/strategies.md``: one row per strategy the ``labelsieve.strategies`` entry-point group holds (built-ins and
  installed plugins): name, package, category, the first paragraph of its docstring, its parameters and defaults;
* ``docs/cli.md``: every command of the ``labelsieve`` typer app with its arguments and options.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer.main

from labelsieve.cli import app
from labelsieve.registry import Registry
from labelsieve.settings import PROJECT_FIELDS, PROJECT_TYPES, Settings, service_name

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", None) if not hasattr(kind, "__args__") else str(kind).replace("typing.", "")


def _first_paragraph(doc: str | None) -> str:
    paragraph: list[str] = []
    for line in (doc or "").strip().splitlines():
        if not line.strip():
            break
        paragraph.append(line.strip())
    return _cell(" ".join(paragraph))


def project_settings_table() -> str:
    rows = ["| key | type | default | service-wide variable | meaning |", "|---|---|---|---|---|"]
    for field in PROJECT_FIELDS:
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        variable = f"`LABELSIEVE_{service_name(field).upper()}`"
        rows.append(f"| `{field.name}` | `{_cell(_type_name(PROJECT_TYPES[field.name]))}` | `{default!r}` | "
                    f"{variable} | {_cell(field.metadata['doc'])} |")
    return "\n".join(rows)


def _default(info: Any) -> str:
    if info.default_factory is not None:
        return "computed at start"
    value = info.default
    if value is None:
        return "unset"
    return f"`{value}`" if isinstance(value, Path) else f"`{value!r}`"


def service_settings_table() -> str:
    project = {service_name(f) for f in PROJECT_FIELDS}
    rows = ["| variable | type | default |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        if name in project:
            continue
        aliases = info.validation_alias
        choices = getattr(aliases, "choices", None) or ([aliases] if isinstance(aliases, str) else [])
        variables = ", ".join(f"`{a.upper()}`" for a in choices) or f"`LABELSIEVE_{name.upper()}`"
        kind = _cell(_type_name(info.annotation)).replace("pathlib.", "")
        rows.append(f"| {variables} | `{kind}` | {_default(info)} |")
    return "\n".join(rows)


def strategies_table() -> str:
    registry = Registry("strategies")
    rows = ["| name | package | category | what it does | params (defaults) |", "|---|---|---|---|---|"]
    for entry in registry.describe():
        if "error" in entry:
            rows.append(f"| `{entry['name']}` | {entry['package']} | – | failed to load: {_cell(entry['error'])} | – |")
            continue
        summary = _first_paragraph(getattr(registry.load(entry["name"]), "__doc__", None))
        params = _cell(", ".join(f"`{k}`={v!r}" for k, v in entry["params"].items())) or "–"
        rows.append(f"| `{entry['name']}` | {entry['package']} | {entry.get('category', '')} | {summary} | {params} |")
    return "\n".join(rows)


def _option_row(param: Any) -> str:
    if param.param_type_name == "argument":
        names = f"`{param.name.upper()}` (argument)"
    else:
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    annotation = param.type_descriptor.annotation
    kind = "flag" if getattr(param, "is_flag", False) else _cell(_type_name(annotation)).replace("pathlib.", "")
    default = param.default
    shown = "–" if default is None or callable(default) or default == () else f"`{default!r}`"
    required = " (required)" if param.required else ""
    return f"| {names}{required} | {kind} | {shown} | {_cell(getattr(param, 'help', None) or '')} |"


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    """Every command under ``group`` (typer's own click objects: a group has ``commands``)."""
    found: list[tuple[str, Any]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        found.append((f"{prefix} {name}", command))
        if hasattr(command, "commands"):
            found += _commands(command, f"{prefix} {name}")
    return found


def cli_reference() -> str:
    root = typer.main.get_command(app)
    parts: list[str] = []
    for path, command in _commands(root, "labelsieve"):
        parts += [f"## `{path}`", "", (command.help or "").strip().split("\n\n")[0].strip(), ""]
        if hasattr(command, "commands"):
            parts += [f"Subcommands: {', '.join(f'`{path} {n}`' for n in sorted(command.commands))}.", ""]
            continue
        params = [p for p in command.params if p.name != "help"]
        if params:
            parts += ["| argument / option | type | default | meaning |", "|---|---|---|---|"]
            parts += [_option_row(p) for p in params] + [""]
    return "\n".join(parts).rstrip()


#: the exceptions whose message ``/setup`` answers with a 400 (api/routes/labelstudio.py turns label-config and
#: settings errors into it; the settings resolver passes the registry's and the balancing check's messages through)
REFUSALS = ("UnsupportedLabelConfig", "ProjectSettingsError", "UnknownPluginError", "PluginLoadError", "BalancingError")
REFUSAL_MODULES = ("labelconfig.py", "service/project_catalog.py", "service/project_settings.py", "registry.py",
                   "balancing/config.py", "balancing/methods.py")


def _template(node: ast.expr, constants: set[str]) -> str:
    """The message an exception is built with, its computed parts shown as ``…``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v, constants) if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left, constants) + _template(node.right, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return f" [{node.id}]"
    return "…"


def _refusal_calls(tree: ast.Module) -> list[ast.Call]:
    """Every construction of a refusal (``raise X(...)``, ``return X(...)``) and every refusal class's own
    ``super().__init__(message)``."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id in REFUSALS and node.args]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in REFUSALS):
        calls += [node for node in ast.walk(cls) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "__init__" and node.args]
    return calls


def refusal_messages() -> list[tuple[str, str]]:
    """(message template, module) for every refusal message built in the modules ``/setup`` runs."""
    package = ROOT / "backend" / "labelsieve"
    found: list[tuple[int, str, str]] = []
    for module in REFUSAL_MODULES:
        tree = ast.parse((package / module).read_text())
        constants = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                     if isinstance(t, ast.Name) and t.id.isupper()}
        for call in _refusal_calls(tree):
            message = " ".join(_template(call.args[0], constants).split())
            if message == "…":
                message = "(a message built elsewhere and passed through: a strategy's or learner's own check)"
            found.append((call.lineno, message, module))
    order = {module: i for i, module in enumerate(REFUSAL_MODULES)}
    ordered = [(message, module) for _, message, module in sorted(found, key=lambda f: (order[f[2]], f[0]))]
    return list(dict.fromkeys(ordered))  # one row per distinct message and module


def _supported() -> str:
    from labelsieve.labelconfig import SUPPORTED

    return SUPPORTED


def refusals_table() -> str:
    rows = ["| message (`…`: filled in from your config or settings) | raised in |", "|---|---|"]
    rows += [f"| {_html(message)} | `{module}` |" for message, module in refusal_messages()]
    return "\n".join(rows) + f"\n\n`[SUPPORTED]` is: {_html(_supported())}"


def _html(text: str) -> str:
    """A table cell whose text may hold XML tags (shown, not interpreted)."""
    return _cell(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: the Label Studio address the troubleshooting examples use
EXAMPLE_URL = "http://localhost:8080"


def degraded_reasons_table() -> str:
    """Every reason webhook events wait on Label Studio (``/health`` says DEGRADED), with the fix it names."""
    from labelsieve.labelstudio import errors
    from labelsieve.service.setup_check import LabelStudioCheck
    from labelsieve.service.waiting import fix_for

    reasons = (errors.UNREACHABLE, errors.KEY_REFUSED, errors.SERVER_ERROR)
    rows = ["| reason | the fix `/health`, `GET /projects/{id}` and the log name |", "|---|---|"]
    rows += [f"| `{reason}` | {_cell(fix_for(reason, EXAMPLE_URL))} |" for reason in reasons]
    example = LabelStudioCheck._message(EXAMPLE_URL, 3, f"Label Studio at {EXAMPLE_URL} is unreachable: ConnectError",
                                        fix_for(errors.UNREACHABLE, EXAMPLE_URL))
    return "\n".join(rows) + f"\n\nThe same check refuses `/setup` (example for project 3):\n\n> {_html(example)}"


#: page -> {marker name: function that renders it}
GENERATED: dict[str, dict[str, Callable[[], str]]] = {
    "settings.md": {"project-settings": project_settings_table, "service-settings": service_settings_table},
    "strategies.md": {"strategies-table": strategies_table},
    "cli.md": {"cli-reference": cli_reference},
    "troubleshooting.md": {"degraded-reasons": degraded_reasons_table, "setup-refusals": refusals_table},
}


def markers(name: str) -> tuple[str, str]:
    return (f"<!-- generated:{name}:start (scripts/gen_docs.py writes this part; do not edit) -->",
            f"<!-- generated:{name}:end -->")


def replaced(text: str, name: str, body: str) -> str:
    start, end = markers(name)
    if start not in text or end not in text:
        raise SystemExit(f"the page lacks the markers {start!r} ... {end!r}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def render_page(page: str, text: str) -> str:
    for name, render in GENERATED[page].items():
        text = replaced(text, name, render())
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated page differs from the code")
    args = parser.parse_args()
    stale: list[str] = []
    for page in GENERATED:
        path = DOCS / page
        text = path.read_text()
        wanted = render_page(page, text)
        if wanted == text:
            continue
        if args.check:
            stale.append(page)
        else:
            path.write_text(wanted)
    if stale:
        print(f"out of date: {', '.join(stale)}: run .venv/bin/python scripts/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
