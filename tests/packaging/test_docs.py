"""The documentation site (docs/, mkdocs.yml) stays true to the code.

* the generated pages (settings, strategies, CLI, troubleshooting: scripts/gen_docs.py) are the code's;
* the refusal messages the troubleshooting page lists are what ``/setup`` really answers;
* every shell command in getting started and connecting names a Makefile target or a CLI command that exists;
* the plugin page's worked example runs, and quotes the stochastic plugin's real entry points;
* the ``--strict`` build passes and, opened in a headless Chromium, the built site asks for nothing outside itself.
"""

from __future__ import annotations

import functools
import http.server
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import typer.main
from fastapi.testclient import TestClient

from labelsieve.api.app import create_app
from labelsieve.cli import app
from labelsieve.registry import Registry
from tests.factories import setup_payload
from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCRIPT = ROOT / "scripts" / "gen_docs.py"
#: pages other branches write (task types, named entities, learners, data quality, first contact): the README links
#: to them before they land
OTHER_BRANCH_PAGES: set[str] = set()  # every page the README links to exists now
CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image">'
          '<Choice value="a"/><Choice value="b"/></Choices></View>')


def _run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_generated_pages_are_the_codes() -> None:
    check = _run_generator("--check")
    assert check.returncode == 0, check.stderr
    strategies = (DOCS / "strategies.md").read_text()
    for name in Registry("strategies").names():
        assert f"| `{name}` |" in strategies, f"strategy {name!r} missing from docs/strategies.md"
    settings = (DOCS / "settings.md").read_text()
    from labelsieve.settings import PROJECT_FIELDS

    for field in PROJECT_FIELDS:
        assert f"| `{field.name}` |" in settings, f"project setting {field.name!r} missing from docs/settings.md"


def test_the_drift_check_notices_a_stale_page() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gen_docs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    page = (DOCS / "cli.md").read_text()
    stale = page.replace("## `labelsieve serve`", "## `labelsieve serve-old`")
    assert gen_docs.render_page("cli.md", stale) == page  # the generator puts the real command back


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in template.split("…")]
    return re.compile(".*".join(parts), re.DOTALL)


def test_the_listed_refusals_are_what_setup_answers(settings_factory) -> None:
    page = (DOCS / "troubleshooting.md").read_text()
    listed = [re.sub(r"&lt;", "<", re.sub(r"&gt;", ">", re.sub(r"&amp;", "&", row.split(" | ")[0][2:])))
              for row in page.splitlines() if row.startswith("| ") and row.endswith("` |") and "…" in row]
    assert len(listed) >= 20, "the refusal table is missing"
    cases = [({"strategy": "no_such_strategy_here"}, CONFIG), ({"batch_size": 0}, CONFIG),
             ({"colour": "blue"}, CONFIG), ({"audit_share": 0.9}, CONFIG),
             ({}, CONFIG.replace('<Choice value="b"/>', "")), ({}, "<View><Image")]
    with TestClient(create_app(settings_factory(start_workers=False))) as client:
        for number, (extra, config) in enumerate(cases, start=1):
            answer = client.post("/setup", json=setup_payload(number, config, extra))
            assert answer.status_code == 400, (extra, answer.text)
            detail = answer.json()["detail"]
            assert any(_template_pattern(t.replace(" [SUPPORTED]", "")).match(detail) for t in listed), (
                f"/setup answered {detail!r}, which docs/troubleshooting.md does not list")


def _commands_in(page: Path) -> list[str]:
    text = page.read_text()
    found: list[str] = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():  # continued lines are one command
            line = line.split("#", 1)[0].strip()
            if line.startswith(("make ", "labelsieve ", ".venv/bin/labelsieve ")):
                found.append(line)
    found += [c for c in re.findall(r"`([^`\n]+)`", text) if c.startswith(("make ", "labelsieve "))]
    return found


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([a-z][a-z-]*):", makefile, re.MULTILINE)}


def _cli_commands() -> dict[str, set[str]]:
    """'serve' -> its options, 'db upgrade' -> ..., for every command of the typer app."""
    found: dict[str, set[str]] = {}

    def walk(group: object, prefix: str) -> None:
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            path = f"{prefix} {name}".strip()
            found[path] = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            if hasattr(command, "commands"):
                walk(command, path)

    walk(typer.main.get_command(app), "")
    return found


@pytest.mark.parametrize("page", ["getting-started.md", "connecting.md"])
def test_every_command_on_the_page_exists(page: str) -> None:
    commands = _commands_in(DOCS / page)
    assert commands, f"no command found on {page}"
    targets, cli = _make_targets(), _cli_commands()
    for line in commands:
        words = shlex.split(line.replace("<", "").replace(">", ""))
        if words[0] == "make":
            assert all(w in targets for w in words[1:]), f"{page}: {line!r}: no such Makefile target"
            continue
        rest = words[1:]
        path = " ".join(rest[:2]) if " ".join(rest[:2]) in cli else rest[0]
        assert path in cli, f"{page}: {line!r}: labelsieve has no command {rest[0]!r}"
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in cli[path], f"{page}: {line!r}: {path} has no option {word}"


def test_the_plugin_example_runs_and_quotes_the_real_plugin() -> None:
    page = (DOCS / "plugins.md").read_text()
    example = page.split("## A worked example", 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.DOTALL).group(1)
    code += ('\nassert get_registry("strategies").create("ratio_of_top_two", {"power": 2.0}).power == 2.0\n'
             'print("example ran")\n')
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert ran.returncode == 0 and "example ran" in ran.stdout, ran.stderr[-3000:]
    quoted = re.search(r'```toml\n(\[project\.entry-points\."labelsieve\.strategies"\].*?)```', example,
                       re.DOTALL).group(1)
    real = (ROOT / "plugins" / "labelsieve-stochastic" / "pyproject.toml").read_text()
    assert quoted.strip() in real, "docs/plugins.md quotes entry points the stochastic plugin does not declare"


def _build_site(site: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                           capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]


def test_the_built_site_asks_for_nothing_outside_itself(tmp_path) -> None:
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))  # make test installs it
    site = tmp_path / "site"
    _build_site(site)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    browser = Chromium().start()
    try:
        probe = "({title: document.title, text: document.body.innerText.length})"
        for page in ("index.html", "getting-started.html", "settings.html", "troubleshooting.html"):
            visit = browser.visit(f"{base}/{page}", probe=probe)
            assert visit.status == 200 and visit.dom["text"] > 200, (page, visit.dom)
            outside = [u for u in visit.requests if urlsplit(u).scheme not in ("data", "blob")
                       and not u.startswith(base)]
            assert outside == [], f"{page} asked for {outside}"
    finally:
        browser.stop()
        server.shutdown()


def test_the_readme_is_a_front_door_not_a_lab_notebook() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300, "README.md grew past 300 lines: move the detail into docs/"
    for pattern, what in ((r"load average|load \d", "load averages"), (r"\bissue \d+", "issue numbers"),
                          (r"\.py`? \d+(–\d+)?\b", "source line numbers")):
        assert not re.search(pattern, readme, re.IGNORECASE), f"README.md quotes {what}: they belong in results/docs"
    for target in re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)", readme):
        if Path(target).name in OTHER_BRANCH_PAGES:
            continue
        assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
    for image in re.findall(r'src="([^"]+)"', readme):
        assert (ROOT / image).exists(), f"README.md shows {image}, which does not exist: run make screenshots"
    assert "make test" in readme and "make demo" in readme and "make run" in readme
