"""One module per cause netdrop can name, each exporting RULE (diagnose/rule.py): the drop reasons it claims and the
function that explains a group of them. Adding a cause = one module here + its lab scenario + tests + docs."""
from . import (backlog_full, ipv6_disabled, mac_mismatch, netfilter_drop, no_socket, not_local, rcvbuf_full,
               rp_filter, unresolved_neighbour)

MODULES = (mac_mismatch, no_socket, rp_filter, netfilter_drop, not_local, unresolved_neighbour, rcvbuf_full,
           backlog_full, ipv6_disabled)
