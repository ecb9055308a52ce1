"""netfilter-drop: packets a firewall rule dropped, with the likeliest rule."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule, finding
from ..text import exec_prefix, hostport, plural


def explain_netfilter(ctx, g) -> Finding:
    rules = ctx.host.drop_rules(g.netns)
    dport, proto = g.top("dport"), g.top("proto_name")
    hit = [r for r in rules if dport is not None and f"dport {dport}" in r] or rules
    title = (f"{plural(g.count, 'packet', 'packets')} to {hostport(g.top('dst_ip'), dport)} ({proto or '?'}) were "
             "dropped by a netfilter rule")
    explanation = (f"A rule's DROP verdict ended them at {g.location} in netns {g.netns}"
                   + (f"; the matching rule is most likely: {hit[0]}" if hit else
                      "; no nft rule with a drop verdict was found (iptables-legacy? run `iptables-save -c`)") + ".")
    fix = ("change or remove the rule if this traffic is wanted: "
           + (f"`{exec_prefix(g.netns)}nft -a list ruleset` shows it with its handle" if hit else
              f"`{exec_prefix(g.netns)}iptables-save -c` / `nft list ruleset` lists the rules and their counters")
           + ".")
    return finding("netfilter-drop", g, title, explanation, fix,
                    ["drop rules: " + ("; ".join(rules) if rules else "none found with nft")],
                    rules=rules, rule=hit[0] if hit else None, port=dport, protocol=proto)


RULE = Rule("netfilter-drop", ("NETFILTER_DROP",), False, explain_netfilter, unicast_only=False)
