"""What can be checked of the Docker setup without a Docker engine (none runs on this machine):
the compose file parses and wires the three services with settings labelsieve really reads, every path
the Dockerfile copies exists, and the wheel `pip install .` builds inside the image carries the package,
its data and every entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from labelsieve.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_wires_label_studio_labelsieve_and_postgres() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "label-studio", "labelsieve"}
    ls_env = services["label-studio"]["environment"]
    assert ls_env["LABEL_STUDIO_ML_BLOCK_LOCAL_IP"] == "false"
    assert ls_env["LABEL_STUDIO_SSRF_PROTECTION_ENABLED"] == "false"
    assert ls_env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true"
    env = services["labelsieve"]["environment"]
    assert env["LABEL_STUDIO_API_KEY"] == ls_env["LABEL_STUDIO_USER_TOKEN"]
    settings = Settings(_env_file=None, **{})  # defaults
    assert settings.port == 9090
    parsed = Settings.model_validate({
        "LABELSIEVE_DATABASE_URL": env["LABELSIEVE_DATABASE_URL"],
        "LABEL_STUDIO_URL": env["LABEL_STUDIO_URL"],
        "LABEL_STUDIO_API_KEY": "k",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": env["LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"],
    })
    assert parsed.label_studio_url == "http://label-studio:8080"
    assert services["labelsieve"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dockerfile_copies_existing_paths_and_serves_with_the_cli() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert "labelsieve serve" in text and "torch==2.14.1" in text


def test_wheel_carries_package_data_and_entry_points(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("labelsieve-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "labelsieve/api/app.py" in names and "labelsieve/py.typed" in names
    for migration_file in ("env.py", "script.py.mako", "versions/0001_baseline.py"):  # run on start, from the wheel
        assert f"labelsieve/storage/migrations/{migration_file}" in names
    for group in ("[labelsieve.strategies]", "[labelsieve.learners]", "[console_scripts]"):
        assert group in entry_points
    assert "margin = labelsieve.strategies.uncertainty:Margin" in entry_points
