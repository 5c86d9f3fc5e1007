"""The reliability tests' figures (test_faults, test_crash): a pytest plugin
that tables what they tried. (Their boots are harness.VolumeNode and
harness.NetNode.)"""

import json
import os


# -- the figures: a pytest plugin that tables what the reliability tests tried ---------


class Report:
    """Registered by the first reliability test of a session (report()
    fixture below). Each case tags itself with (table, row, column) through
    user_properties; at the end of the session every table is printed with
    its totals: tried, passed. NODEAGENT_REPORT_DIR, when set, also gets
    each table as <table>.json (the README's figures come from there)."""

    name = "nodeagent-reliability-report"

    def __init__(self):
        self.tables = {}       # table -> {(row, column): passed}
        self.notes = {}        # table -> [lines]

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        tag = props.get("reliability")
        for note in (v for k, v in report.user_properties if k == "reliability_note"):
            if report.when == "call":
                self.notes.setdefault(note[0], []).append(note[1])
        if not tag:
            return
        table, row, column = tag
        cells = self.tables.setdefault(table, {})
        if report.skipped:
            # An expected failure (a known gap) is tried, not passed.
            if hasattr(report, "wasxfail"):
                cells[(row, column)] = "known gap"
            return
        if report.when == "call":
            cells[(row, column)] = report.passed
        elif report.failed:          # setup or teardown
            cells[(row, column)] = False

    @staticmethod
    def totals(cells):
        return len(cells), sum(1 for ok in cells.values() if ok is True)

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        out = os.environ.get("NODEAGENT_REPORT_DIR")
        for table, cells in sorted(self.tables.items()):
            tried, passed = self.totals(cells)
            rows = {}
            for (row, column), ok in cells.items():
                rows.setdefault(row, {})[column] = ok
            tr.section(table)
            tr.write_line(f"{'':<30} {'tried':>5} {'passed':>6}  (x: failed, ~: known gap)")
            for row, cols in sorted(rows.items()):
                ok = sum(1 for v in cols.values() if v is True)
                names = " ".join(c if v is True else (f"~{c}" if v == "known gap" else f"x:{c}")
                                 for c, v in sorted(cols.items()))
                tr.write_line(f"{row:<30} {len(cols):>5} {ok:>6}  {names}")
            for line in self.notes.get(table, []):
                tr.write_line(line)
            gaps = sum(1 for v in cells.values() if v == "known gap")
            tr.write_line(f"{table}: {tried} tried, {passed} passed" + (f", {gaps} known gap(s) (~)" if gaps else ""))
            if out:
                os.makedirs(out, exist_ok=True)
                with open(os.path.join(out, table.replace(" ", "-") + ".json"), "w") as f:
                    json.dump({"table": table, "tried": tried, "passed": passed,
                           "known_gaps": sum(1 for v in cells.values() if v == "known gap"),
                               "notes": self.notes.get(table, []),
                               "rows": {r: c for r, c in sorted(rows.items())}}, f, indent=1)


def register_report(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin(Report.name):
        pm.register(Report(), Report.name)

    def tag(table, row, column):
        request.node.user_properties.append(("reliability", (table, row, column)))

    def note(table, line):
        request.node.user_properties.append(("reliability_note", (table, line)))
    tag.note = note
    return tag
