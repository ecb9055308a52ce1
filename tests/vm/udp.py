"""UDP for the e1000e scenario, used on both ends of the tap (plain python3: the host's and the guests').

  udp.py send DST PORT COUNT [DONE_DST DONE_PORT]   COUNT datagrams to DST:PORT, then one to DONE_DST:DONE_PORT
  udp.py wait PORT TIMEOUT READY_FILE               bind PORT, write READY_FILE, exit 0 on one datagram (1: timeout)

The "done" datagram goes to an address whose MAC is right, behind the COUNT others on the same link: when it
arrives, the NIC and the kernel have already dealt with every frame before it.
"""
import socket
import sys


def send(dst, port, count, done=None):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(count):
            s.sendto(b"netdrop-e1000e %d" % i, (dst, port))
        if done:
            s.sendto(b"done", done)
    return count


def wait(port, timeout, ready):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", port))
        s.settimeout(timeout)
        with open(ready, "w") as f:
            f.write("bound\n")
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            print("timeout")
            return 1
        print(f"{data.decode(errors='replace')} from {peer[0]}")
        return 0


def main(argv):
    if argv[:1] == ["send"] and len(argv) in (4, 6):
        done = (argv[4], int(argv[5])) if len(argv) == 6 else None
        print(send(argv[1], int(argv[2]), int(argv[3]), done))
        return 0
    if argv[:1] == ["wait"] and len(argv) == 4:
        return wait(int(argv[1]), float(argv[2]), argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
