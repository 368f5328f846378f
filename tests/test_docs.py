"""The README's results tables are made from the committed results files, so a fresh clone can remake them."""
import subprocess
import sys

from tests.helpers import ROOT


def test_every_readme_table_is_made_from_its_results_file():
    result = subprocess.run([sys.executable, "-m", "bench.tables", "--check"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count("<!-- table ") == readme.count("<!-- /table -->") >= 4
