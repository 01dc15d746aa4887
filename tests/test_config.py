"""The workflow's config schema and config.yaml agree with the library's settings classes."""

from pathlib import Path

import jsonschema
import yaml

from headgan_prep.audio.shard import AudioConfig
from headgan_prep.fit.algorithm import FitConfig
from headgan_prep.ingest.shard import IngestConfig
from headgan_prep.landmarks.shard import LandmarksConfig
from headgan_prep.morphable.learn import MorphableModelConfig
from headgan_prep.render.renderer import RenderConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO_ROOT / "workflow/schemas/config.schema.yaml").read_text())


def schema_defaults(schema: dict) -> dict:
    """Nested dict of the defaults the schema declares for an object's properties."""
    return {
        key: schema_defaults(prop) if prop.get("type") == "object" else prop["default"]
        for key, prop in schema["properties"].items()
    }


def test_config_yaml_is_valid():
    jsonschema.validate(yaml.safe_load((REPO_ROOT / "config.yaml").read_text()), SCHEMA)


def test_ingest_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["ingest"]) == IngestConfig().to_dict()


def test_config_yaml_ingest_section_is_complete_and_accepted():
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["ingest"]
    assert IngestConfig.from_dict(section).to_dict() == section


def test_audio_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["audio"]) == AudioConfig().to_dict()


def test_config_yaml_audio_section_is_complete_and_accepted():
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["audio"]
    assert AudioConfig.from_dict(section).to_dict() == section


def test_landmarks_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["landmarks"]) == LandmarksConfig().to_dict()


def test_config_yaml_landmarks_section_is_complete_and_accepted():
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["landmarks"]
    assert LandmarksConfig.from_dict(section).to_dict() == section


def test_morphable_model_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["morphable_model"]) == MorphableModelConfig().to_dict()


def test_config_yaml_morphable_model_section_is_complete_and_accepted():
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["morphable_model"]
    assert MorphableModelConfig.from_dict(section).to_dict() == section


def test_fit_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["fit"]) == FitConfig().to_dict()


def test_config_yaml_fit_section_is_complete_and_accepted():
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["fit"]
    assert FitConfig.from_dict(section).to_dict() == section


def test_render_schema_defaults_are_the_library_defaults():
    assert schema_defaults(SCHEMA["properties"]["render"]) == RenderConfig().to_dict()


def test_config_yaml_render_section_is_complete_and_accepted():
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["render"]
    assert RenderConfig.from_dict(section).to_dict() == section


def nested(values: dict, dotted: str):
    for key in dotted.split("."):
        values = values[key]
    return values


def test_train_schema_defaults_are_the_library_defaults_and_null_where_a_preset_decides():
    from headgan_model.train.settings import TrainSettings, preset_keys

    defaults = schema_defaults(SCHEMA["properties"]["train"])
    assert all(nested(defaults, key) is None for key in preset_keys())
    assert TrainSettings.from_dict(defaults) == TrainSettings()
    library = TrainSettings().to_dict()
    for key in preset_keys():  # every other default is the library's
        *section, name = key.split(".")
        (nested(library, ".".join(section)) if section else library)[name] = None
    assert defaults == library


def test_config_yaml_train_section_is_complete_and_accepted():
    from headgan_model.train.settings import TrainSettings

    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["train"]
    assert TrainSettings.from_dict(section) == TrainSettings()
    assert section.keys() == TrainSettings().to_dict().keys()
    official = TrainSettings.from_dict({**section, "preset": "official"})
    assert (official.d_every, official.generator.flow_mask, official.vgg.input) == (4, True, "raw")
