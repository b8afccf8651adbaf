"""One docx→PDF conversion worker: a warm LibreOffice driven over UNO.

Run by ``services.filegen.convert.ConverterPool`` under Debian's system Python,
the only interpreter that can import ``uno``; so this file imports nothing from
the project and nothing outside the standard library and ``uno``.

The worker starts and owns one ``soffice.bin`` with a throwaway profile (macros
disabled), connected over a named pipe, and keeps it warm between jobs.

Protocol, one JSON object per line:
  worker → parent, once:   {"event": "ready", "soffice_pid": N}
  parent → worker:         {"op": "convert", "input": PATH, "output": PATH}
                           {"op": "quit"}
  worker → parent, per op: {"ok": true}
                           {"ok": false, "kind": KIND, "error": TEXT}
KIND is "bad_input" (the file is not a readable document; the worker stays up),
"not_started" (soffice was already gone; the job never ran) or "crashed"
(soffice failed mid-job). After "not_started" or "crashed" the worker exits.
The output is written as OUTPUT + ".part" and renamed only once complete.
"""
from __future__ import annotations

import argparse
import ctypes
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]
from com.sun.star.uno import RuntimeException  # type: ignore[import-not-found]

log = logging.getLogger("filegen.convert_worker")

_DOCX_FILTER = "MS Word 2007 XML"
_PR_SET_PDEATHSIG = 1
_EXIT_RESTART = 81  # soffice.bin: "restart me" (EXITHELPER_NORMAL_RESTART)

# Written into the fresh profile before soffice first reads it: macros never run,
# nothing is autosaved or recovered, links are never updated on load (0 = NEVER in
# Writer's UpdateLinks enum) and referer-less URLs are not followed.
_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="WarnAlienFormat" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc">\
<prop oor:name="UseDocumentSystemFileLocking" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc">\
<prop oor:name="UseDocumentOOoLockFile" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Recovery/AutoSave">\
<prop oor:name="Enabled" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Recovery/RecoveryInfo">\
<prop oor:name="Enabled" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update">\
<prop oor:name="Link" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

# A minimal .docx (CJK and Latin text, a table) converted once at start-up so that
# the import filter, layout, fonts and PDF export are loaded before the first job.
_WARM_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    "<w:p><w:r><w:t>\u9884\u70ed warm-up \u7532\u65b9 \u4e59\u65b9</w:t></w:r></w:p>"
    "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc>"
    "<w:tc><w:p><w:r><w:t>\u91d1\u989d</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    "<w:p/></w:body></w:document>"
)
_WARM_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    ),
    "word/document.xml": _WARM_DOCUMENT,
}


class SofficeGone(Exception):
    """soffice died or its bridge broke: this worker cannot go on."""


def _props(**values: Any) -> tuple[Any, ...]:
    return tuple(PropertyValue(Name=name, Value=value) for name, value in values.items())


