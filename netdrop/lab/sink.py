"""The lab's slow reader: holds a UDP socket with the smallest receive buffer and never reads it.
Run by `netdrop lab up --scenario rcvbuf` inside the receiver namespace; `lab down` kills it."""
import ctypes
import ctypes.util
import signal
import socket
import sys


def main() -> None:
    ip, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME: what diagnose reports as the owner
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel rounds up to its minimum
    sock.bind((ip, port))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
