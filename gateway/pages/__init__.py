"""The signing pages (PC and H5) a signer reaches through a one-time link from ``:signUrl``.

Mounted by the gateway under ``/sign/`` (pages) and ``/sign-static/`` (CSS and JS). The link
token is the signer's authority: the first visit spends it and opens a page session in
Redis; the pages then call the services over gRPC as the contract's owning business line.
"""
