"""python -m annotary_annotation_api: the web gateway."""

from __future__ import annotations

import asyncio
import logging

from annotary_annotation_api.adapters.clients import Clients
from annotary_annotation_api.entrypoints.http import Deps, create_app
from annotary_annotation_api.service_layer.users import ensure_admin
from annotary_annotation_api.settings import ApiSettings
from annotary_common.runtime import ServiceRuntime
from annotary_common.storage import open_object_store

log = logging.getLogger(__name__)


async def main() -> int:
    settings = ApiSettings()
    rt = ServiceRuntime("annotation-api", settings.common)
    try:
        pool = await rt.open_database("annotary_annotation_api")
        if settings.admin_token:
            async with pool.acquire() as conn:
                await ensure_admin(conn, settings.admin_token)
        store = await rt.stack.enter_async_context(open_object_store(settings.common))
        clients = Clients.open(settings.common)
        rt.stack.push_async_callback(clients.close)
        app = create_app(
            Deps(pool=pool, clients=clients, store=store, static_dir=settings.static_dir), settings.max_body_bytes
        )
    except BaseException:
        await rt.stack.aclose()
        raise
    return await rt.serve(settings.port, app=app)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
