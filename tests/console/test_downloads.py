"""Downloads: a run's export and evidence bundle from its page, the same bytes the command
line gives, and the runs list as CSV under the page's filters."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsm import bundle
from fsm.digests import load_anchors
from fsm.display import RUN_CSV_COLUMNS
from fsm.keyfiles import load_public_key
from tests.audit.conftest import signing  # noqa: F401 (a fixture: runs sealed as they end)
from tests.cli.conftest import Cli
from tests.console.conftest import Runs, console_for


@pytest.fixture(scope="module")
def client(runs: Runs) -> TestClient:
    return TestClient(console_for(runs.url).app(), follow_redirects=False)


def _cli_on(url: str, folder: Path) -> Cli:
    cli = Cli(folder)
    cli.env["TRADEFSM_DB"] = url
    return cli


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_runs_csv_keeps_the_filters(client: TestClient, runs: Runs) -> None:
    page = client.get("/?account=gamma")
    assert 'id="runs-csv" href="/?account=gamma&amp;format=csv"' in page.text
    got = client.get("/?account=gamma&format=csv")
    assert got.headers["content-disposition"] == 'attachment; filename="runs.csv"'
    assert got.headers["x-content-type-options"] == "nosniff"
    rows = _rows(got.text)
    assert [r["run_id"] for r in rows] == [runs.waiting.run_id]
    assert tuple(rows[0]) == RUN_CSV_COLUMNS


def test_the_runs_csv_is_what_runs_list_prints(
    client: TestClient, runs: Runs, tmp_path: Path
) -> None:
    printed = _cli_on(runs.url, tmp_path)("runs", "list", "--status", "failed", "--format", "csv")
    got = client.get("/?status=failed&format=csv")
    assert _rows(got.text) == _rows(printed.stdout)  # the same cells (text mode reads \r\n)
    assert {r["run_id"] for r in _rows(got.text)} == {runs.refused.run_id, runs.cancelled.run_id}


def test_a_failure_filter_and_a_search_reach_the_csv(client: TestClient, runs: Runs) -> None:
    cancelled = _rows(client.get("/?failure=cancelled&format=csv").text)
    assert [r["run_id"] for r in cancelled] == [runs.cancelled.run_id]
    found = client.get("/", params={"q": runs.done.correlation_id, "format": "csv"})
    assert found.status_code == 200  # a download, not the redirect to the one run
    assert [r["run_id"] for r in _rows(found.text)] == [runs.done.run_id]


def test_a_bad_format_is_a_400(client: TestClient) -> None:
    got = client.get("/?format=xlsx")
    assert got.status_code == 400
    assert "format must be one of csv" in got.text


def test_the_export_is_what_audit_export_writes(
    client: TestClient, runs: Runs, tmp_path: Path
) -> None:
    run_id = runs.done.run_id
    _cli_on(runs.url, tmp_path)("audit", "export", "--run", run_id[:10], "--output", "run.json")
    got = client.get(f"/runs/{run_id[:10]}/export.json")
    assert got.status_code == 200
    assert got.headers["content-disposition"] == f'attachment; filename="run-{run_id}.json"'
    assert got.content == (tmp_path / "run.json").read_bytes()
    page = client.get(f"/runs/{run_id}").text
    assert f'href="/runs/{run_id}/export.json"' in page


def test_an_unsealed_run_has_no_evidence_bundle(client: TestClient, runs: Runs) -> None:
    got = client.get(f"/runs/{runs.done.run_id}/evidence.zip")
    assert got.status_code == 400
    assert "audit seal" in got.text
    assert got.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_evidence_bundle_is_the_folder_export_writes(signing: Cli, tmp_path: Path) -> None:  # noqa: F811
    signing("run", "--account", "other")  # two runs: the proof has a path
    run_id = signing.json("run", "--json")["run_id"]
    signing("audit", "export", "--run", run_id, "--bundle", "evidence")
    public_path = signing.folder / "keys" / "tradefsm-audit.pub"
    anchors = load_anchors(signing.folder / "digests", [public_path])
    client = TestClient(console_for(signing.env["TRADEFSM_DB"], anchors=anchors).app())
    assert "once a digest seals" not in client.get(f"/runs/{run_id}").text
    got = client.get(f"/runs/{run_id}/evidence.zip")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(got.content)).extractall(tmp_path / "unzipped")
    [folder] = (tmp_path / "unzipped").iterdir()
    written = signing.folder / "evidence"
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written.iterdir())
    for path in written.iterdir():
        assert (folder / path.name).read_bytes() == path.read_bytes(), path.name
    assert bundle.verify(folder, [load_public_key(public_path)]) == []
    assert client.get(f"/runs/{run_id}/evidence.zip").content == got.content  # same bytes
