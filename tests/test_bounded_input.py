"""Bounded input (issue 13, findings 4 and 6): no body is read past its route's limit — declared or streamed — while
the bureau keeps answering everyone else; JSON bodies are refused for NUL (whatever the media type's case) and for
absurd nesting, never with a 500; a registry XLSX cannot pad, unpack or stretch itself into gigabytes."""

from __future__ import annotations

import io
import json
import re
import socket
import tracemalloc
import zipfile
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from openpyxl import Workbook

from bureau import registry
from bureau.api import guards
from tests.support import STAFF_PASSWORD
from tests.sync_support import enroll_tablet
from tests.test_roles_matrix import all_routes, api  # noqa: F401  (the fixture: a bureau app on SQLite and PostgreSQL)

MiB = 1 << 20


# ------------------------------------------------------------ request bodies, against a real server


def _connect(url: str) -> socket.socket:
    address = urlparse(url)
    return socket.create_connection((address.hostname, address.port), timeout=60)


def _answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the first response on the socket (read while the request may still be open)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        received = sock.recv(65536)
        assert received, f"the bureau hung up without an answer: {data!r}"
        data += received
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body[:_length(data)])


def _length(data: bytes) -> int:
    found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", data.split(b"\r\n\r\n", 1)[0])
    return int(found.group(1)) if found else 0


def _peak_rss(pid: int) -> int:
    """The highest peak resident size of the server process and its worker processes, if it runs any."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return max(int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{process}/status").read_text()).group(1)) * 1024
               for process in [pid, *children])


def _healthy(url: str) -> bool:
    return requests.get(url + "/v1/health", timeout=60).status_code == 200


def test_a_64_mb_login_is_refused_before_it_is_read(bureau_process):
    url, pid = bureau_process.url, bureau_process.process.pid
    assert _healthy(url)
    peak_before = _peak_rss(pid)
    with _connect(url) as sock:
        sock.sendall(b"POST /v1/staff/login HTTP/1.1\r\nHost: bureau\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (64 * MiB) + b'{"username": "' + b"a" * MiB)
        assert _healthy(url)  # while that request is open, everyone else is served
        status, body = _answer(sock)  # before the rest of the body was ever sent
        assert status == 413 and body["detail"]["reason"] == "body_too_large", body
        assert "1 MiB" in body["detail"]["message"]
        with suppress(OSError):  # the rest arrives and is dropped as it comes (or the bureau hangs up)
            for _ in range(63):
                sock.sendall(b"a" * MiB)
    assert _healthy(url)
    assert _peak_rss(pid) - peak_before < 32 * MiB


def _chunked(sock: socket.socket, data: bytes) -> None:
    sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")


@pytest.mark.parametrize("request_line, content_type, size", [
    (b"POST /v1/staff/login", b"application/json", 2 * MiB),  # read whole by the NUL guard
    (b"PUT /v1/blobs/" + b"a" * 64 + b"/chunks/0", b"application/octet-stream", 17 * MiB),  # read by the route
], ids=["json", "octets"])
def test_a_chunked_body_is_cut_off_at_the_limit(running_bureau, tmp_path, request_line, content_type, size):
    url, chunk = running_bureau.url, 256 * 1024
    key = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",)).identities[0].key_id  # a known device
    with _connect(url) as sock:
        sock.sendall(request_line + b" HTTP/1.1\r\nHost: bureau\r\nContent-Type: %s\r\nX-Yibao-Key: %s\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n" % (content_type, key.encode()))
        _chunked(sock, b" " * chunk)
        assert _healthy(url)  # while that request is open, everyone else is served
        for _ in range(size // chunk):
            _chunked(sock, b" " * chunk)
        status, body = _answer(sock)  # the body has not ended: no closing chunk was sent
        assert status == 413 and body["detail"]["reason"] == "body_too_large", body
    assert _healthy(url)


# ------------------------------------------------------------ JSON bodies, in-process


def test_nul_is_refused_whatever_the_case_of_the_media_type(api):  # noqa: F811
    _app, client, _engine = api
    body = json.dumps({"username": "zhu\x00ren", "password": STAFF_PASSWORD}).encode()
    for media in ("Application/JSON", "Application/JSON; charset=utf-8", "APPLICATION/JSON", "application/ld+json"):
        answer = client.post("/v1/staff/login", content=body, headers={"Content-Type": media})
        assert answer.status_code == 422 and answer.json()["detail"]["reason"] == "nul_character", (media, answer.text)


def test_absurdly_nested_json_is_refused_with_422(api):  # noqa: F811
    _app, client, _engine = api
    token = client.post("/v1/staff/login", json={"username": "zhuren", "password": STAFF_PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deep = b'{"a": ' * 50_000 + b'"\\u0000"' + b"}" * 50_000
    for path, body in (("/v1/staff/login", b"[" * 100_000 + b"]" * 100_000), ("/v1/staff/login", deep),
                       ("/v1/draws/commit", deep), ("/v1/draws/commit", b'{"plan": ' * 33 + b"1" + b"}" * 33)):
        answer = client.post(path, content=body, headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"]["reason"] == "json_too_deep", answer.text[:300]
    # a body made to send a scanner back over itself (a string that never ends, escaped quotes) is read once
    trap = b'["' + b'\\"' * 400_000 + b"[" * 40
    assert client.post("/v1/staff/login", content=trap, headers=headers).status_code == 422  # not JSON, as FastAPI says
    # brackets inside strings are text, and a plan nested as plans are passes the door to its own checks
    flat = json.dumps({"plan_id": "[[[[" * 100, "strata": [{"kind": "pharmacy", "n": 1}]}).encode()
    answer = client.post("/v1/draws/commit", content=flat, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"]["reason"] == "invalid_plan", answer.text


def test_each_route_has_its_own_limit(api):  # noqa: F811
    app, client, _engine = api
    routes = {(method, route.path) for route in all_routes(app.routes) for method in (route.methods or ())}
    assert set(guards.BODY_LIMITS) <= routes  # the table names routes that exist
    assert guards.BODY_LIMITS[("PUT", "/v1/records/{record_id}")] >= 2 * MiB  # the largest record a tablet makes
    token = client.post("/v1/staff/login", json={"username": "zhuren", "password": STAFF_PASSWORD}).json()["token"]
    registry_file = "机构编码,机构名称\n".encode() + b"H35010200001,x\n" * (2 * MiB // 15)
    answer = client.post("/v1/registry/institutions?filename=big.csv&dry_run=true", content=registry_file,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text[:300]  # 2 MiB is a registry file, checked as one
    answer = client.post("/v1/staff/login", content=b" " * (2 * MiB) + b"{}", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 413 and answer.json()["detail"]["reason"] == "body_too_large"
    assert guards.body_limit("PUT", "/v1/blobs/" + "a" * 64 + "/chunks/3") > 16 * MiB
    assert guards.body_limit("PUT", "/v1/blobs/" + "a" * 64) == guards.DEFAULT_BODY_LIMIT  # a header is JSON


# ------------------------------------------------------------ registry files


HEADER = ["机构编码", "机构名称", "机构类别", "区划代码", "统一社会信用代码"]
ROW = ["P35010200001", "福州市鼓楼区东街口大药房", "pharmacy", "350102", "91350100M000100Y43"]


def _xlsx(*rows: list, far_cell: str | None = None) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    if far_cell:
        book.active[far_cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _repacked(data: bytes, change, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The XLSX with `change(name, bytes)` applied to each of its parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", compression) as target:
        for name in source.namelist():
            target.writestr(name, change(name, source.read(name)))
    return out.getvalue()


def _peak_reading(data: bytes, filename: str) -> tuple[int, registry.Table | registry.RegistryFileError]:
    tracemalloc.start()
    try:
        result: registry.Table | registry.RegistryFileError = registry.read_table(data, filename, "institutions")
    except registry.RegistryFileError as exc:
        result = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, result


def test_a_tiny_xlsx_with_a_cell_at_xfd1048576_costs_no_memory():
    data = _xlsx(HEADER, ROW, far_cell="XFD1048576")
    assert len(data) < 10_000
    peak, result = _peak_reading(data, "远端单元格.xlsx")
    assert peak < 50 * MiB
    assert isinstance(result, registry.RegistryFileError), result
    assert "远端单元格.xlsx" in str(result) and str(registry.MAX_ROWS) in str(result)


def test_a_declared_size_is_not_believed():
    """Some programs write a sheet's dimension as the whole grid: the rows it has are read, and only those."""
    data = _repacked(_xlsx(HEADER, ROW), lambda name, part: re.sub(rb'<dimension ref="[^"]*" ?/>',
                                                                   b'<dimension ref="A1:XFD1048576"/>', part))
    assert b"XFD1048576" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    peak, table = _peak_reading(data, "声明整表.xlsx")
    assert peak < 50 * MiB
    assert isinstance(table, registry.Table) and [cells for _line, cells in table.rows] == [dict(zip(HEADER, ROW))]


