"""The apps: section: schema defaults, config.yaml, bad values."""

from pathlib import Path

import pytest
import yaml

from headgan_model.apps.settings import AppsConfigError, AppsSettings, frame_number

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def schema_defaults(node: dict):
    if node.get("type") == "object" and "properties" in node:
        return {key: schema_defaults(value) for key, value in node["properties"].items()}
    return node.get("default")


def test_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["apps"]) == AppsSettings().to_dict()


def test_config_yaml_apps_section_is_complete_and_accepted():
    section = yaml.safe_load((ROOT / "config.yaml").read_text())["apps"]
    assert AppsSettings.from_dict(section).to_dict() == section


@pytest.mark.parametrize(
    "values, message",
    [
        ({"precision": "fp16"}, "apps.precision"),
        ({"device": "tpu"}, "apps.device"),
        ({"frontalise": {"expression": "smile"}}, "apps.frontalise.expression"),
        ({"reconstruct": {"reference": "first"}}, "apps.reconstruct.reference"),
        ({"compress": {"bits": 1}}, "apps.compress.bits"),
        ({"reenact": {"n_pair": 3}}, "unknown key"),
    ],
)
def test_bad_values_name_the_key(values, message):
    with pytest.raises(AppsConfigError, match=message):
        AppsSettings.from_dict(values)


def test_frame_numbers():
    assert frame_number("middle", 9) == 4 and frame_number(0, 9) == 0
    with pytest.raises(AppsConfigError, match="beyond a clip of 9"):
        frame_number(9, 9)
