"""What every model file format needs from the file system: atomic writes, and careful first looks.

* :func:`write_atomically` writes a file so that a crash leaves either the old file or the new one,
  never half of one (a hidden temporary beside the target, flushed to disk, renamed into place).
  Every writer uses it: ``model.save`` (``.npz``, ``.keras``, ``.h5``) and ``model.save_weights``.
* :func:`sniff` opens a file that claims to be a model and says what it is (a zip archive, an HDF5
  file) from its first bytes, with a clear error for a missing, empty or unreadable file.
* :func:`zip_entry_count` reads how many entries a zip archive declares *before* :mod:`zipfile` reads
  its whole directory into memory (an archive of a million tiny entries is refused unread).
* :func:`check_zip_entry` looks at one entry's directory record before a byte of it is inflated
  (encryption, compression method, a declared size no compression reaches: a zip bomb).
* :class:`FileError` is the ``ValueError`` every loader raises: ``'<what>: <path>: <problem>'``.
"""
import errno
import os
import secrets
import stat
import struct
import zipfile

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")       # a zip archive (an .npz, a .keras), or an empty one
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"                 # an HDF5 file (Keras's .h5 and .weights.h5)
MAX_EXPANSION = 1100        # deflate (zip, gzip) expands at most ~1032x: an entry declaring more is refused unread


class FileError(ValueError):
    """A model or weights file that cannot be read as what it claims to be (a ``ValueError``)."""


class Failer:
    """``fail(problem)`` raises ``FileError('<what>: <path>: <problem>')``."""

    def __init__(self, what, path):
        self.what, self.path = what, path

    def __call__(self, problem):
        raise FileError(f"{self.what}: {self.path!r}: {problem}")


# ====================================================================== writing
def write_atomically(path, write, what="save"):
    """Create or replace the file at ``path`` with what ``write(f)`` writes into the binary file ``f``.

    The file gets the permissions ``open(path, 'wb')`` would give it (an existing file keeps its mode; a
    new one gets ``0o666 & ~umask``), and a symbolic link is written through, as ``open`` would.  On any
    error nothing at ``path`` changes: ``ValueError`` for a missing folder or a folder at ``path``,
    ``PermissionError`` for a read-only file, ``OSError`` (with its errno) when the write itself fails.
    """
    path = os.fspath(path)
    target = os.path.realpath(path)           # through a symbolic link, as open(path, 'wb') writes
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ValueError(f"{what}: cannot write {path!r}: the folder {folder!r} does not exist; "
                         "create it first (os.makedirs)")
    if os.path.isdir(target):
        raise ValueError(f"{what}: cannot write {path!r}: it is a folder; give a file name such as "
                         f"{os.path.join(path, 'model.keras')!r}")
    base = os.path.basename(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)      # an existing file keeps its permissions
    except FileNotFoundError:
        mode = None
    if mode is not None and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, f"{what}: cannot write {path!r}: the file is read-only "
                                            "(open(path, 'wb') would refuse too); nothing was changed")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise OSError(e.errno, f"{what}: cannot write {path!r} (a temporary file in {folder!r} "
                                   f"could not be created): {e.strerror}") from e
    else:
        raise OSError(f"{what}: cannot write {path!r}: no free temporary name in {folder!r}")
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.errno is not None:
            raise OSError(e.errno, f"{what}: cannot write {path!r}: {e.strerror}; "
                                   "the file there (if any) is unchanged") from e
        raise
    try:                                                   # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass                                               # not every file system allows it
    finally:
        os.close(dfd)


# ====================================================================== reading
def sniff(path, fail):
    """``'zip'``, ``'hdf5'`` or ``'other'``, from the first bytes of the file at ``path``; ``fail`` (a
    :class:`Failer`) for a missing, empty, unreadable file or a folder."""
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except FileNotFoundError:
        fail("no file at this path")
    except IsADirectoryError:
        fail("is a folder, not a model file")
    except OSError as e:
        fail(f"cannot be read: {e.strerror}")
    if not magic:
        fail("the file is empty (a save that never finished?)")
    if magic[:4] in ZIP_MAGIC:
        return "zip"
    if magic == HDF5_MAGIC:
        return "hdf5"
    return "other"


def zip_entry_count(path, fail):
    """The number of entries the zip archive at ``path`` declares in its end-of-central-directory
    record (the last 22 bytes, before an optional comment of at most 65,535 bytes), read before
    :mod:`zipfile` builds an object per entry.  An archive that declares 65,535 (the field's largest
    value: the real count is in a ZIP64 record) is counted as 65,535."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - (22 + 65535)))
            tail = f.read()
    except OSError as e:
        fail(f"cannot be read: {e.strerror}")
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        fail("the file is damaged or truncated (it starts like a zip archive but has no zip directory "
             "at its end); save the model again")
    # signature, disk, disk of the directory, entries on this disk, entries in all, directory size, offset
    _, _, _, _, entries, _, _ = struct.unpack("<4s4H2L", tail[at:at + 20])
    return entries


def check_zip_entry(info, fail, writer):
    """Refuse a zip entry (its :class:`zipfile.ZipInfo`) before reading it: encrypted, compressed by a
    method other than stored or deflate, or declaring more bytes than its compressed size can expand
    to (a zip bomb's lie, or a damaged directory).  ``writer``: what writes these files, for the
    messages (``"Keras"``, ``"model.save"``)."""
    if info.flag_bits & 0x1:
        fail(f"{info.filename} is encrypted; {writer} never encrypts")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        fail(f"{info.filename} uses zip compression method {info.compress_type}; {writer} stores entries "
             "(deflate is read too)")
    if (info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size) \
            or info.file_size > MAX_EXPANSION * info.compress_size + 1024:
        fail(f"{info.filename}: the zip directory declares {info.file_size:,} bytes from "
             f"{info.compress_size:,}, which no compression can; a zip bomb or a damaged file, refused unread")
