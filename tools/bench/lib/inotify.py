"""Linux inotify through ctypes (the standard library has no binding): the bench
learns the moment a server renames a new playlist into place, without polling."""
import ctypes
import ctypes.util
import os
import select
import struct

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
_EVENT = struct.Struct('iIII')  # wd, mask, cookie, len


class Inotify:
    def __init__(self):
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), 'inotify_init1')
        self.paths = {}

    def watch(self, path, mask=IN_MOVED_TO | IN_CLOSE_WRITE):
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f'inotify_add_watch {path}')
        self.paths[wd] = path
        return wd

    def read(self, timeout):
        """Events within `timeout` seconds: [(directory, name, mask)]."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        try:
            data = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return []
        events, i = [], 0
        while i < len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, i)
            name = data[i + _EVENT.size:i + _EVENT.size + length].rstrip(b'\0').decode()
            events.append((self.paths.get(wd), name, mask))
            i += _EVENT.size + length
        return events

    def close(self):
        os.close(self.fd)
