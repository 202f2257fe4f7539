"""python -m annotary_annotation_api: the web gateway."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from typing import Any

from annotary_annotation_api.adapters.clients import Clients
from annotary_annotation_api.entrypoints.http import Deps, create_app
from annotary_annotation_api.entrypoints.ratelimit import RateLimit
from annotary_annotation_api.service_layer import audit_events
from annotary_annotation_api.service_layer.users import ensure_admin
from annotary_annotation_api.settings import ApiSettings
from annotary_common.runtime import ServiceRuntime

log = logging.getLogger(__name__)


def signing_key(settings: ApiSettings) -> bytes:
    """The HMAC key of signed links: the configured one, else derived from the admin token, else random."""
    if settings.signing_key:
        return settings.signing_key.encode()
    if settings.admin_token:
        return hmac.new(settings.admin_token.encode(), b"annotary-signed-links", hashlib.sha256).digest()
    return secrets.token_bytes(32)


async def main() -> int:
    settings = ApiSettings()
    rt = ServiceRuntime("annotation-api", settings.common)

    async def setup() -> Any:
        pool = await rt.open_database("annotary_annotation_api")
        if settings.admin_token:
            async with pool.acquire() as conn:
                await ensure_admin(conn, settings.admin_token)
        store = await rt.open_object_store()
        # Annotation changes (made by the orchestrator and qa) reach the audit log through their events.
        await rt.open_producer()
        audit_events.subscribe(rt.consumer())
        await rt.start_broker()
        clients = Clients.open(settings.common)
        rt.stack.push_async_callback(clients.close)
        deps = Deps(pool=pool, clients=clients, store=store, static_dir=settings.static_dir,
                    signing_key=signing_key(settings))
        app = RateLimit(
            create_app(deps, settings.max_body_bytes),
            per_s=settings.rate_limit_per_s,
            burst=settings.rate_limit_burst,
            anon_per_s=settings.anon_rate_limit_per_s,
            anon_burst=settings.anon_rate_limit_burst,
        )
        return app

    return await rt.run(setup, settings.port)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
