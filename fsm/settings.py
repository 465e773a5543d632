"""One frozen settings object, read from ``TRADEFSM_*`` environment variables at the edge."""

from __future__ import annotations

from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from fsm.actors import actor_name, default_actor
from fsm.calendar import DEFAULT_EXCHANGE
from fsm.configfile import read_config_file, source_of
from fsm.emailsettings import EmailSettings
from fsm.errors import InvalidConfiguration, InvalidInput
from fsm.eventsettings import http_url
from fsm.kinds import Durability
from fsm.records import ACCOUNT_ID_LENGTH

_FILE_SOURCE: ContextVar[dict[str, object] | None] = ContextVar("tradefsm_file", default=None)
ALPACA_PAPER_URL = "https://paper-api.alpaca.markets"
# printable anywhere, no escapes; as long as the column (fsm.records)
PLUGIN_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # an entry point's name
ACCOUNT_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{ACCOUNT_ID_LENGTH - 1}}}$"


DAY = 86_400  # a bound on durations: larger ones overflow timers and dates, and mean a typo
MONTH = 30 * DAY


class Settings(EmailSettings):
    """Settings of the engine, the risk limits, the embedded paper setup and (inherited) of
    events and their delivery (webhook, email)."""

    model_config = SettingsConfigDict(env_prefix="TRADEFSM_", frozen=True, extra="forbid")

    db: str = Field("sqlite:///./tradefsm.db", description="SQLAlchemy URL of the run database.")
    log_level: str | None = Field(
        None,
        pattern=r"(?i)^(debug|info|warning|error|critical)$",
        description="Log level on stderr: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case); "
        "unset: WARNING on a terminal, else INFO. `--log-level` and `-v` come first.",
    )
    paper_db: Path = Field(
        Path("./tradefsm-paper.db"), description="SQLite file of the paper broker."
    )
    account_id: str = Field(
        "paper",
        pattern=ACCOUNT_ID_PATTERN,
        description="Default account: letters, digits, '.', '_' and '-', 1 to 64 characters, "
        "starting with a letter or digit.",
    )
    actor: str = Field(
        default_factory=default_actor,
        description="Who acts in the ledger for `run`, `submit`, `retry` and `resume` (their "
        "`--actor` overrides it); default: the OS user. Workers act as `worker:<host>/<pid>`. "
        "Names: docs/approvals.md.",
    )
    live_trading_enabled: bool = Field(False, description="Allow runs in live mode.")
    cash_reserve: Decimal = Field(
        Decimal("0.01"), ge=0, lt=1, description="Share of portfolio value kept as cash."
    )
    min_trade_fraction: Decimal = Field(
        Decimal("0.01"), ge=0, lt=1, description="Smaller trades (share of value) become HOLD."
    )
    drift_threshold: Decimal = Field(
        Decimal("0.005"), ge=0, le=1, description="Largest weight drift tolerated without trading."
    )
    max_orders: int = Field(50, ge=1, description="Risk limit: orders per plan.")
    max_order_notional: Decimal = Field(
        Decimal("1000000"), gt=0, description="Risk limit: notional of one order, in dollars."
    )
    max_total_notional: Decimal = Field(
        Decimal("5000000"), gt=0, description="Risk limit: notional of a whole plan, in dollars."
    )
    allowed_symbols: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Symbols a plan may trade; empty allows every symbol."
    )
    allow_partial_success: bool = Field(
        False, description="Count a partially executed plan as success."
    )
    max_price_age_days: int = Field(
        3,
        ge=0,
        description="A plan may not trade on a price more than this many sessions of the "
        "exchange older than the run's as_of (at approval: than the approval day).",
    )
    min_price: Decimal = Field(
        Decimal("0.01"), gt=0, description="A lower price is refused as absurd (a minimum tick)."
    )
    max_price: Decimal = Field(
        Decimal("1000000"), gt=0, description="A higher price is refused as absurd."
    )
    max_price_move: Decimal = Field(
        Decimal("0.5"),
        gt=0,
        description="Largest move from the previous close in the same "
        "data, as a fraction (0.5 = 50%); a larger one is refused.",
    )
    max_order_qty: Decimal = Field(
        Decimal("1000000"), gt=0, description="Risk limit: shares in one order."
    )
    exchange: str = Field(
        DEFAULT_EXCHANGE,
        pattern=r"^[A-Za-z0-9_/]{2,16}$",
        description="The exchange whose calendar runs trade on (an exchange-calendars code such "
        "as XNYS, XLON, XTKS): paper and live runs need a session as_of and enter executing "
        "only while it is open; price age counts its sessions (docs/controls.md). It is the "
        "risk policy's exchange key: a setting may only repeat it; another value is refused.",
    )
    stale_after_days: int = Field(
        5, ge=0, description="A run whose as_of is older than this many days may not start."
    )
    approval_notional: Decimal | None = Field(
        None,
        gt=0,
        description="A plan whose total notional (dollars) exceeds this waits for a person's "
        "`tradefsm approve` (four eyes); unset: plans never wait.",
    )
    halt_after_failures: int | None = Field(
        None,
        ge=1,
        description="Kill switch throttle: this many failed executions or broker rejections of "
        "an account within halt_failure_window_seconds halt the account until a person "
        "unhalts it; unset: never.",
    )
    halt_failure_window_seconds: float = Field(
        3600, gt=0, le=MONTH, description="The window the kill switch throttle counts in."
    )
    unhalt_needs_second_person: bool = Field(
        True, description="Only someone other than the person who halted may `tradefsm unhalt`."
    )
    approval_timeout_seconds: float | None = Field(
        None,
        gt=0,
        le=MONTH,
        description="A run still waiting for approval this long after it parked fails "
        "(also when no process was running then); unset: it waits until approved or rejected.",
    )
    require_signed_approvals: bool = Field(
        False,
        description="Every `tradefsm approve` must be signed with the approver's registered "
        "key (`approve --key`, `tradefsm keys add`); live-mode runs require it whatever this "
        "says (docs/approvals.md).",
    )
    db_pool_size: int = Field(5, ge=1, le=200, description="PostgreSQL: connections kept open.")
    db_statement_timeout_ms: int = Field(
        30_000, ge=0, description="PostgreSQL: a statement running longer is cancelled (0: never)."
    )
    db_retry_seconds: float = Field(
        60,
        ge=0,
        le=DAY,
        description="How long a run's writes are retried through a transient database "
        "fault (connection lost, server restarting, lock or statement timeout) before the "
        "driver stops with the run resumable; keep it below the step timeouts.",
    )
    worker_db_outage_seconds: float = Field(
        300,
        gt=0,
        le=MONTH,
        description="A worker waits this long for the database to come back before "
        "it exits with code 3 (the runs it held stay resumable).",
    )
    db_application_name: str = Field(
        "tradefsm", max_length=63, description="PostgreSQL: application_name of the connections."
    )
    lease_renew_seconds: float | None = Field(
        None,
        gt=0,
        le=DAY,
        description="While a step runs its driver renews the lease this often (default: a "
        "quarter of the lease); it must fit three times in TRADEFSM_LEASE_SECONDS.",
    )
    lease_seconds: float = Field(
        60, gt=0, le=DAY, description="How long a run's lease lasts unless renewed by its driver."
    )
    run_deadline_seconds: float = Field(
        900, gt=0, le=MONTH, description="A run still unfinished this long after it started fails."
    )
    step_timeout_seconds: float = Field(
        120, gt=0, le=DAY, description="Timeout of one attempt of signals, analysis or planning."
    )
    execution_timeout_seconds: float = Field(
        900,
        gt=0,
        le=DAY,
        description="Timeout of the executing step (never retried: it reconciles).",
    )
    retry_attempts: int = Field(3, ge=1, le=20, description="Tries of a step on transient errors.")
    retry_base_seconds: float = Field(
        1.0, ge=0, le=DAY, description="First backoff between tries (doubles, with jitter)."
    )
    retry_max_seconds: float = Field(
        60.0, ge=0, le=DAY, description="Longest backoff between tries."
    )
    paper_reject_duplicates: bool = Field(
        True, description="The paper broker refuses a second order with the same client_order_id."
    )
    paper_latency_ms: int = Field(
        0, ge=0, le=60_000, description="Simulated latency of each paper broker call."
    )
    audit_signing_key: Path | None = Field(
        None,
        description="Ed25519 private key file (`tradefsm audit keygen`) that signs digests; "
        "when set, `run` seals after each run and workers seal periodically.",
    )
    audit_digest_dir: Path | None = Field(
        None, description="Folder the signed digest files go to (meant for write-once storage)."
    )
    audit_seal_every: float = Field(
        300, gt=0, le=MONTH, description="Seconds between digests a worker signs when a key is set."
    )
    broker_api_key: SecretStr | None = Field(
        None, description="API key of a live broker (secret: never stored or logged)."
    )
    broker: str = Field(
        "paper",
        pattern=PLUGIN_NAME,
        description="Where orders go: the name of a broker plugin (`tradefsm plugins`): the "
        "embedded paper broker, Alpaca, or an installed one.",
    )
    strategy: str = Field(
        "demo-momentum",
        pattern=PLUGIN_NAME,
        description="The strategy plugin runs use (`--strategy`; `tradefsm plugins` lists them).",
    )
    market_data: str = Field(
        "bundled",
        pattern=PLUGIN_NAME,
        description="The market data plugin runs read (`--market-data`; `--prices FILE` "
        "means csv with that file).",
    )
    plugin_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Each plugin's options, by plugin name: in tradefsm.toml a table named "
        "after the plugin (`[csv]` with `path = ...`); their hash is committed with each run.",
    )
    alpaca_api_key: SecretStr | None = Field(
        None, description="Alpaca API key id (secret: never stored, logged or exported)."
    )
    alpaca_secret_key: SecretStr | None = Field(
        None, description="Alpaca API secret key (secret: never stored, logged or exported)."
    )
    alpaca_base_url: str = Field(
        ALPACA_PAPER_URL,
        description="Alpaca trading endpoint, an http(s) URL; its paper endpoint unless set. "
        "Any other endpoint counts as live: orders go there only with "
        "TRADEFSM_LIVE_TRADING_ENABLED=true and --mode live.",
    )
    group_commit: bool = Field(
        False,
        description="A worker with --concurrency above 1 lets transitions of different "
        "runs that are ready together share one commit (docs/performance.md has the figures: "
        "it pays off with many concurrent runs on PostgreSQL).",
    )
    durability: Durability = Field(
        Durability.STRICT,
        description="`strict`: every commit is flushed to disk. `effects`: only the commits "
        "before an order is sent, a run parks or a run ends are; the others may be lost on "
        "power loss (never on a crash) and are redone on resume (docs/resume.md).",
    )
    console_token: SecretStr | None = Field(
        None, description="Token the web console asks for (needed off loopback; secret)."
    )
    order_settle_seconds: float = Field(
        60,
        ge=0,
        le=DAY,
        description="How long execution waits for sent orders to reach a final status "
        "(filled, canceled, ...) before cancelling what is still open.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: arguments (command-line flags) > environment > config file > defaults."""
        from_file = InitSettingsSource(settings_cls, init_kwargs=_FILE_SOURCE.get() or {})
        return init_settings, env_settings, from_file

    @field_validator("*", mode="before")
    @classmethod
    def _no_flag_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        """``lease_seconds = true`` in a TOML file is a mistake, not the number 1."""
        annotation = cls.model_fields[str(info.field_name)].annotation
        if isinstance(value, bool) and annotation is not bool and bool not in get_args(annotation):
            raise ValueError("a value, not true or false")
        return value

    @model_validator(mode="after")
    def _renewal_fits_the_lease(self) -> Settings:
        if (
            self.lease_renew_seconds is not None
            and self.lease_renew_seconds * 3 > self.lease_seconds
        ):
            raise ValueError(
                f"lease_renew_seconds {self.lease_renew_seconds:g} must fit three times in "
                f"lease_seconds {self.lease_seconds:g}: a slow renewal would lose the lease "
                "to another driver while this one still runs"
            )
        return self

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every secret setting's value: redacted from whatever is stored or logged."""
        values = [getattr(self, name) for name in type(self).model_fields]
        values += [s.secret for s in self.subscribers]
        return tuple(v.get_secret_value() for v in values
                     if isinstance(v, SecretStr) and v.get_secret_value())  # fmt: skip

    @property
    def live_endpoint(self) -> bool:
        """Whether orders would reach a live (real money) endpoint."""
        return self.broker == "alpaca" and self.alpaca_base_url.rstrip("/") != ALPACA_PAPER_URL

    @property
    def renew_every(self) -> float:
        """Seconds between lease renewals while a step runs."""
        return self.lease_renew_seconds or self.lease_seconds / 4

    @field_validator("alpaca_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value, ALPACA_PAPER_URL)

    @field_validator("actor")
    @classmethod
    def _actor_name(cls, value: str) -> str:
        try:
            return actor_name(value)
        except InvalidInput as exc:  # the message, without pydantic's "Value error" prefix
            raise PydanticCustomError("actor_name", "{reason}", {"reason": exc.message}) from exc

    @field_validator("allowed_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(s.strip().upper() for s in value.split(",") if s.strip())
        return value


def load_settings(**overrides: object) -> Settings:
    """Build settings from explicit overrides, then the environment, then the config file
    (``CONFIG_FILE``, when set), then defaults; one-line InvalidConfiguration if invalid."""
    file_values = read_config_file(Settings.model_fields)
    try:
        token = _FILE_SOURCE.set(file_values)
        try:
            return Settings(**overrides)  # type: ignore[arg-type]  # overrides are validated here
        finally:
            _FILE_SOURCE.reset(token)
    except ValidationError as exc:
        first = exc.errors()[0]
        said = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # settings that do not fit together
            raise InvalidConfiguration(f"invalid settings: {said}") from exc
        where = ".".join(str(p) for p in first["loc"])
        field = Settings.model_fields.get(where)
        pattern = field is not None and first["type"] == "string_pattern_mismatch"
        if pattern and field:  # the expression itself would tell a person nothing
            said = f"{first['input']!r} does not fit. {field.description}"
        raise InvalidConfiguration(
            f"invalid setting {where}: {said} ({source_of(where, overrides, file_values)})"
        ) from exc
    except SettingsError as exc:
        raise InvalidConfiguration(f"cannot read settings: {exc}") from exc
