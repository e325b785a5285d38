"""The JSON schema of ``report.json`` (versioned) and a validator."""

from __future__ import annotations

from typing import Any

from .context import VERDICTS

SCHEMA_VERSION = "1.0"

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "armour audit report",
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
                "profile": {"enum": ["quick", "standard", "thorough"]},
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
            "additionalProperties": {
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
                },
            },
        },
    },
}


def validate(report: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``report`` does not match :data:`SCHEMA`."""
    import jsonschema

    jsonschema.validate(report, SCHEMA)
