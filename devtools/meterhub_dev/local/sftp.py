"""The local SFTP drop: what the template's AWS Transfer Family server does, on 127.0.0.1, into the embedded S3.

A login is checked by invoking the server's identity-provider function (the template's
`IdentityProviderDetails.Function`) with the event Transfer Family sends, so the real handler decides; its answer
(a LOGICAL home directory and a session policy) is then enforced here as Transfer Family and S3 would:

* The partner sees `/` holding the mapping's entry (`/interval-data`), which is the mapped bucket prefix. Paths are
  normalised first, so `../` can never leave the mapping; anything outside it does not exist.
* Every S3 call is first checked against the session policy (`session_policy.SessionPolicy`): list, upload and
  read inside the partner's folder; delete, rename, mkdir and rmdir are refused with SFTP permission denied
  (no policy grants s3:DeleteObject, and S3 has no directories). Setting file modes is a no-op, as the
  template's `SetStatOption: ENABLE_NO_OP` makes it on AWS.
* An upload is written to S3 once, when the client closes the file. A session that ends with the file still
  open (a dropped connection, a killed client) stores nothing, so a partial file never becomes an object, never
  reaches the ingest queue and never gets a job. Once stored, the bucket's notification and the SQS relay run
  the same pipeline as any other drop.

The host key is generated at every start and never written to disk: SSH clients see a new key each time (the
banner prints its fingerprint and an `sftp` command that does not record it).
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import stat
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, Any

import asyncssh
from botocore.exceptions import ClientError

from meterhub_dev.local.lambda_runtime import LocalLambda, LocalLambdaError
from meterhub_dev.local.session_policy import SessionPolicy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SERVER_ID = "s-local"
"""What the identity provider sees as `serverId` (a real one is `s-` and 17 hex digits)."""
SPOOL_BYTES = 8 * 1024 * 1024
"""An upload or download is held in memory up to this size, on disk beyond it."""
_DIRECTORY = stat.S_IFDIR | 0o755
_FILE = stat.S_IFREG | 0o644


@dataclass(frozen=True)
class Login:
    """What the identity provider granted one session."""

    bucket: str
    entry: str
    """The path the partner sees (`/interval-data`)."""
    prefix: str
    """The bucket prefix it maps to, without a trailing slash."""
    policy: SessionPolicy


def login_from_response(response: Any) -> Login | None:
    """Transfer Family's reading of an identity provider's answer: no Role is a denial; otherwise one LOGICAL
    mapping to `/<bucket>/<prefix>` and a session policy (required here: without one the local server would
    grant more than the deployed one)."""
    if not isinstance(response, Mapping) or not response.get("Role"):
        return None
    if response.get("HomeDirectoryType") != "LOGICAL":
        raise ValueError("the local SFTP server serves LOGICAL home directories only")
    mappings = json.loads(str(response["HomeDirectoryDetails"]))
    if len(mappings) != 1:
        raise ValueError("the local SFTP server serves exactly one home directory mapping")
    entry = posixpath.normpath(str(mappings[0]["Entry"]))
    bucket, _, prefix = str(mappings[0]["Target"]).strip("/").partition("/")
    if entry == "/" or not bucket or not prefix:
        raise ValueError(f"unexpected home directory mapping {mappings[0]!r}")
    return Login(
        bucket=bucket, entry=entry, prefix=prefix.rstrip("/"), policy=SessionPolicy(json.loads(response["Policy"]))
    )


Authenticate = Callable[[str, str, str], Login | None]
"""(username, password, source ip) -> the session's grant, or None to refuse the login."""


def identity_provider(lambdas: LocalLambda, function_id: str) -> Authenticate:
    """A login checked by invoking the template's identity-provider function as Transfer Family does."""

    def authenticate(username: str, password: str, source_ip: str) -> Login | None:
        event = {
            "username": username,
            "password": password,
            "protocol": "SFTP",
            "serverId": SERVER_ID,
            "sourceIp": source_ip,
        }
        try:
            return login_from_response(lambdas.invoke(function_id, event))
        except LocalLambdaError as error:
            print(f"[local] SFTP: {function_id} failed, login refused: {error}\n{error.details}", file=sys.stderr)
            return None

    return authenticate


class _SshServer(asyncssh.SSHServer):
    """Password logins only, each checked by the identity provider; the grant rides on the connection."""

    def __init__(self, authenticate: Authenticate) -> None:
        self._authenticate = authenticate
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        if self._connection is None:
            return False
        peer = self._connection.get_extra_info("peername") or ("127.0.0.1",)
        login = await asyncio.to_thread(self._authenticate, username, password, str(peer[0]))
        if login is None:
            return False
        self._connection.set_extra_info(meterhub_login=login)
        return True


