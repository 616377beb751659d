"""Turns Benchmarks/run.sh's raw lines into a markdown table and an SVG bar chart.
    python3 Benchmarks/report.py RAW OUTDIR
"""
import statistics
import sys
from collections import defaultdict

raw, outdir = sys.argv[1], sys.argv[2]
header = ""
runs = defaultdict(list)  # (scenario, server) -> [dict]
order_scenarios, order_servers = [], []
for line in open(raw):
    if line.startswith("#"):
        header = line[1:].strip()
        continue
    parts = line.split()
    fields = {}
    label_words = []
    for part in parts:
        if "=" in part:
            key, value = part.split("=", 1)
            fields[key] = value
        else:
            label_words.append(part)
    # The scenario label may contain spaces: it is everything between "scenario=" and "rep=".
    scenario = line.split("scenario=", 1)[1].split(" rep=")[0].split(" skipped=")[0].strip()
    server = fields["server"]
    if scenario not in order_scenarios:
        order_scenarios.append(scenario)
    if server not in order_servers:
        order_servers.append(server)
    if "skipped" in fields:
        continue
    runs[(scenario, server)].append(fields)


def median(scenario, server, key):
    values = [float(r[key]) for r in runs.get((scenario, server), []) if key in r]
    return statistics.median(values) if values else None


def metric(scenario):
    scenario = scenario.removeprefix("wss ")  # the wss:// rows measure the same things
    if scenario.startswith("connect"):
        return "handshakes_per_s", "handshakes/s"
    if scenario.startswith("idle"):
        return "bytes_per_connection", "RSS bytes per idle connection"
    if scenario.startswith("fanout"):
        return "fanouts_per_s", "fan-outs/s, each until the last connection has the message"
    return "msgs_per_s", "messages/s"


lines = [f"# Benchmark results", "", f"{header}", "",
         "Server pinned to CPU 0, load generator (Benchmarks/Peers/Sources/loadgen) to CPU 1; median of the runs.",
         "Ratios are against SwiftNIO's NIOWebSocket measured in the same run.", ""]
for scenario in order_scenarios:
    key, unit = metric(scenario)
    lines.append(f"## {scenario} ({unit})")
    lines.append("")
    # With uWebSockets in the run (--uws), every row also says how each server compares with it.
    uws = median(scenario, "uws", key) if "uws" in order_servers else None
    vs_uws = " vs uWS |" if "uws" in order_servers else ""
    vs_uws_align = "---:|" if vs_uws else ""
    if key == "msgs_per_s":
        lines.append(f"| server | messages/s | vs NIO |{vs_uws} p50 µs | p99 µs | p99.9 µs | server CPU µs/msg | errors |")
        lines.append(f"|---|---:|---:|{vs_uws_align}---:|---:|---:|---:|---:|")
    elif key == "handshakes_per_s":
        lines.append(f"| server | handshakes/s | vs NIO |{vs_uws} server CPU µs/handshake | errors |")
        lines.append(f"|---|---:|---:|{vs_uws_align}---:|---:|")
    elif key == "fanouts_per_s":
        lines.append(f"| server | fan-outs/s | vs NIO |{vs_uws} p50 µs to the last | p99 µs | server CPU µs/fan-out | errors |")
        lines.append(f"|---|---:|---:|{vs_uws_align}---:|---:|---:|---:|")
    else:
        lines.append(f"| server | bytes/connection | vs NIO |{vs_uws} connections |")
        lines.append(f"|---|---:|---:|{vs_uws_align}---:|")
    nio = median(scenario, "nio", key)
    baseline_name = "nio"
    if nio is None:  # NIO has no permessage-deflate: compare with Node's ws there
        nio, baseline_name = median(scenario, "node", key), "node"
    if baseline_name != "nio":
        lines[-2] = lines[-2].replace("vs NIO", "vs node")
    header = lines[-2]
    for server in order_servers:
        value = median(scenario, server, key)
        if value is None:
            columns = header.count("|") - 1
            lines.append(f"| {server} | n/a |" + " |" * (columns - 2))
            continue
        ratio = f"{value / nio:.2f}×" if nio else ""
        if vs_uws:
            ratio += f" | {value / uws:.2f}×" if uws else " | "
        if key == "msgs_per_s":
            lines.append(f"| {server} | {value:,.0f} | {ratio} | {median(scenario, server, 'p50_us'):.0f} | {median(scenario, server, 'p99_us'):.0f} | "
                         f"{median(scenario, server, 'p999_us'):.0f} | {median(scenario, server, 'server_cpu_us_per_msg'):.2f} | {median(scenario, server, 'errors'):.0f} |")
        elif key == "handshakes_per_s":
            lines.append(f"| {server} | {value:,.0f} | {ratio} | {median(scenario, server, 'server_cpu_us_per_handshake'):.1f} | {median(scenario, server, 'errors'):.0f} |")
        elif key == "fanouts_per_s":
            lines.append(f"| {server} | {value:,.1f} | {ratio} | {median(scenario, server, 'p50_us'):.0f} | {median(scenario, server, 'p99_us'):.0f} | "
                         f"{median(scenario, server, 'server_cpu_us_per_fanout'):.0f} | {median(scenario, server, 'errors'):.0f} |")
        else:
            lines.append(f"| {server} | {value:,.0f} | {ratio} | {median(scenario, server, 'connections'):.0f} |")
    lines.append("")
