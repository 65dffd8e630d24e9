"""Find a data set's four IDX files on disk, or download them into the cache; then load them.

Lookup order (the first place that holds the files wins):

1. ``load_data(path=folder)``: the files directly in ``folder`` or in its data-set subfolder
   (``mnist/``, ``fashion-mnist/``).  If they are not there, that is an error.
2. The folder in the environment variable ``NNSCRATCH_DATA``, same layout.  A folder that does
   not exist, or holds only some of the files, is an error; one that holds none of this data
   set's files is skipped (it may hold only the other data set).
3. The user cache, ``$XDG_CACHE_HOME/nnscratch/<name>/`` (default ``~/.cache/nnscratch/<name>/``).
4. System folders, e.g. Debian's ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST.
5. A download into the cache from the first mirror that answers, checked against the official
   MD5 checksums (done by ``pooch``: temporary file, hash check, then an atomic rename, so a
   failed or corrupted download leaves nothing behind).

A folder may hold the ``.gz`` files or their un-gzipped versions (same names without ``.gz``).
Local files are checked by structure (see ``_idx``), downloads also by checksum.
"""
import os
from pathlib import Path

from . import _idx

ENV_DATA = "NNSCRATCH_DATA"
ENV_MIRROR = "NNSCRATCH_MIRROR"
# Seconds to wait for a server to accept the connection, and then between bytes.
TIMEOUT = (10, 60)

# (images file, labels file, number of items) for the train and test splits, in Keras's order.
SPLITS = (
    ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
)
FILES = tuple(name for images, labels, _ in SPLITS for name in (images, labels))

# The first training labels of each official data set.  Loading one data set and finding the
# other's labels means a folder holds the wrong files (e.g. NNSCRATCH_DATA pointing at mnist/
# while loading Fashion-MNIST); that would otherwise go unnoticed.
FIRST_TRAIN_LABELS = {
    "MNIST": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9),
    "Fashion-MNIST": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4),
}


class DownloadError(ConnectionError):
    """No local copy, and no mirror could be reached (or none had the file)."""


