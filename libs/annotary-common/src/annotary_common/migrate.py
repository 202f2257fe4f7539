"""Apply services' database migrations outside the services (a Helm hook Job, a compose one-shot).

Every service also migrates its own schema at start-up (:meth:`ServiceRuntime.open_database`); running
this first lets a rollout start on an up-to-date schema instead of every new pod racing for the lock.
The same code runs in both places: :func:`annotary_common.db.migrate`, once per schema, under an
advisory lock.

    python -m annotary_common.migrate orchestrator qa        # in an image that holds those services
    annotary migrate                                          # every service, from the CLI
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from annotary_common.db import check_schema_name, create_database, create_pool, migrate
from annotary_common.settings import CommonSettings

log = logging.getLogger(__name__)

# The services that own a schema, in the order of docs/runtime.md.
SERVICES: tuple[str, ...] = ("annotation-api", "orchestrator", "qa", "ingest", "export", "preannotate")


class MigrationError(Exception):
    """A service's migrations cannot be run (unknown service, package not installed, bad DSN)."""


@dataclass(frozen=True)
class ServiceMigrations:
    service: str
    schema: str
    package: str


def resolve(service: str) -> ServiceMigrations:
    """Where ``service``'s migrations live: schema ``<name>``, package ``annotary_<name>`` (hyphens become
    underscores), like the service runtime derives them."""
    if service not in SERVICES:
        raise MigrationError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    schema = check_schema_name(service.replace("-", "_"))
    package = f"annotary_{schema}"
    if importlib.util.find_spec(package) is None or importlib.util.find_spec(f"{package}.migrations") is None:
        raise MigrationError(f"service {service!r}: package {package} (with its migrations) is not installed")
    return ServiceMigrations(service=service, schema=schema, package=package)


async def migrate_services(
    dsn: str, services: Sequence[str], *, create_db: bool = False
) -> dict[str, list[str]]:
    """Apply the pending migrations of ``services`` on ``dsn``; returns the names applied per service.

    Every service is resolved before anything is applied, so a typo changes nothing."""
    if not services:
        raise MigrationError("no service to migrate")
    targets = [resolve(name) for name in dict.fromkeys(services)]
    if create_db:
        await create_database(dsn)
    applied: dict[str, list[str]] = {}
    for target in targets:
        pool = await create_pool(dsn, target.schema, min_size=1, max_size=1)
        try:
            applied[target.service] = await migrate(pool, target.schema, target.package)
        finally:
            await pool.close()
        log.info(
            "service migrated",
            extra={"service": target.service, "schema": target.schema, "applied": len(applied[target.service])},
        )
    return applied


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotary_common.migrate", description="Apply Annotary services' database migrations."
    )
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=f"default: all of {', '.join(SERVICES)}")
    parser.add_argument("--database-url", help="Postgres DSN (default: ANNOTARY_DATABASE_URL)")
    parser.add_argument("--create-database", action="store_true", help="create the database if it is missing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    dsn = args.database_url or CommonSettings().database_url
    try:
        applied = asyncio.run(migrate_services(dsn, args.services or SERVICES, create_db=args.create_database))
    except MigrationError as exc:
        log.error("%s", exc)
        return 2
    for service, names in applied.items():
        log.info("%s: %s", service, ", ".join(names) if names else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
