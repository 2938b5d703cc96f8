"""The README's strategies table is the registry's (scripts/strategies_table.py): every installed strategy is
listed with its package, category, summary and parameter defaults, so the table cannot drift from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from labelsieve.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def test_readme_strategies_table_matches_the_registry() -> None:
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "strategies_table.py"), "--check"],
                           capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0, check.stderr
    readme = (ROOT / "README.md").read_text()
    for name in Registry("strategies").names():
        assert f"| `{name}` |" in readme, f"strategy {name!r} missing from the README"
