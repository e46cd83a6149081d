"""The product enrichment run, defined once: config, feed, lease, settle, read, plan, write, report.

One run does up to three things, each only when asked for:

- **enrich** (a feed and a supplier): read and normalise the feed, match its rows, fill the gaps;
- **categorise** (a rule file): assign items to the categories of the first rule that fits;
- **quality** (``params.quality``): the data quality report, of Wawi after this run's writes.

:func:`run_stages` says in which order, that nothing is written before the rule file, the mapping, the feed
and the supplier have been checked, that the lease is released whatever happens, and that the feed's
fingerprint is remembered only after a run that wrote everything it could. :class:`LocalStages` runs
the stages as plain calls (tests), ``tasks.product_enrichment.TaskStages`` as Prefect tasks (the flow).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.project import ProjectNotFound, project_root
from jtl_automator.services.product_enrichment.apply import (
    APPLIED,
    ApplyContext,
    WriteOutcome,
    apply_assignments,
    apply_fills,
    settle_pending,
)
from jtl_automator.services.product_enrichment.params import FEED_MARK, LEASE_NAME, ProductEnrichmentParams
from jtl_automator.services.product_enrichment.reads import Catalogue, Needs, load_catalogue, resolve_supplier
from jtl_automator.services.product_enrichment.report import RunParts, summary, write_workbook
from jtl_automator.services.product_enrichment.sources import FeedRead, SheetOpener, read_feed
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.categorisation import (
    CategoryRules,
    assignments,
    categorise,
    unknown_categories,
)
from jtl_automator.transforms.product_enrichment import fill_decisions, match_feed, writes
from jtl_automator.transforms.product_feed import FeedError, FeedMapping, FeedMappings, normalise_feed
from jtl_automator.transforms.product_quality import quality_counts, quality_report
from jtl_automator.yaml_config import ConfigFileError, line_of, load_yaml_model

LEASE_HELD = "another run holds the product enrichment lease"


@dataclass(frozen=True)
class Request:
    """What one run is asked to do (the flow's parameters besides ``params``)."""

    feed: str | None = None
    supplier: str | None = None
    rules_file: str | None = None
    only_if_changed: bool = False
    output: str | None = None

    def describe(self) -> str:
        """``enrich + categorise + quality``: the parts this run does."""
        return (
            ", ".join(p for p, on in (("enrich", self.feed), ("categorise", self.rules_file)) if on)
            or "quality"
        )


@dataclass(frozen=True)
class Config:
    """The run's checked configuration: the feed's mapping and the category rules (with their text)."""

    mapping: FeedMapping | None = None
    rules: CategoryRules | None = None
    rules_text: str = ""


@dataclass
class Plan:
    """Everything the run decided, before anything is written."""

    parts: RunParts
    fill_writes: pd.DataFrame | None = None
    assignments: dict[int, list[int]] = field(default_factory=dict)
    skus: dict[int, str] = field(default_factory=dict)


def config_path(name: str) -> Path:
    """A configuration file: as given when it exists (or is absolute), else in the project folder."""
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    try:
        found = project_root() / path
    except ProjectNotFound:
        return path
    return found if found.exists() else path


def load_config(request: Request, params: ProductEnrichmentParams) -> Config:
    """The mapping of the request's supplier and the rule file; every mistake stops the run here."""
    if bool(request.feed) != bool(request.supplier):
        raise ValueError("a feed needs its supplier (--supplier NAME) and a supplier its feed (--feed)")
    mapping = None
    if request.feed and request.supplier:
        mappings = load_yaml_model(config_path(params.mapping_file), FeedMappings)
        try:
            mapping = mappings.get(request.supplier)
        except KeyError as exc:
            raise ConfigFileError(params.mapping_file, [f"{params.mapping_file}: {exc.args[0]}"]) from None
    rules = None
    text = ""
    if request.rules_file:
        path = config_path(request.rules_file)
        rules = load_yaml_model(path, CategoryRules)
        text = path.read_text(encoding="utf-8")
    return Config(mapping, rules, text)


def needs(request: Request, config: Config, params: ProductEnrichmentParams) -> Needs:
    """The optional reads of this run (see ``reads``)."""
    matches = [rule.match for rule in config.rules.rules] if config.rules else []
    return Needs(
        suppliers=bool(request.feed) or any(m.supplier for m in matches),
        images=params.quality and params.check_images,
        properties=any(m.properties for m in matches),
        manufacturers=any(m.manufacturer for m in matches),
    )


def check_categories(request: Request, config: Config, catalogue: Catalogue) -> None:
    """Every rule's category must be one Wawi category: else the run stops, naming the rule and its line."""
    if config.rules is None:
        return
    problems = unknown_categories(config.rules, catalogue.paths)
    if problems:
        source = str(request.rules_file)
        lines = []
        for position, problem in problems:
            line = line_of(config.rules_text, ["rules", position, "category"])
            where = f"{source}:{line}" if line else source
            lines.append(f"{where}: rules[{position}].category: {problem}")
        raise ConfigFileError(source, lines)


def plan_run(
    request: Request,
    config: Config,
    catalogue: Catalogue,
    feed: FeedRead | None,
    params: ProductEnrichmentParams,
) -> Plan:
    """Every decision of the run (pure given its inputs): matches, fills, conflicts, categories."""
    parts = RunParts()
    plan = Plan(
        parts, skus=dict(zip(catalogue.items["item_id"], catalogue.items["sku"].fillna(""), strict=True))
    )
    if feed is not None and config.mapping is not None and request.supplier:
        wanted = (
            config.mapping.wawi_supplier if config.mapping.wawi_supplier is not None else request.supplier
        )
        try:
            supplier_id = resolve_supplier(wanted, catalogue.suppliers)
        except LookupError as exc:
            raise FeedError(f"supplier {request.supplier!r}: {exc}") from None
        normalised = normalise_feed(
            feed.grid,
            config.mapping,
            source=feed.source,
            number=feed.number,
            plausibility=params.plausibility,
            bad_lines=feed.bad_lines,
        )
        parts.feed_rows, parts.rejected = normalised.total_rows, normalised.rejected
        parts.matches = match_feed(normalised.rows, catalogue.items, catalogue.supplier_rows, supplier_id)
        parts.decisions, parts.same = fill_decisions(
            normalised.rows, parts.matches, catalogue.items, params.rules
        )
        plan.fill_writes = writes(parts.decisions)
    if config.rules is not None:
        items = catalogue.items[["item_id", "sku", "name"]].assign(
            description=(
                catalogue.items["description"].fillna("")
                + " "
                + catalogue.items["short_description"].fillna("")
            ).str.strip(),
            manufacturer=catalogue.items["manufacturer"],
        )
        parts.categorised = categorise(
            items, config.rules, catalogue.paths, catalogue.memberships, catalogue.links
        )
        plan.assignments = assignments(parts.categorised)
    return plan


def after_writes(items: pd.DataFrame, outcomes: list[WriteOutcome]) -> pd.DataFrame:
    """The catalogue as Wawi holds it after the applied writes (for the quality report)."""
    items = items.copy()
    position = {int(i): n for n, i in enumerate(items["item_id"])}
    for outcome in outcomes:
        if outcome.result != APPLIED or outcome.item_id not in position:
            continue
        row = items.index[position[outcome.item_id]]
        if outcome.target == "category":
            items.loc[row, "category_count"] += 1
        elif outcome.target in items.columns:
            column = items[outcome.target]
            value: Any = float(outcome.value) if pd.api.types.is_float_dtype(column) else outcome.value
            items.loc[row, outcome.target] = value
    return items


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def read_feed(self, source: str, mapping: FeedMapping) -> FeedRead:
        """The feed's cells and fingerprint."""
        ...

    def feed_unchanged(self, request: Request, feed: FeedRead) -> bool:
        """Whether this feed's fingerprint is the one the last full run processed."""
        ...

    def acquire_lease(self) -> LeaseInfo | None:
        """None once the lease is ours, else who holds it."""
        ...

    def release_lease(self) -> None:
        """Give the lease back (also after a failure)."""
        ...

    def settle(self) -> list[WriteOutcome]:
        """Writes an interrupted run left unrecorded, settled against Wawi."""
        ...

    def load(self, needs: Needs) -> Catalogue:
        """Wawi's catalogue, as far as the run needs it."""
        ...

    def plan(self, request: Request, config: Config, catalogue: Catalogue, feed: FeedRead | None) -> Plan:
        """Every decision (pure)."""
        ...

    def fill(self, todo: pd.DataFrame) -> list[WriteOutcome]:
        """The fills, exactly once."""
        ...

    def assign(self, todo: dict[int, list[int]], skus: dict[int, str]) -> list[WriteOutcome]:
        """The category assignments, exactly once."""
        ...

    def report(self, catalogue: Catalogue, plan: Plan, result: dict[str, Any], *, dry_run: bool) -> str:
        """The quality report and the workbook; returns the workbook's path."""
        ...

    def remember_feed(self, request: Request, feed: FeedRead) -> None:
        """Keep the processed feed's fingerprint."""
        ...


def feed_mark(request: Request) -> str:
    """The watermark of a supplier's feed source (hashed: sources can be long paths)."""
    digest = hashlib.sha256(f"{request.supplier}\n{request.feed}".encode()).hexdigest()[:32]
    return f"{FEED_MARK}:{digest}"


def skipped(reason: str, *, dry_run: bool, **extra: Any) -> dict[str, Any]:
    """The result of a run that did nothing."""
    return {"skipped": reason, "dry_run": dry_run, **extra}


def run_stages(
    stages: Stages, request: Request, params: ProductEnrichmentParams, *, dry_run: bool
) -> dict[str, Any]:
    """The run (see the module); a dry run takes no lease, settles and writes nothing, keeps the mark."""
    config = load_config(request, params)
    feed = stages.read_feed(str(request.feed), config.mapping) if request.feed and config.mapping else None
    if feed is not None and request.only_if_changed and stages.feed_unchanged(request, feed):
        return skipped("the feed has not changed since the last run", dry_run=dry_run, feed=request.feed)
    holder = None if dry_run else stages.acquire_lease()
    if holder is not None:
        return skipped(f"{LEASE_HELD} ({holder.owner})", dry_run=dry_run, lease_owner=holder.owner)
    try:
        settled = [] if dry_run else stages.settle()
        catalogue = stages.load(needs(request, config, params))
        check_categories(request, config, catalogue)
        plan = stages.plan(request, config, catalogue, feed)
        plan.parts.settled = settled
        if not dry_run:
            if plan.fill_writes is not None and not plan.fill_writes.empty:
                plan.parts.outcomes.extend(stages.fill(plan.fill_writes))
            if plan.assignments:
                plan.parts.outcomes.extend(stages.assign(plan.assignments, plan.skus))
        result = summary(
            plan.parts,
            dry_run=dry_run,
            table_rows=params.table_rows,
            feed=request.feed,
            supplier=request.supplier,
            notes=catalogue.notes,
        )
        result["parts"] = request.describe()
        result["workbook"] = stages.report(catalogue, plan, result, dry_run=dry_run)
        if feed is not None and not dry_run and not result["failed"]:
            stages.remember_feed(request, feed)
    finally:
        if not dry_run:
            stages.release_lease()
    return result


def lease_keeper(store: StateStore, params: ProductEnrichmentParams, run_id: str) -> LeaseKeeper:
    """The run's lease: two enrichment runs never write the same items at once."""
    return LeaseKeeper.for_run(
        store,
        LEASE_NAME,
        run_id,
        ttl_seconds=params.lease_ttl_seconds,
        heartbeat_seconds=params.lease_heartbeat_seconds,
    )


def workbook_path(params: ProductEnrichmentParams, request: Request, now: datetime, *, dry_run: bool) -> Path:
    """``request.output``, else ``<output_dir>/product-enrichment-<UTC time>[-dry-run].xlsx``."""
    if request.output:
        return Path(request.output)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(params.output_dir) / f"product-enrichment-{stamp}{'-dry-run' if dry_run else ''}.xlsx"


def write_report(
    catalogue: Catalogue,
    plan: Plan,
    result: dict[str, Any],
    params: ProductEnrichmentParams,
    path: Path,
    *,
    dry_run: bool,
) -> str:
    """The quality report (of Wawi after the applied writes) and the workbook; fills in ``result``."""
    if params.quality:
        plan.parts.quality = quality_report(
            after_writes(catalogue.items, plan.parts.outcomes), params.plausibility
        )
        result["quality"] = quality_counts(plan.parts.quality)
    write_workbook(path, plan.parts, result, dry_run=dry_run)
    return str(path)


@dataclass
class LocalStages:
    """Every stage as a plain call in this process."""

    wawi: WawiClient
    store: StateStore
    params: ProductEnrichmentParams
    request: Request
    run_id: str = "local"
    now: datetime | None = None
    open_sheet: SheetOpener | None = None
    dry_run: bool = False
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = lease_keeper(self.store, self.params, self.run_id)
        self.now = self.now or datetime.now(UTC)

    def read_feed(self, source: str, mapping: FeedMapping) -> FeedRead:
        """See :class:`Stages`."""
        return read_feed(source, mapping, self.open_sheet)

    def feed_unchanged(self, request: Request, feed: FeedRead) -> bool:
        """See :class:`Stages`."""
        return self.store.get_watermark(feed_mark(request)) == feed.fingerprint

    def acquire_lease(self) -> LeaseInfo | None:
        """See :class:`Stages`."""
        return self.lease.take()

    def release_lease(self) -> None:
        """See :class:`Stages`."""
        self.lease.release()

    def settle(self) -> list[WriteOutcome]:
        """See :class:`Stages`."""
        return settle_pending(self.wawi, self.store)

    def load(self, needs: Needs) -> Catalogue:
        """See :class:`Stages`."""
        assert self.now is not None
        return load_catalogue(self.wawi, self.store, self.params, needs, self.now)

    def plan(self, request: Request, config: Config, catalogue: Catalogue, feed: FeedRead | None) -> Plan:
        """See :class:`Stages`."""
        return plan_run(request, config, catalogue, feed, self.params)

    def _context(self) -> ApplyContext:
        return ApplyContext(self.wawi, self.store, self.params, self.run_id, self.lease)

    def fill(self, todo: pd.DataFrame) -> list[WriteOutcome]:
        """See :class:`Stages`."""
        return apply_fills(self._context(), todo)

    def assign(self, todo: dict[int, list[int]], skus: dict[int, str]) -> list[WriteOutcome]:
        """See :class:`Stages`."""
        return apply_assignments(self._context(), todo, skus)

    def report(self, catalogue: Catalogue, plan: Plan, result: dict[str, Any], *, dry_run: bool) -> str:
        """See :class:`Stages`."""
        assert self.now is not None
        path = workbook_path(self.params, self.request, self.now, dry_run=dry_run)
        return write_report(catalogue, plan, result, self.params, path, dry_run=dry_run)

    def remember_feed(self, request: Request, feed: FeedRead) -> None:
        """See :class:`Stages`."""
        self.store.reset_watermark(feed_mark(request), feed.fingerprint)


def run_product_enrichment(
    wawi: WawiClient,
    store: StateStore,
    request: Request,
    params: ProductEnrichmentParams | None = None,
    *,
    dry_run: bool = False,
    run_id: str = "local",
    now: datetime | None = None,
    open_sheet: SheetOpener | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests)."""
    params = params or ProductEnrichmentParams()
    started = time.perf_counter()
    stages = LocalStages(wawi, store, params, request, run_id, now, open_sheet, dry_run)
    result = run_stages(stages, request, params, dry_run=dry_run)
    if "skipped" not in result:
        result["seconds"] = round(time.perf_counter() - started, 3)
    return result