def cache_dir(name):
    """The cache folder for data set ``name``: ``$XDG_CACHE_HOME/nnscratch/<name>``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return base / "nnscratch" / name


def mirrors(default):
    """Base URLs to try in order: ``$NNSCRATCH_MIRROR`` (space-separated) or else ``default``."""
    return os.environ.get(ENV_MIRROR, "").split() or list(default)


def _present(folder):
    """{official .gz name: path of the file actually there (.gz or un-gzipped)} for ``folder``."""
    found = {}
    for name in FILES:
        for candidate in (folder / name, folder / name[:-3]):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _search(folder, subfolders):
    """The first of ``folder/<subfolder>``, ``folder`` holding any of the files: (folder, found)."""
    for where in [folder / sub for sub in subfolders] + [folder]:
        found = _present(where)
        if found:
            return where, found
    return folder, {}


def _files_hint(subfolders=()):
    names = ", ".join(FILES)
    sub = f"; directly or in a {subfolders[0]}/ subfolder" if subfolders else ""
    return f"the four files {names} (gzipped or not{sub})"


def _need_all(found, where, how, fix):
    """Raise unless ``found`` has all four files."""
    missing = [name for name in FILES if name not in found]
    if missing:
        raise ValueError(f"{how} {where} lacks {', '.join(missing)} "
                         f"(found {', '.join(p.name for p in found.values()) or 'nothing'}). "
                         f"{fix}")


def locate(title, name, path=None, subfolders=(), system_folders=(), base_urls=()):
    """Where the four files are: ({official name: path}, fix) or (None, notes) if not on disk.

    ``fix`` tells the user how to repair a bad file from that place; ``notes`` lists the places
    looked at, for the error message if the download fails too.
    """
    subfolders = tuple(subfolders)
    official = f" (the official files are at {base_urls[0]})" if base_urls else ""
    if path is not None:
        folder = Path(path).expanduser()
        fix = f"Pass path= a folder holding {_files_hint(subfolders)}."
        if not folder.is_dir():
            problem = "not a folder" if folder.exists() else "no such folder"
            raise ValueError(f"load_data(path={str(path)!r}): {problem}. {fix}")
        where, found = _search(folder, subfolders)
        _need_all(found, where, "load_data(path=...): folder", fix)
        return found, (f"Replace it with a good copy{official}, or pass path= a folder "
                       f"holding {_files_hint(subfolders)}.")

    notes = []
    env = os.environ.get(ENV_DATA, "")
    if env:
        folder = Path(env).expanduser()
        fix = (f"Point {ENV_DATA} at a folder holding {_files_hint(subfolders)}, "
               f"or unset it to use the cache ({cache_dir(name)}) and download.")
        if not folder.is_dir():
            raise ValueError(f"{ENV_DATA}={env}: no such folder. {fix}")
        where, found = _search(folder, subfolders)
        if found:
            _need_all(found, where, f"{ENV_DATA}: folder", fix)
            return found, f"Replace it with a good copy{official}. {fix}"
        notes.append(f"{ENV_DATA}={env}: no {title} files there "
                     f"(looked in {', '.join(str(folder / s) for s in subfolders)} and {folder})")
    else:
        notes.append(f"{ENV_DATA}: not set")

    cache = cache_dir(name)
    found = _present(cache)
    if len(found) == len(FILES):
        return found, "Delete it; the next load_data() downloads it again."
    notes.append(f"cache {cache}: " + (f"has only {len(found)} of the 4 files" if found
                                       else "empty"))

    for folder in map(Path, system_folders):
        found = _present(folder)
        if len(found) == len(FILES):
            return found, (f"Reinstall the system package that installed {folder}, or set "
                           f"{ENV_DATA} to a folder holding a good copy.")
        notes.append(f"{folder}: " + (f"has only {len(found)} of the 4 files" if found
                                      else "not there"))
    return None, notes


def download(title, name, md5, base_urls):
    """Download whichever of the four files the cache lacks; returns {official name: path}.

    Each file is fetched with ``pooch.retrieve`` from the first of ``base_urls`` that works and
    checked against ``md5[file]``.  A mirror that cannot be reached is not tried again, so a dead
    network fails after one timeout per mirror.  Raises ``ValueError`` on a checksum mismatch (no
    file is kept) and :class:`DownloadError` if no mirror delivered the file.
    """
    import pooch  # imported here: loading local files needs neither pooch nor requests
    import requests

    cache = cache_dir(name)
    found = _present(cache)
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=TIMEOUT)
    dead = set()
    for fname in FILES:
        if fname in found:
            continue
        failures, mismatches = [], []
        for base in base_urls:
            if base in dead:
                continue
            url = base.rstrip("/") + "/" + fname
            try:
                found[fname] = Path(pooch.retrieve(url, known_hash=f"md5:{md5[fname]}",
                                                   fname=fname, path=cache,
                                                   downloader=downloader))
                break
            except ValueError as err:  # pooch's checksum mismatch; it deleted the download
                mismatches.append(f"{url}: {err}")
            except requests.exceptions.HTTPError as err:  # server answered, but not the file
                failures.append(f"{url}: {err}")
            except requests.exceptions.RequestException as err:  # down, refused, timed out
                dead.add(base)
                failures.append(f"{url}: {type(err).__name__}: {err}")
        else:
            if mismatches:
                raise ValueError(f"Downloaded {fname} for {title} does not match its official "
                                 f"checksum, so it was deleted, not saved in {cache}:\n  "
                                 + "\n  ".join(mismatches + failures)
                                 + f"\nTry again later, or put a good copy in {cache} or in "
                                 f"the folder named by {ENV_DATA}.")
            raise DownloadError(f"Could not download {fname} for {title}:\n  "
                                + "\n  ".join(failures or ["no mirror to try"]))
    return found


def load_dataset(title, name, path=None, subfolders=(), system_folders=(), md5=None,
                 base_urls=()):
    """Find (or download) and read a data set: ``((x_train, y_train), (x_test, y_test))``."""
    base_urls = mirrors(base_urls)
    files, fix = locate(title, name, path, subfolders, system_folders, base_urls)
    if files is None:
        notes = fix
        try:
            files = download(title, name, md5, base_urls)
        except DownloadError as err:
            raise DownloadError(
                f"{title} is not on this computer and could not be downloaded.\n"
                f"Looked in:\n  " + "\n  ".join(notes) + f"\n{err}\n"
                f"To use a copy you have, put {_files_hint()} in {cache_dir(name)}, "
                f"or in a folder named by the environment variable {ENV_DATA} (directly or in "
                f"a {subfolders[0]}/ subfolder), or pass load_data(path=<folder>).") from None
        fix = "Delete it; the next load_data() downloads it again."
    try:
        splits = tuple(_idx.read_split(files[images], files[labels], count)
                       for images, labels, count in SPLITS)
    except _idx.IDXError as err:
        raise _idx.IDXError(f"{err}. {fix}") from None
    first = tuple(int(v) for v in splits[0][1][:20])
    for other, labels in FIRST_TRAIN_LABELS.items():
        if other != title and first == labels:
            raise ValueError(f"{files[FILES[1]]}: these are {other}'s labels, but you asked "
                             f"for {title}. Keep each data set in its own subfolder of the "
                             f"data folder ({subfolders[0]}/ for {title}).")
    return splits
