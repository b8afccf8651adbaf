"""Wiring of the filegen service: the LibreOffice pool, the renderer and its servicer."""
from __future__ import annotations

import dataclasses
import logging
import os
import threading

import grpc

from core.errors import DomainError
from core.service import ServiceContext
from core.settings import SettingsError

log = logging.getLogger(__name__)


def _warm(pool) -> None:
    try:
        pool.start()
    except DomainError as exc:  # renders then fail with UNAVAILABLE, naming the same cause
        log.error("the LibreOffice workers did not start: %s", exc.message)


# Handler threads kept for calls that convert nothing (pages, HTML, health checks).
SPARE_THREADS = 2


def fit_queue(settings, threads: int, environ=os.environ):
    """The conversion queue sized to the service's handler threads.

    A caller beyond the threads waits inside gRPC, where the pool cannot refuse it; so the
    pool's own bound must be reachable: workers + queue + spare threads <= handler threads.
    Unset, the queue takes what is left; set too large, the service refuses to start.
    """
    room = threads - settings.workers - SPARE_THREADS
    if not environ.get("FILEGEN_CONVERT_QUEUE"):
        if room < 0:
            raise SettingsError(
                f"FILEGEN_CONVERT_WORKERS={settings.workers} needs ECONTRACT_RPC_WORKERS of at least "
                f"{settings.workers + SPARE_THREADS} (it is {threads})")
        return dataclasses.replace(settings, max_queue=room)
    if settings.max_queue > room:
        raise SettingsError(
            f"FILEGEN_CONVERT_QUEUE={settings.max_queue} cannot be reached with ECONTRACT_RPC_WORKERS={threads} "
            f"and FILEGEN_CONVERT_WORKERS={settings.workers}: at most {max(room, 0)}, or raise ECONTRACT_RPC_WORKERS "
            f"to {settings.workers + settings.max_queue + SPARE_THREADS}")
    return settings


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.filegen.v1 import filegen_pb2, filegen_pb2_grpc
    from services.filegen.api import FilegenApi
    from services.filegen.convert import ConverterPool, ConverterSettings, memory_job_root
    from services.filegen.render import Renderer
    from services.filegen.stores import Stores
    from services.filegen.tempfiles import TempFiles

    try:
        settings = ConverterSettings.from_env()
        temp = TempFiles.from_env({"FILEGEN_TMP_DIR": str(ctx.settings.blob_dir / "tmp"), **os.environ})
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    settings = fit_queue(settings, ctx.settings.rpc_workers)
    if settings.job_root is None:
        settings = dataclasses.replace(settings, job_root=memory_job_root() or ctx.settings.var_dir / "filegen-jobs")
    pool = ConverterPool(settings)
    # Warm the workers in the background: health answers at once, the first render waits for them.
    threading.Thread(target=_warm, args=(pool,), name="converter-warmup", daemon=True).start()
    ctx.on_close(pool.close)
    stores = Stores(ctx.blobs, temp)
    renderer = Renderer(pool, stores, ctx.redis, ctx.settings.redis_prefix)
    filegen_pb2_grpc.add_FilegenServiceServicer_to_server(FilegenApi(renderer, stores), server)
    return [filegen_pb2.DESCRIPTOR.services_by_name["FilegenService"].full_name]
