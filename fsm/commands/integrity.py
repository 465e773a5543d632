"""`tradefsm audit verify|coverage|keygen|seal`: proof that the history was not edited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from fsm.audit import UNANCHORED, AuditQueries, VerifyReport
from fsm.commands.output import Format, emit, print_json, stderr, stdout
from fsm.commands.runs import DbOption
from fsm.runids import resolve_run_id

Sealer = Callable[[str | None, Path | None], dict[str, Any]]
TAMPERED_EXIT = 8
COVERAGE_COLUMNS = ("table", "column", "committed", "by", "how")


def register(
    audit: typer.Typer, open_audit: Callable[[str | None], AuditQueries], seal_now: Sealer
) -> None:
    @audit.command("verify")
    def verify(
        db: DbOption = None,
        run: Annotated[str | None, typer.Option(help="Only this run (exit 4 if unknown).")] = None,
        digests: Annotated[
            Path | None, typer.Option(help="Folder of signed digest files to check against.")
        ] = None,
        public_key: Annotated[
            list[Path] | None,
            typer.Option(help="Public key file(s) of the digests (repeat after a rotation)."),
        ] = None,
        archive: Annotated[
            Path | None,
            typer.Option(
                help="Folder of archived runs' bundles (`retention apply --archive`) "
                "to check against their tombstones (and --public-key)."
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Check every hash chain and what it commits to; exit 8 listing each finding."""
        anchors = None
        if digests is not None or public_key:
            if digests is None or not public_key:
                raise typer.BadParameter("--digests and --public-key go together")
            from fsm.digests import load_anchors

            anchors = load_anchors(digests, public_key)
        queries = open_audit(db)
        full_id = resolve_run_id(queries.run_ids_starting, run) if run is not None else None
        report = queries.verify(full_id, anchors, archive)
        if as_json:
            print_json(report.as_json())
        else:
            _print_report(report)
        raise typer.Exit(0 if report.ok else TAMPERED_EXIT)

    @audit.command("verify-bundle")
    def verify_bundle(
        folder: Annotated[Path, typer.Argument(help="The folder `audit export --bundle` wrote.")],
        public_key: Annotated[
            list[Path], typer.Option(help="Public key file(s) the digest may be signed with.")
        ],
    ) -> None:
        """Check an evidence bundle offline, without any database: the run's chain and what it
        commits to, the Merkle inclusion proof and the digest's signature; exit 8 if not."""
        from fsm import bundle
        from fsm.keyfiles import load_public_key

        keys = [load_public_key(k) for k in public_key]
        findings = bundle.verify(folder, keys)
        for finding in findings:
            stderr.print(f"{finding.where()}: {finding.kind}: {finding.problem}",
                         markup=False, highlight=False)  # fmt: skip
        verdict = "intact" if not findings else f"TAMPERED: {len(findings)} finding(s)"
        stdout.print(f"evidence bundle {folder}: {verdict}", markup=False)
        raise typer.Exit(0 if not findings else TAMPERED_EXIT)

    @audit.command("coverage")
    def coverage(
        db: DbOption = None,
        fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
    ) -> None:
        """Every column of every table (the schema and this database): which chain, digest or
        commitment proves it, or why it need not be; exit 8 if a column is not in the map."""
        rows = open_audit(db).coverage()
        emit(rows, COVERAGE_COLUMNS, fmt, f"{len(rows)} column(s)")
        unknown = [f"{r['table']}.{r['column']}" for r in rows if not r["classified"]]
        if unknown:
            stderr.print(f"error: not in the coverage map: {', '.join(unknown)}", markup=False,
                         highlight=False)  # fmt: skip
            raise typer.Exit(TAMPERED_EXIT)

    @audit.command("keygen")
    def keygen(
        out: Annotated[Path, typer.Option(help="Folder for the key pair.")],
    ) -> None:
        """Write an Ed25519 key pair for signing digests (private key file mode 0600); never
        overwrites either file of an existing pair."""
        from fsm.keyfiles import generate_keys, key_id, load_public_key

        private, public = generate_keys(out)
        stdout.print(f"private key {private} (keep it off the database host's backups; set "
                     f"TRADEFSM_AUDIT_SIGNING_KEY to it)\npublic key {public}, key id "
                     f"{key_id(load_public_key(public))} (give it to auditors: `audit verify "
                     "--public-key`)", markup=False)  # fmt: skip

    @audit.command("seal")
    def seal(
        db: DbOption = None,
        out: Annotated[
            Path | None, typer.Option(help="Digest folder (default: TRADEFSM_AUDIT_DIGEST_DIR).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the digest as JSON.")] = False,
    ) -> None:
        """Sign a digest of every run changed since the last digest; store it and write it."""
        document = seal_now(db, out)
        if as_json:
            print_json(document)
            return
        stdout.print(f"digest {document['n']}: {len(document['runs'])} run head(s) of "
                     f"{document['runs_total']} run(s) sealed, key {document['key_id']}",
                     markup=False)  # fmt: skip


def _print_report(report: VerifyReport) -> None:
    for finding in report.findings:
        stderr.print(f"{finding.where()}: {finding.kind}: {finding.problem}",
                     markup=False, highlight=False)  # fmt: skip
    verdict = "intact" if report.ok else f"TAMPERED: {len(report.findings)} finding(s)"
    stdout.print(f"{report.rows} ledger row(s) in {report.runs} run(s): {verdict}", markup=False)
    if report.legacy_runs:
        stdout.print(f"{report.legacy_runs} run(s) written before commitments (legacy scheme "
                     "1): their chain covers transitions only, not identity, checkpoints or "
                     "orders", markup=False)  # fmt: skip
    for run_id, bundle_hash in report.archived.items():
        stdout.print(f"run {run_id}: archived, bundle {bundle_hash}", markup=False)
    if report.anchored:
        stdout.print(f"checked against {report.digests} signed digest(s)", markup=False)
    else:
        stdout.print(f"not anchored: {UNANCHORED}", markup=False)
