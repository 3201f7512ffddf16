# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
# Ports from the kernel's ephemeral range (what binding port 0 gives) are
# also what every parallel test's port-0 listener and outgoing connection
# draws from, so a port taken there is soon reused; this picks one below
# that range instead, at random, and checks that it can be bound.
import random, socket
lo, hi = 20000, 32000
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        first = int(f.read().split()[0])
    if first - 1000 > lo:
        hi = min(hi, first - 1)
except (OSError, ValueError):
    pass
for _ in range(500):
    port = random.randint(lo, hi)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
