"""The console's downloads: a run's export and evidence bundle, and a list of runs as CSV.

Each is the bytes the command line gives for the same request: the export is what
`audit export --output` writes, the evidence bundle is the folder `audit export --bundle`
writes (zipped, one folder named after the run, for `audit verify-bundle`), and the runs CSV
has the columns and cells of `runs list --format csv`.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.responses import Response

from fsm.audit import AuditQueries
from fsm.csvcells import csv_text
from fsm.display import RUN_CSV_COLUMNS, run_csv_row
from fsm.ports import RunStore
from fsm.views import export_bundle, export_json

# The fixed time of every member of a zipped bundle: the same run and digest, the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
RUNS_CSV_LIMIT = 10_000  # the newest runs a runs-list CSV holds (`runs list --limit` for more)


def export(audit: AuditQueries, store: RunStore, run_id: str, headers: Mapping[str, str]
           ) -> Response:  # fmt: skip
    """The run's JSON bundle (``fsm.views.export_bundle``) with its verification."""
    bundle = export_bundle(store, run_id, audit.verify(run_id).as_json())
    return _attachment(export_json(bundle), "application/json", f"run-{run_id}.json", headers)


def evidence(audit: AuditQueries, run_id: str, headers: Mapping[str, str]) -> Response:
    """The evidence bundle, zipped; a run no digest seals at its head is an error naming
    `audit seal` (the export refuses it, as the command line does)."""
    with tempfile.TemporaryDirectory(prefix="tradefsm-evidence-") as tmp:
        folder = Path(tmp) / f"evidence-{run_id}"
        files = audit.export_evidence(run_id, folder)
        data = zipped(folder, files)
    return _attachment(data, "application/zip", f"evidence-{run_id}.zip", headers)


def zipped(folder: Path, files: Iterable[Path]) -> bytes:
    """The files, under the folder's name, in a zip that depends only on their bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            member = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder)}", ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, path.read_bytes())
    return buffer.getvalue()


def runs_csv(runs: Iterable[dict[str, Any]], headers: Mapping[str, str]) -> Response:
    return csv([run_csv_row(r) for r in runs], RUN_CSV_COLUMNS, "runs.csv", headers)


def csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str,
        headers: Mapping[str, str]) -> Response:  # fmt: skip
    return _attachment(csv_text(rows, columns).encode(), "text/csv", filename, headers)


def _attachment(data: bytes, media_type: str, filename: str,
                headers: Mapping[str, str]) -> Response:  # fmt: skip
    return Response(data, media_type=media_type, headers={
        **headers, "Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
