"""Schemathesis hooks for the CI run: ruleset bodies are TOML text (application/toml)."""

import schemathesis


@schemathesis.serializer("application/toml")
def toml_text(ctx, value):
    """Sends a generated string as the TOML document, anything else as its JSON text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    import json

    return json.dumps(value).encode("utf-8")