class _Upload:
    def __init__(self, key: str) -> None:
        self.key = key
        self.body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed in close())


class _Download:
    def __init__(self, body: IO[bytes]) -> None:
        self.body = body


def _attrs(mode: int, size: int = 0, mtime: int | None = None) -> asyncssh.SFTPAttrs:
    kind = asyncssh.FILEXFER_TYPE_DIRECTORY if stat.S_ISDIR(mode) else asyncssh.FILEXFER_TYPE_REGULAR
    return asyncssh.SFTPAttrs(type=kind, permissions=mode, size=size, mtime=mtime, atime=mtime, uid=0, gid=0)


class DropFolderSftp(asyncssh.SFTPServer):
    """One SFTP session over the partner's mapped folder (see the module docstring for the rules)."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], s3: S3Client) -> None:
        super().__init__(chan)
        self._s3 = s3
        login = self.connection.get_extra_info("meterhub_login")
        if not isinstance(login, Login):
            raise asyncssh.SFTPPermissionDenied("not logged in")
        self._login = login

    # -- paths ---------------------------------------------------------------------------------------------

    @staticmethod
    def _normalize(path: bytes) -> str:
        try:
            text = path.decode("utf-8")
        except UnicodeDecodeError:
            raise asyncssh.SFTPNoSuchFile("file names are UTF-8") from None
        return posixpath.normpath("/" + text.lstrip("/"))

    def _key(self, path: str) -> str | None:
        """The bucket key of a path inside the mapping (the mapping itself: its prefix); None outside it."""
        entry = self._login.entry
        if path == entry:
            return self._login.prefix
        if path.startswith(entry + "/"):
            return self._login.prefix + path[len(entry) :]
        return None

    def _object_arn(self, key: str) -> str:
        return f"arn:aws:s3:::{self._login.bucket}/{key}"

    def _require(self, action: str, resource: str, context: Mapping[str, str] | None = None) -> None:
        if not self._login.policy.allows(action, resource, context):
            raise asyncssh.SFTPPermissionDenied("Access denied")

    def _writable_key(self, path: bytes) -> str:
        key = self._key(self._normalize(path))
        if key is None or key == self._login.prefix:
            raise asyncssh.SFTPPermissionDenied("Access denied")
        self._require("s3:PutObject", self._object_arn(key))
        return key

    # -- reading the tree ------------------------------------------------------------------------------------

    def realpath(self, path: bytes) -> bytes:
        return self._normalize(path).encode("utf-8")

    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        normalized = self._normalize(path)
        if normalized == "/":
            return _attrs(_DIRECTORY)
        key = self._key(normalized)
        if key is None:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if key == self._login.prefix:
            return _attrs(_DIRECTORY)
        if self._login.policy.allows("s3:GetObject", self._object_arn(key)):
            try:
                head = await asyncio.to_thread(self._s3.head_object, Bucket=self._login.bucket, Key=key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                    raise
            else:
                return _attrs(_FILE, int(head["ContentLength"]), int(head["LastModified"].timestamp()))
        if await self._has_children(key + "/"):
            return _attrs(_DIRECTORY)
        raise asyncssh.SFTPNoSuchFile("No such file")

    async def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return await self.stat(path)

    async def _has_children(self, prefix: str) -> bool:
        if not self._login.policy.allows("s3:ListBucket", f"arn:aws:s3:::{self._login.bucket}", {"s3:prefix": prefix}):
            return False
        listed = await asyncio.to_thread(self._s3.list_objects_v2, Bucket=self._login.bucket, Prefix=prefix, MaxKeys=1)
        return bool(listed.get("KeyCount"))

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        normalized = self._normalize(path)
        for name in (b".", b".."):
            yield asyncssh.SFTPName(name, attrs=_attrs(_DIRECTORY))
        if normalized == "/":
            yield asyncssh.SFTPName(self._login.entry.lstrip("/").encode("utf-8"), attrs=_attrs(_DIRECTORY))
            return
        key = self._key(normalized)
        if key is None:
            raise asyncssh.SFTPNoSuchFile("No such file")
        prefix = key + "/"
        self._require("s3:ListBucket", f"arn:aws:s3:::{self._login.bucket}", {"s3:prefix": prefix})
        token: str | None = None
        while True:
            request: dict[str, Any] = {"Bucket": self._login.bucket, "Prefix": prefix, "Delimiter": "/"}
            if token:
                request["ContinuationToken"] = token
            page = await asyncio.to_thread(partial(self._s3.list_objects_v2, **request))
            for folder in page.get("CommonPrefixes", []):
                folder_name = str(folder.get("Prefix", ""))[len(prefix) :].rstrip("/")
                yield asyncssh.SFTPName(folder_name.encode("utf-8"), attrs=_attrs(_DIRECTORY))
            for item in page.get("Contents", []):
                file_name = item["Key"][len(prefix) :]
                if file_name:
                    mtime = int(item["LastModified"].timestamp())
                    attrs = _attrs(_FILE, int(item["Size"]), mtime)
                    yield asyncssh.SFTPName(file_name.encode("utf-8"), attrs=attrs)
            token = page.get("NextContinuationToken")
            if not token:
                return

    # -- files -----------------------------------------------------------------------------------------------

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & asyncssh.FXF_WRITE:
            if pflags & asyncssh.FXF_APPEND:
                raise asyncssh.SFTPOpUnsupported("S3 objects cannot be appended to: upload the whole file")
            return _Upload(self._writable_key(path))
        key = self._key(self._normalize(path))
        if key is None or key == self._login.prefix:
            raise asyncssh.SFTPNoSuchFile("No such file")
        self._require("s3:GetObject", self._object_arn(key))
        return _Download(await asyncio.to_thread(self._download, key))

    def _download(self, key: str) -> IO[bytes]:
        try:
            response = self._s3.get_object(Bucket=self._login.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise asyncssh.SFTPNoSuchFile("No such file") from None
            raise
        body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed in close())
        for chunk in response["Body"].iter_chunks():
            body.write(chunk)
        return body

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        if not isinstance(file_obj, _Download):
            raise asyncssh.SFTPPermissionDenied("opened for writing")
        file_obj.body.seek(offset)
        return file_obj.body.read(size)

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        if not isinstance(file_obj, _Upload):
            raise asyncssh.SFTPPermissionDenied("opened for reading")
        file_obj.body.seek(offset)
        return file_obj.body.write(data)

    def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        if not isinstance(file_obj, _Upload | _Download):
            raise asyncssh.SFTPFailure("unknown handle")
        return _attrs(_FILE, file_obj.body.seek(0, 2))

    async def close(self, file_obj: object) -> None:
        if not isinstance(file_obj, _Upload | _Download):
            return
        try:
            if isinstance(file_obj, _Upload):
                if self._session_ended():
                    # The session ended with the file open: the client never finished it. Nothing is stored.
                    print(f"[local] SFTP: upload of {file_obj.key} interrupted; nothing stored", file=sys.stderr)
                    return
                file_obj.body.seek(0)
                await asyncio.to_thread(
                    self._s3.put_object, Bucket=self._login.bucket, Key=file_obj.key, Body=file_obj.body.read()
                )
        finally:
            file_obj.body.close()

    def _session_ended(self) -> bool:
        """Whether the session is over: asyncssh closes a session's open files both for a client's close request
        and when the session ends, and only the channel's state tells them apart. A close request is read while
        the channel is open both ways (or with the client's end-of-file still queued behind it); the session's
        clean-up runs once the last byte was read ('eof', 'closed') or the connection was lost (nothing can be
        sent back, so the client could never learn that its file was stored)."""
        return self.channel.is_closing() or self.channel._recv_state not in {"open", "eof_pending"}

    # -- what S3 and the session policy do not allow ------------------------------------------------------

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """A no-op, as `SetStatOption: ENABLE_NO_OP` makes it on AWS (S3 objects have no modes or owners)."""

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        """A no-op (see `setstat`)."""

    def remove(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("Access denied: files in the drop folder cannot be deleted")

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("Access denied: files in the drop folder cannot be renamed")

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self.rename(oldpath, newpath)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("Access denied: upload files into /interval-data/ itself")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("Access denied")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("Access denied")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("Access denied")


class LocalSftpServer:
    """An asyncssh server on its own event loop thread, so the runner's other threads are untouched."""

    def __init__(self, authenticate: Authenticate, s3: S3Client, host: str = "127.0.0.1", port: int = 0) -> None:
        self._authenticate = authenticate
        self._s3 = s3
        self._host = host
        self._requested_port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-sftp", daemon=True)
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self.port = 0
        self.fingerprint = ""

    def start(self) -> None:
        """Listen (raises OSError when the port is taken); `port` and `fingerprint` are then set."""
        self._thread.start()
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.fingerprint = key.get_fingerprint()

        async def listen() -> asyncssh.SSHAcceptor:
            return await asyncssh.listen(
                self._host,
                self._requested_port,
                server_host_keys=[key],
                server_factory=lambda: _SshServer(self._authenticate),
                sftp_factory=lambda chan: DropFolderSftp(chan, self._s3),
                allow_scp=False,
            )

        try:
            self._acceptor = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        self.port = self._acceptor.get_port()

    def stop(self) -> None:
        acceptor = self._acceptor
        if acceptor is not None and self._loop.is_running():

            async def close() -> None:
                acceptor.close()
                await acceptor.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._acceptor = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()
