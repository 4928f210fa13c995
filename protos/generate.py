"""Generate the Python stubs in clients/coinvoice/v1 from protos/coinvoice/v1/*.proto.

Run through `make protos`. tests/test_protos.py runs `generate(tmpdir)` and fails
when the committed stubs differ from freshly generated ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = PROTO_ROOT.parent / "clients"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / "coinvoice" / "v1").glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi and *_pb2_grpc.py under out_dir; return the files written."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p.relative_to(PROTO_ROOT)) for p in proto_files()],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    return sorted((out_dir / "coinvoice" / "v1").glob("*_pb2*.py*"))


if __name__ == "__main__":
    written = generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
    for path in written:
        print(path)