open(f"{outdir}/RESULTS.md", "w").write("\n".join(lines) + "\n")

# Chart: throughput of each server relative to NIO, one group of bars per scenario.
colors = {"ours": "#d9480f", "baseline": "#f59f00", "nio": "#1c7ed6", "hummingbird": "#37b24d", "node": "#7048e8", "python": "#868e96", "uws": "#e64980"}
scenarios = [s for s in order_scenarios if not s.removeprefix("wss ").startswith("idle")]
width, bar, gap, top, left, height = 980, 14, 26, 60, 60, 300
group = bar * len(order_servers) + gap
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 110}" font-family="sans-serif" font-size="11">',
       f'<text x="{left}" y="20" font-size="14" font-weight="bold">Throughput relative to SwiftNIO NIOWebSocket (Node ws where NIO has no compression); higher is better</text>',
       f'<text x="{left}" y="38" fill="#555">{header}</text>']
values = {}
for s in scenarios:
    key, _ = metric(s)
    nio = median(s, "nio", key) or median(s, "node", key)
    for server in order_servers:
        v = median(s, server, key)
        values[(s, server)] = (v / nio) if (v is not None and nio) else None
peak = max([v for v in values.values() if v] + [1.0])
scale = height / (peak * 1.1)
svg.append(f'<line x1="{left}" y1="{top + height}" x2="{width - 10}" y2="{top + height}" stroke="#333"/>')
y1 = top + height - 1.0 * scale
svg.append(f'<line x1="{left}" y1="{y1:.1f}" x2="{width - 10}" y2="{y1:.1f}" stroke="#1c7ed6" stroke-dasharray="4 3"/>')
svg.append(f'<text x="{left - 6}" y="{y1 + 4:.1f}" text-anchor="end">1×</text>')
for i, s in enumerate(scenarios):
    x0 = left + 10 + i * group
    for j, server in enumerate(order_servers):
        v = values.get((s, server))
        if v is None:
            continue
        h = v * scale
        x = x0 + j * bar
        svg.append(f'<rect x="{x}" y="{top + height - h:.1f}" width="{bar - 2}" height="{h:.1f}" fill="{colors.get(server, "#999")}"><title>{server}: {v:.2f}×</title></rect>')
        svg.append(f'<text x="{x + (bar - 2) / 2:.1f}" y="{top + height - h - 3:.1f}" text-anchor="middle" font-size="8">{v:.1f}</text>')
    label = s.replace("echo ", "") + ("" if median(s, "nio", metric(s)[0]) else " (vs node)")
    y = top + height + (14 if i % 2 == 0 else 27)  # alternate rows so long labels never collide
    svg.append(f'<text x="{x0 + (group - gap) / 2:.1f}" y="{y}" text-anchor="middle" font-size="9">{label}</text>')
for j, server in enumerate(order_servers):
    x = left + j * 110
    svg.append(f'<rect x="{x}" y="{top + height + 40}" width="12" height="12" fill="{colors.get(server, "#999")}"/>')
    svg.append(f'<text x="{x + 16}" y="{top + height + 50}">{server}</text>')
svg.append("</svg>")
open(f"{outdir}/chart.svg", "w").write("\n".join(svg) + "\n")
print("\n".join(lines))
