"""Read MNIST-style IDX files and check their structure.

The IDX format (LeCun's, used by MNIST and Fashion-MNIST) is a tiny header followed by raw data.
Every header number is a 4-byte unsigned integer, **big-endian** (most significant byte first):

    offset  bytes  meaning
    0       4      magic number 0x000008NN: two zero bytes, the type code 0x08 (= unsigned byte),
                   then NN = the number of dimensions
    4       4      size of dimension 0 (the number of items)
    8       4      size of dimension 1            } only if NN >= 2
    12      4      size of dimension 2            } only if NN >= 3
    4+4*NN  ...    the data: prod(sizes) unsigned bytes in C (row-major) order

So an image file starts with magic 0x00000803 (3 dimensions: count, 28 rows, 28 columns) and then
holds count * 28 * 28 pixels, 0 (background) .. 255 (ink); a label file starts with magic
0x00000801 (1 dimension: count) and then holds count labels, one byte each, 0..9.  The files
are usually gzip-compressed (``*.gz``); this module reads both forms.

Local files are checked by structure (magic, dimensions, count, label range, exact length), not
by checksum.  Every problem raises :class:`IDXError` (a ``ValueError``) naming the file and
what is wrong; the loaders add how to fix it.
"""
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
ROWS = COLS = 28
NUM_CLASSES = 10
_GZIP_START = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file that is not what it should be; ``str()`` names the file and the problem."""


def _open(path):
    """Open ``path`` for binary reading, decompressing on the fly if its name ends in ``.gz``."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_exactly(f, n):
    """Read ``n`` bytes into a fresh writable uint8 array; returns (array, number of bytes read)."""
    out = np.empty(n, dtype=np.uint8)
    view, got = memoryview(out), 0
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            break
        got += k
    return out, got


def _read(path, magic, dims, what, count):
    """Read an IDX file whose magic must be ``magic`` and whose sizes after the count are ``dims``.

    ``what`` names one item ("image", "label") for messages; ``count`` (or None) is the number of
    items the file must hold.  Returns a uint8 array shaped ``(count, *dims)``.
    """
    path = Path(path)
    header_len = 4 * (1 + 1 + len(dims))
    try:
        with _open(path) as f:
            header = f.read(header_len)
            if len(header) < 4:
                raise IDXError(f"{path}: file is empty or truncated ({len(header)} bytes); "
                               f"it has no IDX header")
            (found_magic,) = struct.unpack(">I", header[:4])
            if found_magic != magic:
                hint = ""
                if header[:2] == _GZIP_START:
                    hint = " (it looks gzip-compressed: its name should end in .gz)"
                elif found_magic in (IMAGES_MAGIC, LABELS_MAGIC):
                    hint = (" (that is the magic of a"
                            f" {'n image' if found_magic == IMAGES_MAGIC else ' label'} file:"
                            " are images and labels swapped?)")
                raise IDXError(f"{path}: not an IDX {what} file: magic number is "
                               f"0x{found_magic:08X}, expected 0x{magic:08X}{hint}")
            if len(header) < header_len:
                raise IDXError(f"{path}: truncated IDX header ({len(header)} of "
                               f"{header_len} bytes)")
            n, *sizes = struct.unpack(f">{1 + len(dims)}I", header[4:])
            if tuple(sizes) != tuple(dims):
                raise IDXError(f"{path}: {what}s are {'x'.join(map(str, sizes))}, "
                               f"expected {'x'.join(map(str, dims))}")
            if count is not None and n != count:
                raise IDXError(f"{path}: header says {n} {what}s, expected {count}")
            expected = n * int(np.prod(dims, dtype=np.int64))
            data, got = _read_exactly(f, expected)
            if got < expected:
                raise IDXError(f"{path}: truncated: header promises {n} {what}s "
                               f"({expected} bytes of data) but the file holds only {got} bytes")
            if f.read(1):
                raise IDXError(f"{path}: unexpected bytes after the {n} {what}s the header "
                               f"announces (wrong count in the header, or two files joined?)")
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise IDXError(f"{path}: not a valid gzip file or cut short ({err})") from err
    return data.reshape((n, *dims))


def read_images(path, count=None):
    """Images of an IDX3 file: uint8 ``(count, 28, 28)``, 0 = background, 255 = full ink."""
    return _read(path, IMAGES_MAGIC, (ROWS, COLS), "image", count)


def read_labels(path, count=None):
    """Labels of an IDX1 file: uint8 ``(count,)``, each in 0..9."""
    labels = _read(path, LABELS_MAGIC, (), "label", count)
    if labels.size and labels.max() >= NUM_CLASSES:
        bad = np.flatnonzero(labels >= NUM_CLASSES)
        raise IDXError(f"{Path(path)}: {bad.size} label(s) outside 0..{NUM_CLASSES - 1}, first "
                       f"{int(labels[bad[0]])} at index {int(bad[0])}")
    return labels


def read_split(images_path, labels_path, count):
    """One split (train or test): images ``(count, 28, 28)`` and labels ``(count,)``, both uint8.

    Both headers must announce exactly ``count`` items, so images and labels pair up one to one.
    """
    return read_images(images_path, count), read_labels(labels_path, count)
