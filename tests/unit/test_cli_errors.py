"""The `perennial` command on mistakes: one message, the kind's exit code, no traceback, in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import config_dict

ROOT = Path(__file__).resolve().parents[2]


def perennial(*args: str, state: Path | None = None, cwd: Path = ROOT, **env: str) -> tuple[int, str, float]:
    """The command in a subprocess from ``cwd``: exit code, output, seconds. With ``state``: its own state
    folder and Prefect's embedded API (not this session's), ``env`` added."""
    started = time.perf_counter()
    environ = dict(os.environ)
    if state is not None:
        environ.pop("PREFECT_API_URL", None)
        environ.update(PERENNIAL_STATE_DIR=str(state), **env)
    done = subprocess.run(
        [sys.executable, "-m", "perennial.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


@pytest.fixture
def project(tmp_path: Path, flights: pd.DataFrame) -> Path:
    flights.to_parquet(tmp_path / "flights.parquet", index=False)
    return tmp_path


def _write(folder: Path, raw: dict) -> str:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_a_misspelt_key_is_one_line_with_the_key_it_meant_and_exit_3(project: Path) -> None:
    # given `target_colum` for `target`
    raw = config_dict(str(project / "flights.parquet"))
    raw["data"]["target_colum"] = raw["data"].pop("target")
    # when checked / then one message names the file, the key and its closest valid key, no traceback
    code, output, _ = perennial("check", "-c", _write(project, raw))
    assert code == 3
    assert "config.yaml: unknown key `data.target_colum`, did you mean `target`?" in output.replace("\n", "")
    assert "Traceback" not in output and "required" not in output


def test_a_column_the_data_lacks_names_the_closest_column(project: Path) -> None:
    raw = config_dict(str(project / "flights.parquet"))
    raw["data"]["features"]["categorical"][1] = "origen"
    code, output, _ = perennial("check", "-c", _write(project, raw))
    output = output.replace("\n", "")
    assert (
        code == 3
        and "data.features.categorical[1]: column `origen` is not in" in output
        and "did you mean `origin`?" in output
    )
    # and a config that fits its data passes (the check can tell them apart)
    raw["data"]["features"]["categorical"][1] = "origin"
    code, output, _ = perennial("check", "-c", _write(project, raw))
    assert code == 0 and "is valid" in output, output


def test_a_target_with_text_labels_asks_for_the_positive_one(project: Path) -> None:
    frame = pd.read_parquet(project / "flights.parquet")
    frame.assign(delayed=frame["delayed"].map({0: "on time", 1: "late"})).to_parquet(
        project / "flights.parquet", index=False
    )
    code, output, _ = perennial("check", "-c", _write(project, config_dict(str(project / "flights.parquet"))))
    assert code == 3 and "data.target: " in output and "set data.target.positive_label" in output


def test_a_command_run_beside_ones_data_without_a_config_says_to_pass_one(tmp_path: Path) -> None:
    # given a team's folder with its data and no pyproject naming a default config
    (tmp_path / "tickets.csv").write_text("a,b\n1,2\n")
    # when status runs there without --config, then one line says what to pass, brackets intact
    code, output, _ = perennial("status", cwd=tmp_path, state=tmp_path / ".perennial")
    assert code == 3 and "error: no config given: pass --config FILE" in output, output
    assert "default_config under [tool.perennial]" in output and "does not exist" not in output
    # and a config that does not exist is named as before
    code, output, _ = perennial("status", "-c", "configs/tickets.yaml", cwd=tmp_path, state=tmp_path / ".perennial")
    assert code == 3 and "configs/tickets.yaml: config file does not exist" in output, output


def test_a_missing_data_file_exits_4_and_debug_shows_the_traceback(project: Path) -> None:
    raw = config_dict(str(project / "nowhere.parquet"))
    config = _write(project, raw)
    code, output, _ = perennial("check", "-c", config)
    assert code == 4 and "nowhere.parquet: file does not exist" in output and "Traceback" not in output
    code, output, _ = perennial("--debug", "check", "-c", config)
    assert code != 0 and "Traceback" in output


def test_prefects_api_not_starting_in_time_is_one_message_and_exit_8_not_a_bug(project: Path) -> None:
    # given a valid config, and Prefect's embedded API allowed 1 s to start (it needs several)
    path = _write(project, config_dict(str(project / "flights.parquet")))
    # when a command that runs a flow starts it
    code, output, _ = perennial(
        "train", "-c", path, state=project / "state", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1"
    )
    # then it says which server did not answer and what to do, with its own exit code, no traceback
    output = output.replace("\n", " ")
    assert code == 8, output
    assert "Prefect's embedded API did not answer within 1 s of starting" in output
    assert "perennial up" in output and "a bug" not in output and "Traceback" not in output


def test_a_flow_that_fails_exits_with_its_errors_code_and_a_usage_mistake_with_2(project: Path) -> None:
    # given a valid config and a state folder where nothing was trained yet
    path = _write(project, config_dict(str(project / "flights.parquet")))
    # when the champion is asked to score (the registry has no champion)
    code, output, _ = perennial("score", "-c", path, state=project / "state")
    # then the registry's exit code (7), its message once, no traceback (a failed flow used to exit 0),
    # before any Prefect server starts (the flow failed the same way 20-37 s in)
    assert code == 7, output[-3000:]
    assert output.count("has no 'champion' alias") == 1 and "Traceback" not in output
    assert "temporary server" not in output and not (project / "state" / "prefect").exists()
    # and an unknown option is a usage mistake (2) with click's message, not "a bug"
    code, output, _ = perennial("score", "--bogus")
    assert code == 2 and "No such option: --bogus" in output and "a bug" not in output


def test_init_on_a_missing_file_exits_4_and_an_unknown_task_is_a_usage_mistake(project: Path) -> None:
    # given no file at the path / when init profiles it / then the data source's code, as everywhere
    code, output, _ = perennial("init", str(project / "nowhere.csv"), "--target", "y")
    assert code == 4 and "nowhere.csv: file does not exist" in output and "Traceback" not in output
    # and a task that is not one is refused as a command-line mistake, naming the option and the tasks
    table = project / "table.csv"
    pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5], "y": ["a", "b", "a", "b"]}).to_csv(table, index=False)
    code, output, _ = perennial(
        "init", str(table), "--target", "y", "--task", "forecast", "-o", str(project / "t.yaml")
    )
    assert code == 2 and "'forecast' is not a task; use one of binary, multiclass, regression" in output
    assert not (project / "t.yaml").exists()


def test_a_class_only_the_holdout_holds_fails_training_with_one_line_and_exit_4(project: Path) -> None:
    # given wine as it ships, sorted by cultivar, with one reading a day: the last cultivar is all after
    # the starter's time split
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    wine = bunch.frame.iloc[:, :5].rename(columns=lambda c: c.replace("/", "_"))
    wine["cultivar"] = bunch.frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    wine["tasted_on"] = pd.date_range("2025-01-01", periods=len(wine), freq="D").strftime("%Y-%m-%d")
    table, config = project / "wine.csv", project / "wine.yaml"
    wine.to_csv(table, index=False)
    code, output, _ = perennial("init", str(table), "--target", "cultivar", "--time", "tasted_on", "-o", str(config))
    assert code == 0, output
    # when it is trained
    code, output, _ = perennial("train", "-c", str(config), state=project / "state")
    # then the data's code, the class named once with its rows and the way out, no traceback
    said = "holds classes of 'cultivar' that no training row has: 'barbera'"
    assert code == 4 and output.count(said) == 1 and "Traceback" not in output, output[-3000:]
    assert "move split.train_end later" in output
    # and in its own words, as an error before any flow prints: not behind Prefect's wrapper
    (line,) = [line for line in output.splitlines() if said in line]
    assert "Flow run encountered an exception" not in line and "Error: " not in line, line


def test_monitor_without_dates_on_a_table_of_past_years_takes_its_last_full_week_and_says_so(project: Path) -> None:
    # given flights that end on Sunday 2013-03-31, and nothing trained yet
    path = _write(project, config_dict(str(project / "flights.parquet")))
    # when monitored with no dates (the clock's last full week holds none of its rows)
    code, output, _ = perennial("monitor", "-c", path, state=project / "state")
    # then the data's last full week is the window, said before the flow runs (which then wants a champion)
    said = "the data ends on 2013-03-31, before the last full week by the clock"
    assert said in output and "monitoring the data's last full week, 2013-03-25 to 2013-04-01" in output, output
    assert code == 7 and "-2013-03-25' for flow 'monitoring'" in output, output[-2000:]
    # and dates given are taken as they are
    code, output, _ = perennial("monitor", "-c", path, "--start", "2013-03-04", state=project / "state")
    assert said not in output and "-2013-03-04' for flow 'monitoring'" in output, output[-2000:]


def test_infinity_in_a_feature_fails_training_with_one_line_and_exit_4(project: Path, flights: pd.DataFrame) -> None:
    # given flights where a distance was computed by dividing by zero
    flights.assign(distance=flights["distance"].astype(float).where(flights.index != 7, float("inf"))).to_parquet(
        project / "flights.parquet", index=False
    )
    raw = config_dict(str(project / "flights.parquet"))
    raw["validation"]["ranges"] = {}  # no declared range to catch it first (that one exits 5)
    path = _write(project, raw)
    # when trained / then the data's code, the column named once, no traceback
    code, output, _ = perennial("train", "-c", path, state=project / "state")
    assert code == 4 and output.count("infinite or outsized values (beyond ±1e+150) in 'distance' (1 rows)") == 1, (
        output[-3000:]
    )
    assert "Traceback" not in output


def test_init_on_a_database_url_says_to_write_a_sql_source_by_hand(project: Path) -> None:
    # when init is pointed at a SQLAlchemy URL, as the README's SQL sources are written
    code, output, _ = perennial("init", f"sqlite:///{project / 'clinic.db'}", "--target", "y")
    # then a usage mistake (2) saying what init reads and how to configure a query, not a mangled path
    assert code == 2 and "init profiles a file" in output and "{kind: sql, url:" in output, output
    assert "file does not exist" not in output


def test_a_teams_own_folder_runs_init_and_the_flows_of_the_installed_checkout(tmp_path: Path) -> None:
    # given a folder of the team's own (its table, no pyproject, no flows/), the command run from there
    from tests.integration.test_own_data import cancer

    cancer().to_csv(tmp_path / "cancer.csv", index=False)
    state = tmp_path / "state"
    # when init writes a config beside the data and a flow runs on it
    code, output, _ = perennial(
        "init",
        "cancer.csv",
        "--target",
        "diagnosis",
        "--positive-label",
        "M",
        "-o",
        "cancer.yaml",
        state=state,
        cwd=tmp_path,
    )
    assert code == 0, output
    assert "wrote cancer.yaml" in output and (tmp_path / "cancer.yaml").is_file()
    code, output, _ = perennial("validate", "-c", "cancer.yaml", state=state, cwd=tmp_path)
    # then the validation flow was found (not "No module named flows") and passed
    assert code == 0 and "No module named" not in output, output
