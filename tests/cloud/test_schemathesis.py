"""Schemathesis against the OpenAPI schema, in process: no request gets a 5xx.

Every operation is called by an organization administrator with generated data that
fits the schema and with data that breaks it, once with generated path ids (mostly
unknown records) and once with the ids of real records, so that updates and
deletions reach the services and the database. A bounded number of examples per
operation keeps the run to seconds; ``PAMS_SCHEMATHESIS_EXAMPLES`` raises it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from tests.cloud.world import World, backends, running_world

EXAMPLES = int(os.environ.get("PAMS_SCHEMATHESIS_EXAMPLES", "4"))
RACE = "written at the same time"  # the answer of cloud.main._integrity_error


@pytest.fixture(scope="module", params=backends("schemathesis"))
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One populated database per backend, shared by the module's tests."""
    with running_world(request, tmp_path_factory) as world:
        yield world


def real_ids(world: World) -> dict[str, Any]:
    side = world.own
    return {
        "user_id": side.user_id,
        "grant_id": 1,
        "property_id": side.property_id,
        "building_id": side.building_id,
        "unit_id": side.unit_id,
        "share_id": side.share_id,
        "person_id": side.tenant_person_id,
        "lease_id": side.lease_id,
        "equipment_id": side.equipment_id,
        "inspection_id": side.inspection_id,
        "parent_id": side.equipment_id,
        "attachment_id": side.equipment_attachment_id,
        "meter_point_id": side.meter_point_id,
        "meter_id": side.meter_id,
        "gateway_id": side.gateway_id,
        "device_id": side.device_id,
        "kind": "units",
    }


def test_no_operation_answers_a_server_error(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    headers = world.headers["org_admin"]
    ids = real_ids(world)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path == "/api/v1/alarms/stream":
            continue  # a server-sent event stream; test_alarms.py reads it
        names = {parameter.name for parameter in operation.path_parameters}
        known = {name: ids[name] for name in names if name in ids}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies = [operation.as_strategy(mode, headers=headers)]
            if known:
                strategies.append(
                    operation.as_strategy(mode, headers=headers, path_parameters=known)
                )
            try:
                _explore(st.one_of(strategies), headers, failures)
            except Unsatisfiable:
                # Nothing about this operation can be invalid (no parameters).
                assert mode is GenerationMode.NEGATIVE, operation.label

    assert operations >= 80
    assert not failures, "\n\n".join(failures[:10])


def _explore(strategy: Any, headers: dict[str, str], failures: list[str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        try:
            response = case.call_and_validate(
                headers=headers, checks=[not_a_server_error]
            )
        except FailureGroup as exc:
            failures.append(f"{case.operation.label}: {exc}\n{case.as_curl_command()}")
            return
        if RACE in response.text:
            # Nothing runs concurrently here: the database refused a write the
            # service should have checked first.
            failures.append(
                f"{case.operation.label}: unchecked database refusal\n"
                f"{case.as_curl_command()}"
            )

    call()