def test_a_zip_bomb_is_refused_before_it_is_opened():
    def padded(name: str, part: bytes) -> bytes:  # 16 MB of whitespace: valid XML, packed 1000 to 1
        return part.replace(b"</worksheet>", b" " * (16 * MiB) + b"</worksheet>") if "sheet1" in name else part

    _peak, result = _peak_reading(_repacked(_xlsx(HEADER, ROW), padded), "炸弹.xlsx")
    assert isinstance(result, registry.RegistryFileError), result
    assert "炸弹.xlsx" in str(result) and "压缩" in str(result)
    _peak, result = _peak_reading(_repacked(_xlsx(HEADER, ROW), lambda _n, part: part, zipfile.ZIP_BZIP2), "b.xlsx")
    assert isinstance(result, registry.RegistryFileError) and "压缩方式" in str(result), result


@pytest.mark.parametrize("filename, data", [
    ("很长.csv", (",".join(HEADER) + "\n" + ",".join(ROW) + "\n" + "\n" * registry.MAX_ROWS).encode()),
    ("很长.xlsx", _xlsx(HEADER, ROW, far_cell=f"A{registry.MAX_ROWS + 5}")),
], ids=["csv", "xlsx"])
def test_a_file_past_the_row_limit_is_refused_with_its_line(filename, data):
    _peak, result = _peak_reading(data, filename)
    assert isinstance(result, registry.RegistryFileError), result
    assert re.fullmatch(rf"{filename} 第 {registry.MAX_ROWS + 1} 行：.*{registry.MAX_ROWS}.*", str(result)), result
