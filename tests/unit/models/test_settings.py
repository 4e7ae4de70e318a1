from __future__ import annotations

from pathlib import Path

import pytest

from models.env_values import InvalidSetting
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


@pytest.mark.parametrize(
    ("name", "value", "takes"),
    [
        ("HELPDESK_PORT", "eighty", "a whole number from 1 to 65535"),
        ("HELPDESK_PORT", "70000", "a whole number from 1 to 65535"),
        ("HELPDESK_NEW_KIND_RECENT_DAYS", "a week", "a number at least 0"),
        ("HELPDESK_NEW_KIND_RECENT_DAYS", "-1", "a number at least 0"),
        ("HELPDESK_DUPLICATE_THRESHOLD", "1.5", "a number from -1 to 1"),
        ("HELPDESK_COVERAGE", "90", "a number above 0 and at most 1"),
        ("HELPDESK_ENCODE_BATCH_SIZE", "0", "a whole number at least 1"),
        ("HELPDESK_RATE_LIMIT_PORTAL", "lots", "a whole number at least 0"),
        ("HELPDESK_WORKERS", "2.5", "a whole number at least 0"),
        ("HELPDESK_KB_REFIT_SECONDS", "nan", "a number at least 0"),
        ("HELPDESK_MAIL_PORT", "-993", "a whole number from 1 to 65535"),
        ("HELPDESK_MAIL_SECURITY", "tls", "one of ssl, starttls, none"),
        ("HELPDESK_WEBHOOK_TIMEOUT_SECONDS", "ten", "a number at least 0"),
        ("HELPDESK_WEBHOOK_ALLOW_NETWORKS", "loopback,internet", "a list of loopback, private, link-local"),
        ("HELPDESK_REDACT_PATTERNS", "[1, 2]", "a JSON object"),
        ("HELPDESK_REDACT_PATTERNS", "{oops", "a JSON object"),
    ],
)
def test_a_bad_value_names_its_variable_and_what_it_takes(name, value, takes):
    with pytest.raises(InvalidSetting) as caught:
        Settings.from_env({name: value})
    assert caught.value.field == name
    assert str(caught.value).startswith(f"{name} must be {takes}, not ")
    assert isinstance(caught.value, ValueError)  # what callers that read settings directly already catch


def test_numbers_within_bounds_and_empty_values_are_taken():
    settings = Settings.from_env(
        {
            "HELPDESK_NEW_KIND_RECENT_DAYS": "0",
            "HELPDESK_DUPLICATE_THRESHOLD": " 0.75 ",
            "HELPDESK_RATE_LIMIT_AGENT": "0",
            "HELPDESK_PORT": "",
            "HELPDESK_DECISION": "",
            "HELPDESK_WORKERS": "Auto",
            "HELPDESK_REDACT_PATTERNS": '{"CASE": "CASE-\\\\d+"}',
        }
    )
    assert settings.models.new_kind_recent_days == 0.0
    assert settings.assist.duplicate_threshold == 0.75
    assert settings.api.workers == 0
    assert settings.api.rate_limits["agent"] == 0
    assert settings.api.port == 8000
    assert settings.models.decision == "most_probable"
    assert settings.models.redact_patterns == {"CASE": "CASE-\\d+"}
