#!/usr/bin/env python3
"""Plays systemd's part in socket activation, for the tests (ServiceTests) and by hand.

    socket-activate.py [--kind tcp|udp|bound] [--pid child|other] [--journal] -- COMMAND...

Like a socket unit: makes a socket on 127.0.0.1 (a kernel-chosen port, printed first on
stdout as "port N"), then starts COMMAND with it as descriptor 3, LISTEN_FDS=1 and
LISTEN_PID=COMMAND's process ID, exactly as systemd does (sd_listen_fds(3)). It keeps its
own copy of the socket, as systemd does, forwards SIGTERM and SIGINT to COMMAND, and when
COMMAND has ended says on stdout whether the socket still listens ("manager: socket still
listening"): a service must leave the manager's socket usable for the next start.

  --kind tcp     a listening TCP socket (the default; what ListenStream= passes)
  --kind udp     a datagram socket (a unit's ListenDatagram=: to be refused)
  --kind bound   a bound TCP socket that does not listen (to be refused)
  --pid other    LISTEN_PID names another process (the variables are not for COMMAND)
  --journal      JOURNAL_STREAM names COMMAND's stderr, as for a service logging to the
                 journal (StandardError=journal)
"""
import argparse
import os
import signal
import socket
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["tcp", "udp", "bound"], default="tcp")
    parser.add_argument("--pid", choices=["child", "other"], default="child")
    parser.add_argument("--journal", action="store_true")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()

    kind = socket.SOCK_DGRAM if args.kind == "udp" else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    if args.kind == "tcp":
        sock.listen(128)
    port = sock.getsockname()[1]
    print(f"port {port}", flush=True)

    child = os.fork()
    if child == 0:
        if sock.fileno() != 3:
            os.dup2(sock.fileno(), 3)
        # dup2 onto itself (the socket may already be descriptor 3) keeps Python's
        # close-on-exec: clear it, as systemd passes the descriptor open.
        os.set_inheritable(3, True)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid() if args.pid == "child" else os.getppid())
        if args.journal:
            info = os.fstat(2)
            os.environ["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        try:
            os.execvp(args.command[0], args.command)
        finally:
            os._exit(127)

    def forward(number, _frame):
        os.kill(child, number)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    # A parent may have started us with these blocked (and the child inherits the mask
    # through exec): a manager that cannot be signalled cannot stop its service.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    _, status = os.waitpid(child, 0)

    if args.kind == "tcp":
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        if listening:
            # A connection still completes into the queue, for the next start.
            probe = socket.create_connection(("127.0.0.1", port), timeout=5)
            probe.close()
        print("manager: socket " + ("still listening" if listening else "no longer listening"), flush=True)
    sys.exit(os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0 else 128 - os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
