"""The committed stubs are exactly what `make protos` generates from protos/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "protos" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    generated = load_generator().generate(tmp_path)
    assert generated, "protoc produced nothing"
    for fresh in generated:
        committed = ROOT / "clients" / fresh.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is missing: run `make protos`"
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.relative_to(ROOT)} is stale: run `make protos` and commit"
        )


def test_every_message_and_field_is_documented() -> None:
    """Proto comments are the API docs: every message, field, enum value and rpc has one."""
    text = (ROOT / "protos" / "coinvoice" / "v1" / "invoice.proto").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(text):
        stripped = line.strip()
        starts = ("message ", "enum ", "rpc ", "service ")
        is_field = (
            stripped.endswith(";")
            and "=" in stripped
            and not stripped.startswith(("syntax", "package", "import", "option"))
        )
        if not (stripped.startswith(starts) or is_field):
            continue
        previous = text[number - 1].strip() if number else ""
        if stripped.startswith("message ") and stripped.endswith("{}"):
            continue
        documented = previous.startswith("//")
        if not documented and "UNSPECIFIED" not in stripped:
            undocumented.append(f"{number + 1}: {stripped}")
    assert not undocumented, "\n".join(undocumented)
