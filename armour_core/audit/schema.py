"""The JSON schema of ``report.json`` (versioned) and a validator.

1.1: a section may state ``criteria`` (how its verdict was reached: rule, the setting it is judged at,
thresholds, the measured figure); the robustness section must, whenever it gives a verdict.
"""

from __future__ import annotations

from typing import Any

from .context import VERDICTS
from .profiles import PROFILES

SCHEMA_VERSION = "1.1"

_SECTION: dict[str, Any] = {
    "type": "object",
    "required": ["title", "verdict", "headline", "metrics", "warnings", "seconds", "dist"],
    "properties": {
        "title": {"type": "string"},
        "verdict": {"enum": list(VERDICTS)},
        "headline": {"type": "string"},
        "metrics": {"type": "object"},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "seconds": {"type": "number", "minimum": 0},
        "dist": {"type": "string"},
        "install": {"type": "string"},
        "criteria": {
            "type": "object",
            "required": ["rule", "judged_at", "thresholds"],
            "properties": {
                "rule": {"type": "string", "minLength": 1},
                "judged_at": {"type": "object"},
                "thresholds": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "number"}},
                "measured": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
            },
        },
    },
}

#: armour-plugins-attacks' robustness section states its criteria whenever it gives a verdict: the ε (and norm)
#: judged at, the thresholds, the ε grid and where it came from
_ROBUSTNESS_CRITERIA: dict[str, Any] = {
    "if": {"required": ["verdict", "dist"],
           "properties": {"verdict": {"enum": ["pass", "warn", "fail"]}, "dist": {"const": "armour-plugins-attacks"}}},
    "then": {
        "required": ["criteria"],
        "properties": {"criteria": {
            "required": ["grid", "measured"],
            "properties": {
                "judged_at": {"required": ["eps", "norm"],
                              "properties": {"eps": {"type": "number", "exclusiveMinimum": 0},
                                             "norm": {"type": "string"}}},
                "thresholds": {"required": ["pass", "warn"]},
                "grid": {"type": "object", "required": ["values", "source", "rule"],
                         "properties": {"values": {"type": "array", "minItems": 1,
                                                   "items": {"type": "number", "exclusiveMinimum": 0}},
                                        "source": {"enum": ["given", "image", "small"]},
                                        "rule": {"type": "string"}}},
            },
        }},
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "armour audit report",
    "$defs": {"section": _SECTION},
    "type": "object",
    "required": ["schema_version", "title", "manifest", "summary", "sections"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "title": {"type": "string"},
        "manifest": {
            "type": "object",
            "required": ["armour_core", "plugins", "mindspore", "numpy", "python", "platform", "profile", "seed",
                         "command", "model", "dataset", "timing_seconds", "started_at"],
            "properties": {
                "armour_core": {"type": "string"},
                "plugins": {"type": "object", "additionalProperties": {"type": "string"}},
                "mindspore": {"type": "string"},
                "numpy": {"type": "string"},
                "python": {"type": "string"},
                "platform": {"type": "string"},
                "profile": {"enum": list(PROFILES)},
                "seed": {"type": "integer"},
                "command": {"type": "string"},
                "model": {"type": "string"},
                "dataset": {"type": "string"},
                "timing_seconds": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
                "started_at": {"type": "string"},
            },
        },
        "summary": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["section", "title", "verdict", "headline"],
                "properties": {"section": {"type": "string"}, "title": {"type": "string"},
                               "verdict": {"enum": list(VERDICTS)}, "headline": {"type": "string"}},
            },
        },
        "sections": {
            "type": "object",
            "properties": {"robustness": {"allOf": [{"$ref": "#/$defs/section"}, _ROBUSTNESS_CRITERIA]}},
            "additionalProperties": {"$ref": "#/$defs/section"},
        },
    },
}


def validate(report: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``report`` does not match :data:`SCHEMA`."""
    import jsonschema

    jsonschema.validate(report, SCHEMA)
