"""Where settings come from: the project root and its default config, read from pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from perennial.settings import NO_DEFAULT_CONFIG, default_config, find_project_root


def test_the_default_config_is_read_from_the_projects_pyproject(tmp_path: Path) -> None:
    # given a project whose pyproject names its default config, and a folder inside it
    (tmp_path / "pyproject.toml").write_text('[tool.perennial]\ndefault_config = "configs/mine.yaml"\n')
    inside = tmp_path / "flows" / "deep"
    inside.mkdir(parents=True)
    # when the root and the default are looked up from inside, then both come from that pyproject
    assert find_project_root(inside) == tmp_path
    assert default_config(inside) == "configs/mine.yaml"


def test_the_shipped_project_default_is_the_demo_config() -> None:
    root = find_project_root(Path(__file__).parent)
    assert default_config(root) == "configs/flights.yaml" and (root / default_config(root)).is_file()


def test_outside_a_project_there_is_no_default_and_the_placeholder_says_so(tmp_path: Path) -> None:
    # given a pyproject without a [tool.perennial] table (another project)
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    # then there is no default config: the placeholder that loading it answers with what to do
    assert default_config(tmp_path) == NO_DEFAULT_CONFIG
