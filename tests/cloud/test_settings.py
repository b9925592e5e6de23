import stat
from pathlib import Path

import pytest

from cloud.settings import SECRET_KEY_FILE, Settings, SettingsError


@pytest.mark.parametrize(
    "placeholder", ["changeme", "CHANGEME", "secret", "changethis"]
)
def test_placeholder_secret_key_is_refused(placeholder: str) -> None:
    with pytest.raises(SettingsError, match="placeholder"):
        Settings(secret_key=placeholder)


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        Settings(secret_key="x" * 10)


def test_placeholder_from_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAMS_CLOUD_SECRET_KEY", "changeme")

    with pytest.raises(SettingsError, match="placeholder"):
        Settings()


def test_key_is_generated_once_with_owner_only_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    first = settings.signing_key()
    again = Settings(data_dir=tmp_path / "data").signing_key()

    key_file = tmp_path / "data" / SECRET_KEY_FILE
    assert first == again
    assert len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_placeholder_in_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("changeme\n", encoding="utf-8")

    with pytest.raises(SettingsError, match="placeholder"):
        Settings(data_dir=tmp_path).signing_key()


def test_database_defaults_to_sqlite_in_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAMS_CLOUD_DATA_DIR", str(tmp_path))

    settings = Settings()

    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'cloud.db'}"
