from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_config

BASE = """
[gateway]
id = "gw-1"

[cloud]
url = "http://127.0.0.1:8000"
"""

RTU = """
[[modbus_rtu]]
id = "rs485-1"
port = "/dev/ttyUSB0"

[[modbus_rtu.devices]]
id = "apt-101"
unit_id = {unit_id}
profile = "{profile}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_site_loads(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, BASE + RTU.format(unit_id=1, profile="eastron_sdm120"))
    )

    assert config.device_ids() == ["apt-101"]
    assert config.modbus_rtu[0].devices[0].poll_interval_s == 5.0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            BASE + RTU.format(unit_id=300, profile="eastron_sdm120"),
            "modbus_rtu[0].devices[0].unit_id: Input should be less than or equal",
            id="unit-id-out-of-range",
        ),
        pytest.param(
            BASE + RTU.format(unit_id=1, profile="no_such_meter"),
            "modbus_rtu[0].devices[0] (apt-101)",
            id="unknown-profile",
        ),
        pytest.param(
            BASE + "colour = 'red'\n",
            "colour: Extra inputs are not permitted",
            id="typo-is-an-error",
        ),
        pytest.param(
            BASE
            + RTU.format(unit_id=1, profile="eastron_sdm120")
            + RTU.format(unit_id=2, profile="eastron_sdm120").replace("rs485-1", "b"),
            "device id 'apt-101' is used twice",
            id="duplicate-device",
        ),
        pytest.param(
            BASE.replace("http://", "ftp://"),
            "cloud.url: String should match pattern",
            id="cloud-url-scheme",
        ),
        pytest.param(
            BASE + "[ble]\nbackend = 'sim'\n[[ble.devices]]\nid = 'x'\n"
            "profile = 'ruuvitag_df5'\naddress = 'CB:B8:33:4C:88:4F'\n",
            'backend "sim" needs address',
            id="ble-sim-without-address",
        ),
        pytest.param("[gateway\n", "is not valid TOML", id="not-toml"),
    ],
)
def test_a_site_that_cannot_work_is_refused_naming_the_place(
    tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))

    assert reason in str(refused.value)
