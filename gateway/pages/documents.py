"""A contract's documents as page images: the current PDF from the contract service,
rendered by filegen, cached in Redis for a while under the PDF's SHA-256 (so every session
showing the same revision shares them, and a new revision never shows a stale page)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.pages.rpc import Client, Rpc


@dataclass(frozen=True)
class Page:
    number: int
    width: int
    height: int


@dataclass(frozen=True)
class Document:
    document_id: str
    name: str
    sha256: str
    pages: tuple[Page, ...] = ()


class PageImages:
    def __init__(self, rpc: Rpc, redis, prefix: str, dpi: int, ttl: int):
        self._rpc = rpc
        self._redis = redis
        self._prefix = prefix + "sign:pages:"
        self._dpi = dpi
        self._ttl = ttl

    def _image_key(self, sha256: str, number: int) -> str:
        return f"{self._prefix}{sha256}:{self._dpi}:{number}"

    def _sizes_key(self, sha256: str) -> str:
        return f"{self._prefix}{sha256}:{self._dpi}:sizes"

    async def documents(self, app_id: str, contract_id: str, client: Client) -> list[Document]:
        """The contract's documents with their pages, rendering what is not cached yet."""
        shown = []
        for document_id, name, sha256 in await self._current(app_id, contract_id, client):
            sizes = await self._redis.get(self._sizes_key(sha256))
            pages = json.loads(sizes) if sizes else await self._render(app_id, contract_id, document_id, client)
            shown.append(Document(document_id, name, sha256, tuple(Page(n, w, h) for n, w, h in pages)))
        return shown

    async def image(self, app_id: str, contract_id: str, sha256: str, number: int, client: Client) -> bytes | None:
        """One page as PNG; None when the contract's current documents have no such page."""
        cached = await self._redis.get(self._image_key(sha256, number))
        if cached is not None:
            return cached
        for document_id, _name, current in await self._current(app_id, contract_id, client):
            if current == sha256:
                await self._render(app_id, contract_id, document_id, client)
                return await self._redis.get(self._image_key(sha256, number))
        return None

    async def _current(self, app_id: str, contract_id: str, client: Client) -> list[tuple[str, str, str]]:
        from econtract.contract.v1 import contract_pb2 as pb

        contract = await self._rpc.call("contract", "GetContract", pb.GetContractRequest(contract_id=contract_id),
                                        pb.GetContractResponse, client=client, app_id=app_id)
        return [(d.document_id, d.name, d.sha256) for d in contract.documents]

    async def _render(self, app_id: str, contract_id: str, document_id: str, client: Client) -> list[list[int]]:
        from econtract.common.v1 import common_pb2
        from econtract.contract.v1 import contract_pb2 as pb
        from econtract.filegen.v1 import filegen_pb2

        pdf = await self._rpc.call("contract", "GetContractDocument",
                                   pb.GetContractDocumentRequest(contract_id=contract_id, document_id=document_id),
                                   pb.GetContractDocumentResponse, client=client, app_id=app_id, slow=True)
        request = filegen_pb2.RenderPagesRequest(pdf=common_pb2.FileData(data=pdf.data), dpi=self._dpi)
        rendered = await self._rpc.call("filegen", "RenderPages", request, filegen_pb2.RenderPagesResponse, client=client,
                                        slow=True)
        sizes = [[p.page, p.width, p.height] for p in rendered.pages]
        async with self._redis.pipeline(transaction=False) as pipe:
            for page in rendered.pages:
                pipe.set(self._image_key(pdf.sha256, page.page), page.png.data, ex=self._ttl)
            pipe.set(self._sizes_key(pdf.sha256), json.dumps(sizes), ex=self._ttl)
            await pipe.execute()
        return sizes
