from __future__ import annotations

from pathlib import Path

import pytest

from models.settings import Settings


def test_defaults_are_embedded():
    settings = Settings.from_env({})
    assert settings.database.url.startswith("sqlite:///")
    assert settings.database.url.endswith("var/helpdesk.db")
    assert settings.models.artifacts_dir.as_posix().endswith("var/artifacts")
    assert settings.datasets_dir.as_posix().endswith("shared/datasets")
    assert settings.models.encoder == "minilm"


def test_environment_overrides(tmp_path: Path):
    settings = Settings.from_env(
        {
            "HELPDESK_DATABASE_URL": "postgresql://u@h/db",
            "HELPDESK_ARTIFACTS_DIR": str(tmp_path / "a"),
            "HELPDESK_DATASETS_DIR": str(tmp_path / "d"),
            "HELPDESK_PORT": "9000",
            "HELPDESK_MIN_EXAMPLES_PER_LABEL": "5",
            "HELPDESK_DECISION": "balanced",
        }
    )
    assert settings.database.url == "postgresql://u@h/db"
    assert settings.models.artifacts_dir == tmp_path / "a"
    assert settings.datasets_dir == tmp_path / "d"
    assert settings.api.port == 9000
    assert settings.models.min_examples_per_label == 5
    assert settings.models.decision == "balanced"


def test_a_decision_rule_is_one_of_the_two():
    assert Settings.from_env({}).models.decision == "most_probable"
    with pytest.raises(ValueError, match="HELPDESK_DECISION must be one of most_probable, balanced"):
        Settings.from_env({"HELPDESK_DECISION": "fair"})


def test_the_day_one_share_kept_is_above_zero_and_at_most_one():
    assert Settings.from_env({}).models.kb_day_one_keep == 0.97
    assert Settings.from_env({"HELPDESK_KB_DAY_ONE_KEEP": "1"}).models.kb_day_one_keep == 1.0
    for wrong in ("0", "1.5", "most"):
        with pytest.raises(ValueError, match="HELPDESK_KB_DAY_ONE_KEEP must be a number above 0 and at most 1"):
            Settings.from_env({"HELPDESK_KB_DAY_ONE_KEEP": wrong})


def test_var_dir_moves_database_and_artifacts(tmp_path: Path):
    settings = Settings.from_env({"HELPDESK_VAR_DIR": str(tmp_path)})
    assert settings.database.url == f"sqlite:///{tmp_path / 'helpdesk.db'}"
    assert settings.models.artifacts_dir == tmp_path / "artifacts"


def test_the_public_base_url_is_configured_never_taken_from_a_request():
    assert Settings.from_env({}).api.base_url() == "http://127.0.0.1:8000"
    assert (
        Settings.from_env({"HELPDESK_HOST": "0.0.0.0", "HELPDESK_PORT": "9000"}).api.base_url()
        == "http://localhost:9000"
    )
    public = Settings.from_env({"HELPDESK_PUBLIC_URL": "https://help.example.com/"})
    assert public.api.base_url() == "https://help.example.com"