def _die_with_parent_hook() -> Callable[[], None]:
    """A pre-exec hook so that soffice dies with this worker, whichever way it ends.
    prctl is looked up here, before any fork: the child only calls it."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return hook


class Office:
    """The soffice process this worker owns and the UNO desktop inside it."""

    def __init__(self, soffice: str, profile: Path, pipe_name: str, preload: str | None = None) -> None:
        self.soffice_path = soffice
        self.profile = profile
        self.pipe_name = pipe_name
        self.preload = preload
        self.process: subprocess.Popen[bytes] | None = None
        self.desktop: Any = None
        self._pre_exec = _die_with_parent_hook()

    def start(self, timeout: float) -> None:
        user = self.profile / "user"
        user.mkdir(parents=True, exist_ok=True)
        (user / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
        args = [
            self.soffice_path,
            f"-env:UserInstallation={self.profile.resolve().as_uri()}",
            "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            f"--accept=pipe,name={self.pipe_name};urp;StarOffice.ComponentContext",
        ]
        self.process = self._spawn(args)
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        url = f"uno:pipe,name={self.pipe_name};urp;StarOffice.ComponentContext"
        deadline = time.monotonic() + timeout
        restarted = False
        while True:
            status = self.process.poll()
            if status == _EXIT_RESTART and not restarted:
                # A fresh profile makes soffice.bin ask for one restart (oosplash would do it).
                restarted = True
                self.process = self._spawn(args)
                continue
            if status is not None:
                raise SofficeGone(f"soffice exited with status {status} during start-up")
            try:
                ctx = resolver.resolve(url)
                break
            except NoConnectException:
                if time.monotonic() > deadline:
                    raise SofficeGone(f"soffice did not accept a connection within {timeout:.0f} s") from None
                time.sleep(0.05)
        self.desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        # soffice's own chatter goes to our stderr, never into the protocol on stdout.
        env = dict(os.environ)
        if self.preload:
            env["LD_PRELOAD"] = self.preload  # only soffice gets the allocator, not this Python
        return subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno(),
            preexec_fn=self._pre_exec, env=env,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def convert(self, source: Path, target: Path, written: Callable[[], None] = lambda: None) -> None:
        """Convert ``source`` to PDF at ``target``; raise ValueError for a bad document.

        ``written`` runs once the PDF is complete at ``target``, before the document is
        closed: closing takes a few milliseconds that the caller need not wait for.
        """
        load = _props(
            Hidden=True,
            ReadOnly=True,
            FilterName=_DOCX_FILTER,  # no type detection: a .docx is read as a .docx or not at all
            MacroExecutionMode=uno.getConstantByName("com.sun.star.document.MacroExecMode.NEVER_EXECUTE"),
            UpdateDocMode=uno.getConstantByName("com.sun.star.document.UpdateDocMode.NO_UPDATE"),
        )
        try:
            doc = self.desktop.loadComponentFromURL(source.resolve().as_uri(), "_blank", 0, load)
        except Exception as exc:
            self._raise_if_gone(exc)
            raise ValueError(f"the document could not be read: {type(exc).__name__}: {exc}") from None
        if doc is None:
            self._raise_if_gone(None)
            raise ValueError("the document could not be read as .docx")
        partial = target.with_name(target.name + ".part")
        try:
            # Every font embedded, including the PDF standard 14; subsetting is the default.
            filter_data = uno.Any("[]com.sun.star.beans.PropertyValue", _props(EmbedStandardFonts=True))
            doc.storeToURL(partial.resolve().as_uri(), _props(FilterName="writer_pdf_Export", FilterData=filter_data))
        except Exception as exc:
            _close(doc)
            self._raise_if_gone(exc)
            raise SofficeGone(f"PDF export failed: {type(exc).__name__}: {exc}") from None
        os.replace(partial, target)
        written()
        _close(doc)

    def _raise_if_gone(self, exc: BaseException | None) -> None:
        # A broken bridge (DisposedException) and every other UNO RuntimeException mean
        # soffice itself is in trouble; a document it cannot read raises a checked
        # exception (IllegalArgumentException, IOException) or loads as nothing.
        if not self.alive() or isinstance(exc, RuntimeException):
            detail = f"{type(exc).__name__}: {exc}" if exc is not None else "the process exited"
            raise SofficeGone(f"soffice failed: {detail}")

    def warm_up(self, scratch: Path) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        source = scratch / "warm.docx"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in _WARM_PARTS.items():
                archive.writestr(name, text)
        source.write_bytes(buffer.getvalue())
        target = scratch / "warm.pdf"
        self.convert(source, target)
        source.unlink()
        target.unlink()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.alive() and self.desktop is not None:
            try:
                self.desktop.terminate()
            except Exception:
                log.debug("desktop.terminate failed", exc_info=True)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _close(doc: Any) -> None:
    try:
        doc.close(True)
    except Exception:
        # A soffice that died here is noticed by the next job, which then reports "not_started".
        log.debug("closing the document failed", exc_info=True)


def _send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _serve(office: Office, requests: TextIO, out: TextIO) -> int:
    for line in requests:
        request = json.loads(line)
        op = request.get("op")
        if op == "quit":
            _send(out, {"ok": True})
            return 0
        if op != "convert":
            _send(out, {"ok": False, "kind": "bad_request", "error": f"unknown op {op!r}"})
            continue
        if not office.alive():
            _send(out, {"ok": False, "kind": "not_started", "error": "soffice is not running"})
            return 1
        try:
            office.convert(Path(request["input"]), Path(request["output"]), written=lambda: _send(out, {"ok": True}))
        except ValueError as exc:
            _send(out, {"ok": False, "kind": "bad_input", "error": str(exc)})
        except SofficeGone as exc:
            _send(out, {"ok": False, "kind": "crashed", "error": str(exc)})
            return 1
    return 0  # stdin closed: the pool is gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soffice", required=True)
    parser.add_argument("--profile", required=True, type=Path, help="fresh directory for the throwaway profile")
    parser.add_argument("--pipe-name", required=True)
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--preload", help="shared library preloaded into soffice (its memory allocator)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="convert_worker %(levelname)s %(message)s")

    # Keep the real stdout for the protocol and send anything else printed there
    # (by us, by uno, by soffice) to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    requests = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")

    office = Office(args.soffice, args.profile, args.pipe_name, args.preload)
    try:
        office.start(args.start_timeout)
        office.warm_up(args.profile / "warm")
        assert office.process is not None
        _send(out, {"event": "ready", "soffice_pid": office.process.pid})
        return _serve(office, requests, out)
    except SofficeGone as exc:
        log.error("%s", exc)
        _send(out, {"event": "failed", "error": str(exc)})
        return 1
    finally:
        office.stop()


if __name__ == "__main__":
    sys.exit(main())
