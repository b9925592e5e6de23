"""Firmware profiles: one TOML file per device model. Data only; see README.md."""

from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent


def profile_path(profile_id: str) -> Path:
    """Path of the profile file for ``profile_id`` (the file name without .toml)."""
    return PROFILE_DIR / f"{profile_id}.toml"


__all__ = ["PROFILE_DIR", "profile_path"]
