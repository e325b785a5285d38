"""The ``armour`` command: listing (import-light), JSON output, version, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from armour_core import __version__
from armour_core.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_plugins_json_lists_records_with_distributions(capsys):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {(r["kind"], r["name"]): r for r in data["plugins"]}
    assert rows[("dataset", "digits")]["dist"] == "armour-core"
    for row in data["plugins"]:
        assert set(row) >= {"kind", "name", "aliases", "dist", "version", "status", "summary"}
    assert any(d["plugin"] == "builtin" and d["state"] == "ok" for d in data["distributions"])


def test_plugins_table_and_kind_filter(capsys):
    assert main(["plugins", "--kind", "dataset"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["kind", "name", "aliases"]
    assert all(line.startswith("dataset") for line in out[1:] if line.strip() and not line.startswith(" "))
    assert main(["plugins", "--kind", "atack"]) == 2
    assert "not a kind" in capsys.readouterr().err


def test_listing_in_a_fresh_process_never_imports_mindspore():
    code = ("import sys\nfrom armour_core.cli import main\nmain(['plugins', '--json'])\n"
            "print('HEAVY' if 'mindspore' in sys.modules else 'LIGHT', file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().endswith("LIGHT")
    json.loads(proc.stdout)


def test_help_without_command(capsys):
    assert main([]) == 0
    assert "plugins" in capsys.readouterr().out
