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


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.filegen.v1 import filegen_pb2, filegen_pb2_grpc
    from services.filegen.api import FilegenApi
    from services.filegen.convert import ConverterPool, ConverterSettings
    from services.filegen.render import Renderer
    from services.filegen.tempfiles import TempFiles

    try:
        settings = ConverterSettings.from_env()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if settings.job_root is None:
        settings = dataclasses.replace(settings, job_root=ctx.settings.var_dir / "filegen-jobs")
    pool = ConverterPool(settings)
    # Warm the workers in the background: health answers at once, the first render waits for them.
    threading.Thread(target=_warm, args=(pool,), name="converter-warmup", daemon=True).start()
    ctx.on_close(pool.close)
    temp = TempFiles(ctx.settings.blob_dir / "tmp", float(os.environ.get("FILEGEN_TMP_TTL", "3600")))
    renderer = Renderer(pool, ctx.blobs, ctx.redis, ctx.settings.redis_prefix)
    filegen_pb2_grpc.add_FilegenServiceServicer_to_server(FilegenApi(renderer, ctx.blobs, temp), server)
    return [filegen_pb2.DESCRIPTOR.services_by_name["FilegenService"].full_name]
